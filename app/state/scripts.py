"""Lua scripts shipped with the service, registered once per Redis client.

library.lua is prepended to each script, so the batch guard and the position arithmetic exist once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

_LIBRARY = ("library.lua",)


def source(*names: str, with_library: bool = True) -> str:
    """The script made of ``names`` in order (function files, then a main), after the library."""
    folder = resources.files("app.state") / "lua"
    parts = [*(_LIBRARY if with_library else ()), *names]
    return "\n".join((folder / name).read_text() for name in parts)


@dataclass(frozen=True)
class Scripts:
    gate: AsyncScript
    settle: AsyncScript
    paper_fill: AsyncScript
    gate_paper: AsyncScript  # the gate, booking PAPER orders as it admits them and settling what fills
    order_apply: AsyncScript  # changes to open orders (app/state/orders.py)
    claim: AsyncScript  # an order action's intent id taken in flight (app/state/gate.py)

    @classmethod
    def register(cls, client: aioredis.Redis) -> "Scripts":
        return cls(
            gate=client.register_script(source("gate.lua", "main_gate.lua")),
            settle=client.register_script(source("settle.lua", "main_settle.lua")),
            paper_fill=client.register_script(source("paper_fill.lua", "main_paper_fill.lua")),
            gate_paper=client.register_script(
                source("gate.lua", "paper_fill.lua", "settle.lua", "main_gate_paper.lua")),
            order_apply=client.register_script(source("paper_fill.lua", "order_apply.lua", "main_order_apply.lua")),
            claim=client.register_script(source("claim.lua", with_library=False)),
        )
