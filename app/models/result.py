"""The outcome published to the result stream: one per intent entry, documented in docs/contract.md."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Status(StrEnum):
    FILLED = "FILLED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    NEW = "NEW"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"    # a CANCEL or CANCEL_ALL intent withdrew its order(s)
    AMENDED = "AMENDED"      # an AMEND intent changed its order's price or quantity


class Reason(StrEnum):
    """Machine codes on every result that is not a complete fill."""

    INVALID_INTENT = "INVALID_INTENT"
    SYMBOL_NOT_ALLOWED = "SYMBOL_NOT_ALLOWED"
    LEVERAGE_LIMIT = "LEVERAGE_LIMIT"
    POSITION_LIMIT = "POSITION_LIMIT"
    EXPOSURE_LIMIT = "EXPOSURE_LIMIT"
    ORDER_RATE_LIMIT = "ORDER_RATE_LIMIT"
    RATE_LIMITED = "RATE_LIMITED"
    INTENT_EXPIRED = "INTENT_EXPIRED"
    INTENT_FROM_FUTURE = "INTENT_FROM_FUTURE"
    TRADING_HALTED = "TRADING_HALTED"
    REDUCE_ONLY = "REDUCE_ONLY"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    EXCHANGE_FILTER = "EXCHANGE_FILTER"
    EXCHANGE_REJECTED = "EXCHANGE_REJECTED"
    EXCHANGE_UNAVAILABLE = "EXCHANGE_UNAVAILABLE"
    EXCHANGE_AUTH = "EXCHANGE_AUTH"
    PARTIAL_FILL = "PARTIAL_FILL"
    ORDER_OPEN = "ORDER_OPEN"
    ORDER_CANCELED = "ORDER_CANCELED"
    DEAD_LETTER = "DEAD_LETTER"
    ORDER_NOT_OPEN = "ORDER_NOT_OPEN"            # a CANCEL/AMEND target unknown, not ours, or already final
    AMEND_BELOW_FILLED = "AMEND_BELOW_FILLED"    # an AMEND's quantity not above what already filled
    OPEN_ORDER_LIMIT = "OPEN_ORDER_LIMIT"        # MAX_OPEN_ORDERS orders are open: no LIMIT GTC order may rest


class Result(BaseModel):
    model_config = ConfigDict(use_enum_values=True)

    intent_id: str
    intent_entry_id: str
    status: Status
    reason: Reason | None = None
    message: str = ""
    mode: str
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    requested_quantity: float | None = None
    requested_notional_usd: float | None = None
    executed_quantity: float = 0.0
    avg_price: float | None = None
    notional_usd: float = 0.0
    fee: float = 0.0
    fee_asset: str | None = None
    exchange_order_id: str | None = None
    client_order_id: str | None = None
    leverage: int | None = None
    reduce_only: bool | None = None
    exchange_code: int | None = None
    exchange_message: str | None = None
    source: str | None = None
    strategy: str | None = None
    confidence: float | None = None
    received_at: str
    executed_at: str
    latency_ms: float
    duplicate: bool = False
    consumer: str | None = None
    action: str | None = None                   # the intent's action when it is not NEW
    target_intent_id: str | None = None         # the order a CANCEL or AMEND named
    remaining_quantity: float | None = None     # the open quantity a cancel withdrew
    canceled_count: int | None = None           # how many orders a CANCEL_ALL canceled

    @classmethod
    def trusted(cls, **values: object) -> "Result":
        """Build from values the pipeline computed itself, without validating them again.

        On the hot path, validating some thirty fields per intent cost more than everything else
        in building a result; tests/execution/test_results.py and tests/docs hold every builder's
        output to the published schema instead.
        """
        result = cls.__new__(cls)
        object.__setattr__(result, "__dict__", {name: values.get(name, default) for name, default in _DEFAULTS.items()})
        object.__setattr__(result, "__pydantic_fields_set__", set(values))
        object.__setattr__(result, "__pydantic_extra__", None)
        object.__setattr__(result, "__pydantic_private__", None)
        return result

    @property
    def is_fill(self) -> bool:
        return self.status in (Status.FILLED, Status.PARTIALLY_FILLED)


# every field in declaration order (the order results are written in), None for the required ones
_DEFAULTS = {name: None if field.is_required() else field.default for name, field in Result.model_fields.items()}
