"""GET /status and GET /metrics count the same outcomes: one per intent entry answered, duplicates apart."""

from __future__ import annotations

import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.utils.streams import intent, publish, publish_raw, wait_results


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name]


def test_status_and_metrics_count_fills_rejections_and_duplicates_alike(services, redis_url: str) -> None:
    svc = services("counts")
    client = redis.Redis.from_url(redis_url)
    filled, denied = intent("BTCUSDT", "BUY", quantity=0.002), intent("BTCUSDT", "BUY", leverage=50)
    publish(client, filled, denied)
    wait_results(client, 2)
    publish(client, filled, filled, denied)  # each answered with the earlier result, marked duplicate
    publish_raw(client, {"data": "{not json"})
    wait_results(client, 6)
    client.close()

    status = svc.get("/status").json()
    assert {k: status[k] for k in ("received", "filled", "open", "rejected", "failed", "duplicates")} == \
        {"received": 6, "filled": 1, "open": 0, "rejected": 2, "failed": 0, "duplicates": 3}
    text = svc.get("/metrics").text
    results = {(labels["status"], labels["reason"]): value for labels, value in samples(text, "execution_results_total")}
    assert results == {("FILLED", ""): 1, ("REJECTED", "LEVERAGE_LIMIT"): 1, ("REJECTED", "INVALID_INTENT"): 1}
    assert samples(text, "execution_duplicate_intents_total") == [({}, 3)]
    assert sum(results.values()) + 3 == status["received"]
