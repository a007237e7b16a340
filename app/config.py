"""Settings, read once from the environment at start-up and passed to whatever needs them.

Every variable is documented in docs/configuration.md. An invalid value stops start-up with one
line naming the variable (``SettingsError``); values are never echoed, so secrets cannot leak.
"""

from __future__ import annotations

import re
import socket
from enum import StrEnum
from typing import Annotated, Any, Mapping
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from redis.connection import parse_url

DEFAULT_SYMBOLS = (
    "BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,ADAUSDT,DOGEUSDT,AVAXUSDT,DOTUSDT,MATICUSDT"
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_URL_FORM = "must look like redis://[:password@]host:port/db (or rediss://…, unix:///path/to/socket)"


class Mode(StrEnum):
    PAPER = "PAPER"
    TESTNET = "TESTNET"
    LIVE = "LIVE"


class Market(StrEnum):
    USDM = "usdm"
    SPOT = "spot"


class OnDrift(StrEnum):
    """What reconciliation does when the books and Binance differ beyond the tolerance."""

    ALERT = "alert"
    REDUCE = "reduce"
    HALT = "halt"


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Redis: REDIS_URL wins; otherwise the URL is assembled from the parts.
    redis_url: str | None = Field(None, repr=False)
    redis_host: str = "localhost"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_db: int = Field(0, ge=0, le=15)
    redis_password: SecretStr | None = None

    execution_mode: Mode = Mode.PAPER
    live_trading_confirmed: bool = False
    binance_api_key: SecretStr | None = None
    binance_api_secret: SecretStr | None = None
    binance_market: Market = Market.USDM
    binance_base_url: str | None = None
    binance_futures_base_url: str | None = None
    binance_rate_limit_rpm: int = Field(1200, ge=1, le=100_000)
    binance_orders_per_10s: int = Field(50, ge=1, le=10_000)
    binance_recv_window_ms: int = Field(5000, ge=1, le=60_000)
    binance_request_timeout_s: float = Field(10.0, gt=0, le=120)
    binance_exchange_info_ttl_s: float = Field(3600.0, gt=0)

    max_position_usd: float = Field(1000.0, gt=0)
    max_total_exposure_usd: float = Field(5000.0, gt=0)
    max_leverage: int = Field(10, ge=1, le=125)
    max_orders_per_minute: int = Field(1200, ge=0)
    max_intent_age_s: float = Field(30.0, ge=0)
    max_clock_skew_s: float = Field(5.0, ge=0, le=3600)
    max_intent_bytes: int = Field(65536, ge=256, le=16 * 1024 * 1024)
    max_order_notional_usd: float = Field(1_000_000.0, gt=0)
    allowed_symbols: Annotated[tuple[str, ...], NoDecode] = tuple(DEFAULT_SYMBOLS.split(","))

    paper_balance_usd: float = Field(10_000.0, ge=0)
    paper_prices: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    paper_slippage_bps: float = Field(1.0, ge=0, le=1000)
    paper_spread_bps: float = Field(1.0, ge=0, le=1000)
    paper_futures_fee_rate: float = Field(0.0004, ge=0, le=0.1)
    paper_spot_fee_rate: float = Field(0.001, ge=0, le=0.1)
    paper_futures_maker_fee_rate: float = Field(0.0002, ge=0, le=0.1)
    paper_spot_maker_fee_rate: float = Field(0.001, ge=0, le=0.1)
    paper_price_source: str = Field("static", pattern="^(static|binance|stream)$")

    log_level: str = "INFO"
    outcome_log_max_per_s: int = Field(100, ge=0, le=1_000_000)
    host: str = "0.0.0.0"
    port: int = Field(8002, ge=1, le=65535)
    admin_token: SecretStr | None = None
    max_request_body_bytes: int = Field(65536, ge=1024, le=16 * 1024 * 1024)
    max_request_header_bytes: int = Field(16384, ge=1024, le=1024 * 1024)

    intent_stream: str = Field("trade.intent", min_length=1)
    result_stream: str = Field("execution.result", min_length=1)
    order_stream: str = Field("execution.order", min_length=1)
    dead_letter_stream: str | None = None
    quote_stream: str = Field("market.quotes", min_length=1)
    consumer_group: str = Field("execution", min_length=1)
    consumer_name: str = Field(default_factory=socket.gethostname, min_length=1)
    key_prefix: str = Field("exec", min_length=1)

    read_batch_size: int = Field(100, ge=1, le=1000)
    read_block_ms: int = Field(1000, ge=1, le=4000)
    batch_concurrency: int = Field(4, ge=1, le=16)
    claim_min_idle_ms: int = Field(30_000, ge=100)
    claim_interval_s: float = Field(5.0, gt=0)
    pending_retry_s: float = Field(1.0, gt=0)
    max_deliveries: int = Field(5, ge=1)
    consumer_idle_cleanup_s: float = Field(3600.0, gt=0)
    stream_maxlen: int = Field(1_000_000, ge=100)
    intent_stream_max_bytes: int = Field(256 * 1024 * 1024, ge=16 * 1024 * 1024)
    idempotency_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    drain_timeout_s: float = Field(20.0, gt=0, le=600)
    liveness_stall_s: float = Field(120.0, ge=5)
    maintenance_interval_s: float = Field(5.0, gt=0)
    history_limit: int = Field(10_000, ge=10)
    max_open_orders: int = Field(1000, ge=1, le=100_000)
    order_sweep_interval_s: float = Field(0.5, gt=0, le=60)
    order_poll_interval_s: float = Field(3.0, gt=0, le=300)
    order_poll_max_weight_share: float = Field(0.25, gt=0, le=1)
    order_lost_after_lookups: int = Field(5, ge=1, le=1000)
    reconcile_interval_s: float = Field(60.0, ge=5, le=3600)
    reconcile_tolerance_qty: float = Field(0.0, ge=0)
    reconcile_on_drift: OnDrift = OnDrift.ALERT
    cancel_on_kill_switch: bool = True
    user_stream_enabled: bool = True
    user_stream_keepalive_s: float = Field(1800.0, ge=1, le=3300)
    user_stream_reconnect_s: float = Field(82800.0, ge=10, le=86000)
    user_stream_silence_s: float = Field(30.0, ge=1, le=3600)
    binance_futures_stream_url: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        """Refuse at start-up what would otherwise fail at the first connection, as a traceback."""
        if value is None or not value.strip():
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
            parse_url(value)  # redis-py's own reading: scheme and query options
        except ValueError:
            raise ValueError(REDIS_URL_FORM) from None  # its messages may quote the value
        if parts.scheme == "unix":
            valid = bool(parts.path)
        else:
            valid = bool((parts.hostname or "").strip()) and port != 0 and re.fullmatch(r"/?\d*", parts.path)
        if not valid:
            raise ValueError(REDIS_URL_FORM)
        return value

    @field_validator("allowed_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", ",").split(",") if part]
        symbols = tuple(str(s).strip().upper() for s in value)
        if not symbols or not all(s.isalnum() for s in symbols):
            raise ValueError("must be a comma-separated list of symbols like BTCUSDT,ETHUSDT")
        return symbols

    @field_validator("paper_prices", mode="before")
    @classmethod
    def _parse_prices(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = [p for p in value.replace(" ", ",").split(",") if p]
            try:
                value = {k.strip().upper(): float(v) for k, v in (p.split("=", 1) for p in pairs)}
            except ValueError:
                raise ValueError("must look like BTCUSDT=65000,ETHUSDT=3500") from None
        if any(not (v > 0 and v < float("inf")) for v in value.values()):
            raise ValueError("prices must be positive numbers")
        return value

    @field_validator("execution_mode", mode="before")
    @classmethod
    def _upper_mode(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("binance_market", mode="before")
    @classmethod
    def _lower_market(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_level(cls, value: Any) -> Any:
        level = str(value).strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @model_validator(mode="after")
    def _check_mode(self) -> "Settings":
        if self.execution_mode is not Mode.PAPER:
            for name in ("binance_api_key", "binance_api_secret"):
                secret = getattr(self, name)
                if secret is None or not secret.get_secret_value().strip():
                    raise ValueError(f"{name.upper()}: required when EXECUTION_MODE={self.execution_mode}")
        if self.execution_mode is Mode.LIVE and not self.live_trading_confirmed:
            raise ValueError(
                "LIVE_TRADING_CONFIRMED: EXECUTION_MODE=LIVE places real orders; "
                "set LIVE_TRADING_CONFIRMED=true to confirm"
            )
        return self

    @property
    def dlq_stream(self) -> str:
        return self.dead_letter_stream or f"{self.intent_stream}.dlq"

    @property
    def kept_intents(self) -> int:
        """How many answered intent entries the intent stream (and the dead-letter stream) keep.

        Entries are counted at their largest accepted size, so the entries kept take at most
        INTENT_STREAM_MAX_BYTES however large producers make them: at 64 KiB a million entries
        would be 64 GiB, while a typical intent is 150 bytes.
        """
        return min(self.stream_maxlen, self.intent_stream_max_bytes // self.max_intent_bytes)

    @property
    def claim_idle_ms(self) -> int:
        """How long an entry must sit idle before another replica may take it over.

        A dead replica's last order request is accepted by Binance only within recvWindow (+1 s of
        clock tolerance) of its timestamp; a look-up after that is final. So on a real venue the
        take-over waits at least that long, whatever CLAIM_MIN_IDLE_MS says, and a look-up never
        misses an order that is still on its way.
        """
        if self.execution_mode is Mode.PAPER:
            return self.claim_min_idle_ms
        return max(self.claim_min_idle_ms, self.binance_recv_window_ms + 1000)

    @property
    def redis_dsn(self) -> str:
        """The Redis URL to connect to (may contain the password: never log it)."""
        if self.redis_url:
            return self.redis_url
        auth = ""
        if self.redis_password is not None:
            auth = ":" + quote(self.redis_password.get_secret_value(), safe="") + "@"
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"

    @property
    def redis_address(self) -> str:
        """Where Redis is, for log lines and messages: the URL without user name or password."""
        if not self.redis_url:
            return f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}"
        parts = urlsplit(self.redis_url)
        if parts.scheme == "unix":
            return f"unix://{parts.path}"
        host = parts.hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme}://{host}:{parts.port or 6379}/{parts.path.strip('/') or 0}"

    @property
    def fee_rate(self) -> float:
        return self.paper_futures_fee_rate if self.binance_market is Market.USDM else self.paper_spot_fee_rate

    @property
    def maker_fee_rate(self) -> float:
        """PAPER's fee for a resting order filled later (it made the book; the taker fee is fee_rate)."""
        return self.paper_futures_maker_fee_rate if self.binance_market is Market.USDM else self.paper_spot_maker_fee_rate


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``env`` (the process environment when None) plus keyword overrides."""
    try:
        if env is None:
            return Settings(**overrides)
        lowered = {k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields}
        return Settings(_env_file=None, **{**lowered, **overrides})  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    err = exc.errors(include_input=False, include_url=False)[0]
    loc = [str(part) for part in err.get("loc", ()) if part != "__root__"]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc:
        return f"invalid setting {loc[0].upper()}: {msg}"
    return f"invalid setting {msg}"
