"""Every Redis stream, group and key name the service uses, in one place.

Keys are built from settings (stream names and a prefix are configurable) so that two deployments
can share a Redis without colliding, and tests can use their own names.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keys sit on the ground floor: they read settings but import nothing of the app
    from app.config import Settings


@dataclass(frozen=True)
class Keys:
    prefix: str
    intent_stream: str
    result_stream: str
    dlq_stream: str
    group: str
    order_stream: str
    quote_stream: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "Keys":
        return cls(
            prefix=settings.key_prefix,
            intent_stream=settings.intent_stream,
            result_stream=settings.result_stream,
            dlq_stream=settings.dlq_stream,
            group=settings.consumer_group,
            order_stream=settings.order_stream,
            quote_stream=settings.quote_stream,
        )

    def patterns(self) -> dict[str, str]:
        """Every name built here as a glob pattern (``*`` where a key varies) -> the member building it:
        for telling which kind a key found in Redis is (tests/reliability/test_key_bounds.py, bench/memory.py)."""
        out = {self.intent_stream: "intent_stream", self.result_stream: "result_stream", self.dlq_stream: "dlq_stream",
               self.order_stream: "order_stream", self.quote_stream: "quote_stream"}
        for name, member in inspect.getmembers(type(self)):
            if isinstance(member, property):
                out[getattr(self, name)] = name
            elif inspect.isfunction(member) and not name.startswith("_") and name != "patterns":
                out[getattr(self, name)("*")] = name
        return out

    # -- per intent -----------------------------------------------------------------------------
    def order(self, intent_id: str) -> str:
        """Hash: the order record of one intent: in flight, its state, entry, decision, client order id
        and reservation; once answered, only the result (settle.lua)."""
        return f"{self.prefix}:order:{intent_id}"

    def entry_done(self, entry_id: str) -> str:
        """String: marks an intent stream entry as answered (holds the result entry id)."""
        return f"{self.prefix}:done:{self.intent_stream}:{entry_id}"

    @property
    def inflight(self) -> str:
        """Set of intent ids whose order may be at the exchange without a published result."""
        return f"{self.prefix}:inflight"

    # -- orders followed to their end (app/state/orders.py) ---------------------------------------
    def live(self, intent_id: str) -> str:
        """Hash: an order the venue accepted that is (or was) open, as app/orders/record.py writes it;
        without TTL while open (their number is capped by MAX_OPEN_ORDERS), IDEMPOTENCY_TTL_S once final."""
        return f"{self.prefix}:live:{intent_id}"

    @property
    def open_orders(self) -> str:
        """Sorted set of the intent ids of open orders, scored by creation time (ms)."""
        return f"{self.prefix}:open"

    def book(self, symbol_side: str) -> str:
        """Sorted set per ``<symbol>:<side>``: open LIMIT orders scored by limit price (PAPER matching)."""
        return f"{self.prefix}:book:{symbol_side}"

    @property
    def expiries(self) -> str:
        """Sorted set of open orders with ``expire_after_s``, scored by when they expire (ms)."""
        return f"{self.prefix}:expiries"

    # -- books ----------------------------------------------------------------------------------
    def position(self, symbol: str) -> str:
        return f"{self.prefix}:position:{symbol}"

    @property
    def positions_index(self) -> str:
        """Set of symbols that ever had a position."""
        return f"{self.prefix}:positions"

    @property
    def orders_recent(self) -> str:
        """List of intent ids, newest first, capped."""
        return f"{self.prefix}:orders:recent"

    @property
    def trades(self) -> str:
        """List of trade JSON documents, newest first, capped."""
        return f"{self.prefix}:trades"

    @property
    def counters(self) -> str:
        return f"{self.prefix}:counters"

    # -- risk -----------------------------------------------------------------------------------
    @property
    def trading_state(self) -> str:
        return f"{self.prefix}:risk:trading_state"

    @property
    def reserved(self) -> str:
        """Hash `<symbol>:BUY` / `<symbol>:SELL` -> base quantity (>= 0) that open or in-flight orders
        of that side may still add: each side counts at its worst case, never netted (gate.lua)."""
        return f"{self.prefix}:risk:reserved"

    @property
    def risk_positions(self) -> str:
        """Hash symbol -> signed position quantity, the gate's view of positions."""
        return f"{self.prefix}:risk:positions"

    @property
    def marks(self) -> str:
        """Hash symbol -> last price used for exposure."""
        return f"{self.prefix}:risk:marks"

    def order_rate(self, minute: int) -> str:
        return f"{self.prefix}:risk:orders:{minute}"

    # -- paper exchange -------------------------------------------------------------------------
    @property
    def paper_wallet(self) -> str:
        return f"{self.prefix}:paper:wallet"

    def paper_order(self, client_order_id: str) -> str:
        return f"{self.prefix}:paper:order:{client_order_id}"

    @property
    def paper_order_seq(self) -> str:
        return f"{self.prefix}:paper:order_seq"

    def paper_match(self, quote_id: str) -> str:
        """String with TTL: the fills of the resting orders one quote crossed, as the first replica to
        match it allocated them; every replica books those (app/execution/lifecycle.py)."""
        return f"{self.prefix}:paper:match:{quote_id}"

    # -- binance --------------------------------------------------------------------------------
    def rate_bucket(self, name: str) -> str:
        return f"{self.prefix}:binance:bucket:{name}"

    @property
    def exchange_pause(self) -> str:
        """String with TTL: set while every replica must stay away from the exchange (429/418)."""
        return f"{self.prefix}:binance:pause"

    @property
    def exchange_info(self) -> str:
        return f"{self.prefix}:binance:exchange_info"

    def binance_leverage(self, symbol: str) -> str:
        """String with TTL: the USD-M leverage last set for a symbol, so replicas set it once."""
        return f"{self.prefix}:binance:leverage:{symbol}"

    @property
    def order_poll_lease(self) -> str:
        """String with TTL: the replica that polls Binance's open orders (app/state/lease.py)."""
        return f"{self.prefix}:binance:poll_lease"

    @property
    def order_poll_misses(self) -> str:
        """Hash intent id -> polls in a row that Binance did not know that open order; a field leaves
        when the order is found or marked lost, and the hash expires a day after its last change."""
        return f"{self.prefix}:binance:poll_misses"

    @property
    def reconcile_lease(self) -> str:
        """String with TTL: the replica that reconciles the books with Binance (app/state/lease.py)."""
        return f"{self.prefix}:binance:reconcile_lease"

    @property
    def reconcile_status(self) -> str:
        """Hash with TTL: the last reconciliation round (checked_ms, drift, drift_ms), read by every
        replica's /health; it expires a few intervals after the last round."""
        return f"{self.prefix}:binance:reconcile_status"

    @property
    def user_stream_lease(self) -> str:
        """String with TTL: the replica that holds Binance's user-data stream (app/state/lease.py)."""
        return f"{self.prefix}:binance:stream_lease"

    @property
    def user_stream_live(self) -> str:
        """String with TTL USER_STREAM_SILENCE_S: the user-data stream is connected, caught up and not silent
        (set by its holder on each message; while it exists, polling rests)."""
        return f"{self.prefix}:binance:stream_live"

    @property
    def binance_balances(self) -> str:
        """Hash asset -> wallet balance, and ``updated_ms``, from the user-data stream's ACCOUNT_UPDATEs
        (bounded: its fields are the account's assets)."""
        return f"{self.prefix}:binance:balances"

    def funding_seen(self, event: str) -> str:
        """String with TTL FUNDING_SEEN_S: a funding fee (``<event ms>:<asset>:<symbol>``) already booked,
        so a duplicated ACCOUNT_UPDATE (Binance gives it no id) is booked once."""
        return f"{self.prefix}:binance:funding_seen:{event}"


def reserved_field(symbol: str, side: str) -> str:
    """The field of ``Keys.reserved`` for one side of a symbol (library.lua's reserve builds the same)."""
    return f"{symbol}:{side}"
