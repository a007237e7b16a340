"""Lua scripts shipped with the service, registered once per Redis client.

position.lua is a library: it is prepended to the scripts that move positions, so the position
arithmetic exists once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

_LIBRARY = ("position.lua",)


def source(name: str, with_library: bool = False) -> str:
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
            settle=client.register_script(source("settle.lua", with_library=True)),
            paper_fill=client.register_script(source("paper_fill.lua", with_library=True)),
        )
