"""No API key or secret in any log line, exception text, health output or report, whatever fails."""

from __future__ import annotations

import logging
import traceback

import pytest

from app.exchange.base import OutcomeUnknown
from app.exchange.binance.adapter import ExchangeStartError, ExchangeUnavailable
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.support import order
from tests.fakes.binance_server import FakeBinance


def texts_of(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


async def test_credentials_never_appear_in_logs_errors_health_or_reports(
        make_adapter: MakeAdapter, fake: FakeBinance, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key, secret = fake.api_key, fake.api_secret
    seen: list[str] = []

    wrong = await make_adapter(start=False, binance_api_secret=secret[::-1])
    with pytest.raises(ExchangeStartError) as failed_start:
        await wrong.start()
    seen += [texts_of(failed_start.value), wrong.health().message, str(wrong.health().details)]

    adapter = await make_adapter(binance_request_timeout_s=0.3, max_intent_age_s=1.0)
    await adapter.quote("BTCUSDT")
    fake.faults.fail_after_create = 1
    fake.faults.timeout_after_create = 1
    reports = [await adapter.place_order(order("ex-s-1")), await adapter.place_order(order("ex-s-2"))]
    fake.faults.latency_s = 1.0
    with pytest.raises(OutcomeUnknown) as unknown:
        await adapter.place_order(order("ex-s-3"))
    with pytest.raises(ExchangeUnavailable) as no_quote:
        await adapter.quote("ETHUSDT")
    fake.faults.latency_s = 0.0
    fake.ban(3.0)
    reports.append(await adapter.place_order(order("ex-s-4")))
    fake.api_key = "revoked"
    with pytest.raises(OutcomeUnknown) as lookup:
        await adapter.query_order("BTCUSDT", "ex-s-1")
    seen += [texts_of(unknown.value), texts_of(no_quote.value), texts_of(lookup.value)]
    seen += [r.message for r in reports] + [adapter.health().message, str(adapter.health().details)]
    seen.append(caplog.text)

    everything = "\n".join(seen)
    assert "credentials rejected" in everything or "-1022" in everything   # the failures really happened
    assert "ban" in everything and "outcome" in everything
    assert key not in everything and secret not in everything
