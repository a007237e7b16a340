"""Order actions: intents that cancel or amend orders already placed, instead of placing a new one.

An intent entry with ``action`` CANCEL, CANCEL_ALL or AMEND decodes to an ``OrderAction`` (or an
``InvalidIntent``); app/models/intent.py reads ``action`` and sends such entries here. The fields
are read by the same rules as a new order's (app/models/fields.py); what each action needs is in
docs/contract.md, "Order actions".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.models.fields import (
    MAX_QUANTITY, RESERVED_ID_PREFIX, InvalidIntent, id_text, invalid, number, own_id, parse_timestamp,
    symbol_shape, upper, validated,
)

NEW = "NEW"
ACTIONS = (NEW, "CANCEL", "CANCEL_ALL", "AMEND")
ACTION_MESSAGE = f"action: must be one of {', '.join(ACTIONS)}"
_SIZES = ("notional_usd", "position_size_usd")


@dataclass(frozen=True, slots=True)
class OrderAction:
    entry_id: str
    intent_id: str
    action: str                     # CANCEL | CANCEL_ALL | AMEND
    target_intent_id: str | None    # the intent that placed the order (CANCEL, AMEND)
    symbol: str | None              # CANCEL_ALL: only this symbol's orders; otherwise informative
    price: float | None             # AMEND: the new limit price
    quantity: float | None          # AMEND: the new total quantity (filled part included)
    created_at: float | None
    source: str | None
    strategy: str | None
    trace: dict[str, str]


class ActionBody(BaseModel):
    """The producer's fields of an action; a field that would make the action ambiguous is refused."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    action: Literal["CANCEL", "CANCEL_ALL", "AMEND"]
    intent_id: str | None = None
    target_intent_id: str | None = None
    symbol: str | None = None
    price: float | None = Field(None, gt=0)
    quantity: float | None = Field(None, gt=0, le=MAX_QUANTITY)
    created_at: float | None = None
    source: str | None = Field(None, max_length=128)
    strategy: str | None = Field(None, max_length=128)

    _upper = field_validator("action", "symbol", mode="before")(staticmethod(upper))
    _symbol = field_validator("symbol")(staticmethod(symbol_shape))
    _own_id = field_validator("intent_id", mode="before")(staticmethod(own_id))
    _target = field_validator("target_intent_id", mode="before")(staticmethod(id_text))
    _numbers = field_validator("price", "quantity", mode="before")(staticmethod(number))
    _timestamp = field_validator("created_at", mode="before")(staticmethod(parse_timestamp))

    @model_validator(mode="before")
    @classmethod
    def _no_notional(cls, data: Any) -> Any:
        """A size in USD is not a quantity: silently dropping it would leave the order as it was."""
        if isinstance(data, dict):
            given = next((name for name in _SIZES if name in data), None)
            if given is not None:
                raise ValueError(f"{given}: an order action takes no notional; "
                                 "an AMEND gives the new quantity in the base asset")
        return data

    @model_validator(mode="after")
    def _per_action(self) -> "ActionBody":
        if self.action == "CANCEL_ALL":
            if self.target_intent_id is not None:
                raise ValueError("target_intent_id: CANCEL_ALL takes no target (CANCEL cancels one order)")
        elif self.target_intent_id is None:
            raise ValueError(f"target_intent_id: required for {self.action}")
        if self.action == "AMEND":
            if self.price is None and self.quantity is None:
                raise ValueError("an AMEND needs a new price, a new quantity, or both")
        elif self.price is not None or self.quantity is not None:
            raise ValueError(f"price and quantity: {self.action} withdraws whole orders; "
                             "send an AMEND to change an order's price or quantity")
        return self


def action_of(body: dict[str, Any]) -> str | None:
    """The entry's ``action`` in upper case (NEW when absent), or None when it is none of ACTIONS."""
    action = upper(body.get("action", NEW))
    return action if action in ACTIONS else None


def validate_action(entry_id: str, body: dict[str, Any], trace: dict[str, str]) -> OrderAction | InvalidIntent:
    model = validated(ActionBody, entry_id, body, trace)
    if isinstance(model, InvalidIntent):
        return model
    intent_id = model.intent_id or RESERVED_ID_PREFIX + entry_id
    if intent_id == model.target_intent_id:
        return invalid(entry_id, body, trace, "target_intent_id: an action cannot target itself")
    return OrderAction(
        entry_id=entry_id, intent_id=intent_id, action=model.action, target_intent_id=model.target_intent_id,
        symbol=model.symbol, price=model.price, quantity=model.quantity, created_at=model.created_at,
        source=model.source, strategy=model.strategy, trace=trace,
    )
