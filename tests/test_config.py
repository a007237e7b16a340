"""Settings from the environment: defaults, one-line errors naming the variable, LIVE safety, secrets."""

from __future__ import annotations

import os
import socket

import pytest
from redis.asyncio import ConnectionPool

from app.config import DEFAULT_SYMBOLS, Market, Mode, Settings, SettingsError, load_settings

API_KEY = "k3y-Binance-0123456789abcdef"
API_SECRET = 's3cr3t-"Binance"\\ApiSecret-0123456789'
REDIS_PASSWORD = "p@ss/word:42#?&="
ADMIN_TOKEN = "adm1n-t0ken-do-not-print"
SECRETS = (API_KEY, API_SECRET, REDIS_PASSWORD, ADMIN_TOKEN)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's environment must not leak into these tests: drop every variable Settings reads."""
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)


def from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Load settings the way the service does at start-up: from the process environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_defaults_match_the_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    s = from_env(monkeypatch)
    assert s.execution_mode is Mode.PAPER
    assert s.binance_market is Market.USDM
    assert s.max_position_usd == 1000
    assert s.max_leverage == 10
    assert s.allowed_symbols == ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT",
                                 "DOGEUSDT", "AVAXUSDT", "DOTUSDT", "MATICUSDT")
    assert ",".join(s.allowed_symbols) == DEFAULT_SYMBOLS
    assert s.binance_rate_limit_rpm == 1200
    assert s.log_level == "INFO"
    assert s.port == 8002
    assert s.host == "0.0.0.0"
    assert s.intent_stream == "trade.intent"
    assert s.result_stream == "execution.result"
    assert s.dlq_stream == "trade.intent.dlq"
    assert (s.paper_price_source, s.quote_stream) == ("static", "market.quotes")
    assert s.consumer_group == "execution"
    assert s.consumer_name == socket.gethostname()
    assert s.drain_timeout_s == 20
    assert s.live_trading_confirmed is False
    assert s.binance_api_key is None and s.binance_api_secret is None and s.admin_token is None
    assert s.redis_dsn == "redis://localhost:6379/0"
    assert s.paper_futures_fee_rate == 0.0004 and s.paper_spot_fee_rate == 0.001
    assert s.fee_rate == 0.0004
    assert s.max_intent_age_s > 0 and s.paper_balance_usd > 0


def test_mapping_and_process_environment_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"MAX_LEVERAGE": "20", "ALLOWED_SYMBOLS": "btcusdt, ethusdt", "PAPER_PRICES": "BTCUSDT=65000,ethusdt=3500.5",
           "EXECUTION_MODE": "paper", "BINANCE_MARKET": "SPOT", "LOG_LEVEL": "debug", "PORT": "9000"}
    mapped = load_settings(env, consumer_name="x")
    environ = from_env(monkeypatch, **env, CONSUMER_NAME="x")
    assert mapped == environ
    assert environ.max_leverage == 20
    assert environ.allowed_symbols == ("BTCUSDT", "ETHUSDT")
    assert environ.paper_prices == {"BTCUSDT": 65000.0, "ETHUSDT": 3500.5}
    assert environ.execution_mode is Mode.PAPER
    assert environ.binance_market is Market.SPOT
    assert environ.fee_rate == 0.001
    assert environ.log_level == "DEBUG"
    assert environ.port == 9000


def test_keyword_overrides_win_over_the_mapping() -> None:
    s = load_settings({"MAX_LEVERAGE": "20", "UNRELATED_VARIABLE": "ignored"}, max_leverage=3)
    assert s.max_leverage == 3


def test_settings_are_frozen() -> None:
    s = load_settings({})
    with pytest.raises(Exception):
        s.max_leverage = 50  # type: ignore[misc]
    assert s.max_leverage == 10


INVALID = [
    ("REDIS_PORT", "0"), ("REDIS_PORT", "65536"), ("REDIS_PORT", "six"), ("REDIS_DB", "16"), ("REDIS_DB", "-1"),
    ("EXECUTION_MODE", "DEMO"), ("BINANCE_MARKET", "coinm"), ("BINANCE_RATE_LIMIT_RPM", "0"),
    ("BINANCE_ORDERS_PER_10S", "0"), ("BINANCE_RECV_WINDOW_MS", "60001"), ("BINANCE_REQUEST_TIMEOUT_S", "0"),
    ("MAX_POSITION_USD", "0"), ("MAX_POSITION_USD", "-5"), ("MAX_POSITION_USD", "lots"),
    ("MAX_TOTAL_EXPOSURE_USD", "0"), ("MAX_LEVERAGE", "0"), ("MAX_LEVERAGE", "126"), ("MAX_LEVERAGE", "2.5"),
    ("MAX_ORDERS_PER_MINUTE", "-1"), ("MAX_INTENT_AGE_S", "-1"), ("MAX_CLOCK_SKEW_S", "-1"),
    ("MAX_CLOCK_SKEW_S", "inf"), ("MAX_INTENT_BYTES", "100"),
    ("MAX_ORDER_NOTIONAL_USD", "0"), ("ALLOWED_SYMBOLS", ""), ("ALLOWED_SYMBOLS", ","),
    ("ALLOWED_SYMBOLS", "BTC-USDT,ETHUSDT"), ("PAPER_BALANCE_USD", "-1"), ("PAPER_PRICES", "BTCUSDT"),
    ("PAPER_PRICES", "BTCUSDT=abc"), ("PAPER_PRICES", "BTCUSDT=-1"), ("PAPER_PRICES", "BTCUSDT=inf"),
    ("PAPER_PRICES", "BTCUSDT=nan"), ("PAPER_SLIPPAGE_BPS", "-1"), ("PAPER_SPREAD_BPS", "1001"),
    ("PAPER_FUTURES_FEE_RATE", "0.5"), ("PAPER_SPOT_FEE_RATE", "-0.001"), ("PAPER_PRICE_SOURCE", "coingecko"),
    ("LOG_LEVEL", "VERBOSE"), ("PORT", "0"), ("PORT", "70000"), ("INTENT_STREAM", ""), ("RESULT_STREAM", ""),
    ("QUOTE_STREAM", ""), ("CONSUMER_GROUP", ""), ("CONSUMER_NAME", ""), ("KEY_PREFIX", ""), ("READ_BATCH_SIZE", "0"),
    ("READ_BLOCK_MS", "5000"), ("CLAIM_MIN_IDLE_MS", "10"), ("CLAIM_INTERVAL_S", "0"), ("MAX_DELIVERIES", "0"),
    ("STREAM_MAXLEN", "10"), ("IDEMPOTENCY_TTL_S", "1"), ("DRAIN_TIMEOUT_S", "0"), ("DRAIN_TIMEOUT_S", "601"),
    ("LIVENESS_STALL_S", "1"), ("HISTORY_LIMIT", "1"), ("LIVE_TRADING_CONFIRMED", "maybe"),
    ("MAX_REQUEST_BODY_BYTES", "1023"), ("MAX_REQUEST_BODY_BYTES", "64k"), ("MAX_REQUEST_HEADER_BYTES", "0"),
    ("MAX_REQUEST_HEADER_BYTES", "2097152"),
]


@pytest.mark.parametrize(("name", "value"), INVALID, ids=[f"{n}={v}" for n, v in INVALID])
def test_an_invalid_value_stops_with_one_line_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, **{name: value})
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(f"invalid setting {name}: ")
    assert len(line) > len(f"invalid setting {name}: ") + 5, "the line must say what is wrong"


@pytest.mark.parametrize("name", ["REDIS_PORT", "MAX_LEVERAGE", "EXECUTION_MODE", "LOG_LEVEL", "PORT",
                                  "BINANCE_MARKET", "LIVE_TRADING_CONFIRMED", "PAPER_PRICE_SOURCE"])
def test_the_invalid_value_itself_is_never_echoed(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, **{name: "hunter2-value"})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("mode", ["TESTNET", "LIVE"])
@pytest.mark.parametrize(("present", "missing"), [
    ({}, "BINANCE_API_KEY"),
    ({"BINANCE_API_KEY": API_KEY}, "BINANCE_API_SECRET"),
    ({"BINANCE_API_SECRET": API_SECRET}, "BINANCE_API_KEY"),
    ({"BINANCE_API_KEY": "   ", "BINANCE_API_SECRET": API_SECRET}, "BINANCE_API_KEY"),
])
def test_exchange_modes_need_both_keys(monkeypatch: pytest.MonkeyPatch, mode: str, present: dict[str, str],
                                       missing: str) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, EXECUTION_MODE=mode, LIVE_TRADING_CONFIRMED="true", **present)
    line = str(caught.value)
    assert line.startswith(f"invalid setting {missing}: required when EXECUTION_MODE={mode}")
    assert "\n" not in line
    assert not any(secret in line for secret in SECRETS)


def test_testnet_with_keys_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    s = from_env(monkeypatch, EXECUTION_MODE="testnet", BINANCE_API_KEY=API_KEY, BINANCE_API_SECRET=API_SECRET)
    assert s.execution_mode is Mode.TESTNET
    assert s.binance_api_key is not None and s.binance_api_key.get_secret_value() == API_KEY


@pytest.mark.parametrize("confirmation", [None, "false", "0", "no"])
def test_live_refuses_without_the_confirmation(monkeypatch: pytest.MonkeyPatch, confirmation: str | None) -> None:
    env = {"EXECUTION_MODE": "LIVE", "BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET}
    if confirmation is not None:
        env["LIVE_TRADING_CONFIRMED"] = confirmation
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, **env)
    line = str(caught.value)
    assert line.startswith("invalid setting LIVE_TRADING_CONFIRMED: ")
    assert "LIVE_TRADING_CONFIRMED=true" in line
    assert not any(secret in line for secret in SECRETS)


@pytest.mark.parametrize("confirmation", ["true", "1", "yes", "TRUE"])
def test_live_starts_with_keys_and_the_confirmation(monkeypatch: pytest.MonkeyPatch, confirmation: str) -> None:
    s = from_env(monkeypatch, EXECUTION_MODE="LIVE", BINANCE_API_KEY=API_KEY, BINANCE_API_SECRET=API_SECRET,
                 LIVE_TRADING_CONFIRMED=confirmation)
    assert s.execution_mode is Mode.LIVE and s.live_trading_confirmed is True


def test_redis_url_is_assembled_from_parts_with_the_password_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    s = from_env(monkeypatch, REDIS_HOST="redis-0.redis", REDIS_PORT="6380", REDIS_DB="3",
                 REDIS_PASSWORD=REDIS_PASSWORD)
    assert s.redis_dsn == "redis://:p%40ss%2Fword%3A42%23%3F%26%3D@redis-0.redis:6380/3"
    kwargs = ConnectionPool.from_url(s.redis_dsn).connection_kwargs
    assert kwargs["password"] == REDIS_PASSWORD
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("redis-0.redis", 6380, 3)


def test_redis_parts_without_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    s = from_env(monkeypatch, REDIS_HOST="redis", REDIS_PORT="6379")
    assert s.redis_dsn == "redis://redis:6379/0"


def test_redis_url_wins_over_the_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    s = from_env(monkeypatch, REDIS_URL="redis://cache:7000/2", REDIS_HOST="ignored", REDIS_PASSWORD="ignored-pw")
    assert s.redis_dsn == "redis://cache:7000/2"


BAD_REDIS_URLS = ["notaurl", "localhost:6379", "http://redis:6379/0", "redis://redis:port/0", "redis://redis:70000/0",
                  "redis://redis:0/0", "redis://redis:6379/zero", "redis:///0", "unix://",
                  "redis://redis:6379/0?socket_timeout=soon"]


@pytest.mark.parametrize("url", BAD_REDIS_URLS)
def test_a_malformed_redis_url_stops_with_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, REDIS_URL=url)
    assert str(caught.value) == "invalid setting REDIS_URL: must look like redis://[:password@]host:port/db " \
                               "(or rediss://…, unix:///path/to/socket)"


def test_a_malformed_redis_url_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, REDIS_URL="redis://:hunter2-pw@redis:hunter3/0")
    assert "hunter" not in str(caught.value)


@pytest.mark.parametrize(("url", "address"), [
    ("redis://:p%40ss@cache:7000/2", "redis://cache:7000/2"),
    ("redis://app-user:pw@cache/0", "redis://cache:6379/0"),
    ("rediss://cache.example:6380", "rediss://cache.example:6380/0"),
    ("redis://[::1]:6380/1?socket_timeout=3", "redis://[::1]:6380/1"),
    ("unix:///run/redis/redis.sock?db=1", "unix:///run/redis/redis.sock"),
])
def test_redis_address_names_where_redis_is_without_credentials(monkeypatch: pytest.MonkeyPatch, url: str,
                                                                address: str) -> None:
    s = from_env(monkeypatch, REDIS_URL=url)
    assert s.redis_dsn == url and s.redis_address == address


def test_redis_address_of_the_parts_has_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_env(monkeypatch).redis_address == "redis://localhost:6379/0"
    s = from_env(monkeypatch, REDIS_HOST="redis-0.redis", REDIS_PORT="6380", REDIS_DB="3", REDIS_PASSWORD=REDIS_PASSWORD)
    assert s.redis_address == "redis://redis-0.redis:6380/3"


def test_dead_letter_stream_follows_the_intent_stream_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_env(monkeypatch, INTENT_STREAM="orders.in").dlq_stream == "orders.in.dlq"
    assert from_env(monkeypatch, DEAD_LETTER_STREAM="poison").dlq_stream == "poison"


def test_secrets_never_appear_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    s = from_env(monkeypatch, EXECUTION_MODE="LIVE", LIVE_TRADING_CONFIRMED="true", BINANCE_API_KEY=API_KEY,
                 BINANCE_API_SECRET=API_SECRET, REDIS_PASSWORD=REDIS_PASSWORD, ADMIN_TOKEN=ADMIN_TOKEN)
    for text in (repr(s), str(s), s.model_dump_json()):
        assert not any(secret in text for secret in SECRETS), text
    assert s.admin_token is not None and s.admin_token.get_secret_value() == ADMIN_TOKEN
    assert s.redis_password is not None and s.redis_password.get_secret_value() == REDIS_PASSWORD


def test_secrets_never_appear_in_an_error_about_another_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, BINANCE_API_KEY=API_KEY, BINANCE_API_SECRET=API_SECRET, REDIS_PASSWORD=REDIS_PASSWORD,
                 ADMIN_TOKEN=ADMIN_TOKEN, MAX_LEVERAGE="many")
    line = str(caught.value)
    assert line.startswith("invalid setting MAX_LEVERAGE: ")
    assert not any(secret in line for secret in SECRETS)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, \
        "the pydantic error (which may hold inputs) must not be chained into tracebacks"


def test_take_over_waits_out_the_exchange_receive_window_on_a_real_venue() -> None:
    paper = load_settings({}, claim_min_idle_ms=1500)
    assert paper.claim_idle_ms == 1500
    testnet = load_settings({}, execution_mode="TESTNET", binance_api_key="k", binance_api_secret="s",
                            claim_min_idle_ms=1500, binance_recv_window_ms=5000)
    assert testnet.claim_idle_ms == 6000
    assert load_settings({}, execution_mode="TESTNET", binance_api_key="k", binance_api_secret="s",
                         claim_min_idle_ms=30_000).claim_idle_ms == 30_000


@pytest.mark.parametrize("value", ["-1", "lots", "1000001"])
def test_outcome_log_rate_is_validated(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, OUTCOME_LOG_MAX_PER_S=value)
    assert str(caught.value).startswith("invalid setting OUTCOME_LOG_MAX_PER_S: ")
    assert from_env(monkeypatch, OUTCOME_LOG_MAX_PER_S="0").outcome_log_max_per_s == 0
