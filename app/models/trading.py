"""The trading state every replica obeys: the kill switch set through the admin API.

Plain data on the models floor: the risk checks read it, the Redis store keeps it, the API sets it.
"""

from __future__ import annotations

from enum import StrEnum


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"        # every intent is checked by the limits as usual
    REDUCING = "REDUCING"    # only intents that shrink a position are admitted
    HALTED = "HALTED"        # nothing is admitted
