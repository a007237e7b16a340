"""A LIMIT order priced far through the market must not slip past the position limit (issue 11, item 1)."""

from __future__ import annotations

from tests.utils.service import ServiceProcess
from tests.utils.streams import publish_raw, wait_results

# the exact intent from the report: a SELL LIMIT at 100 when PAPER's BTC price is ~95,000
FAR_LIMIT = '{"intent_id":"lb-1","symbol":"BTCUSDT","side":"SELL","quantity":1,"leverage":10,' \
            '"order_type":"LIMIT","price":100,"time_in_force":"IOC"}'


def test_a_limit_order_priced_far_through_the_market_is_rejected_and_books_nothing(services, sync) -> None:
    service: ServiceProcess = services("lb")
    publish_raw(sync, {"data": FAR_LIMIT})
    [result] = wait_results(sync, 1)
    assert (result["intent_id"], result["status"], result["executed_quantity"]) == ("lb-1", "REJECTED", 0.0)
    assert result["reason"] == "EXCHANGE_FILTER" and "PERCENT_PRICE" in result["message"], result
    assert service.get("/positions").json() == {"positions": [], "count": 0}
    assert not sync.keys("exec:paper:order:*")
