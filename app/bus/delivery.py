"""A stream entry as the consumer hands it on: the unit the pipeline works on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Delivery:
    """One stream entry as read, with how many times the group has delivered it."""

    entry_id: str
    fields: dict[Any, Any]
    deliveries: int = 1
