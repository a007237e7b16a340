"""Lua scripts shipped with the service, registered once per Redis client.

library.lua is prepended to each script, so the batch guard and the position arithmetic exist once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

_LIBRARY = ("library.lua",)


def source(name: str, with_library: bool = True) -> str:
    folder = resources.files("app.state") / "lua"
    text = (folder / name).read_text()
    if with_library:
        text = "\n".join((folder / lib).read_text() for lib in _LIBRARY) + "\n" + text
    return text


@dataclass(frozen=True)
class Scripts:
    gate: AsyncScript
    settle: AsyncScript
    paper_fill: AsyncScript

    @classmethod
    def register(cls, client: aioredis.Redis) -> "Scripts":
        return cls(
            gate=client.register_script(source("gate.lua")),
            settle=client.register_script(source("settle.lua")),
            paper_fill=client.register_script(source("paper_fill.lua")),
        )
