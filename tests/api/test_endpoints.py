"""Every HTTP endpoint of a real service process, including its JSON errors."""

from __future__ import annotations

import re
from typing import Iterator

import httpx
import jsonschema
import pytest
import redis

from app import __version__
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, wait_results

SECRET_TOKEN = "api-test-admin-token"


@pytest.fixture(scope="module")
def service(redis_server) -> Iterator[tuple[ServiceProcess, redis.Redis, dict]]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    svc = ServiceProcess(redis_server.url, name="api", env={"ADMIN_TOKEN": SECRET_TOKEN}).start()
    body = intent("ETHUSDT", "BUY", quantity=0.05, leverage=2)
    publish(client, body, intent("DOGEUSDT", "BUY", quantity=-1))
    wait_results(client, 2)
    yield svc, client, body
    svc.kill()
    client.close()


def test_root_names_the_service(service) -> None:
    svc, _, _ = service
    assert svc.get("/").json() == {"service": "execution-service", "version": __version__, "mode": "PAPER",
                                   "market": "usdm", "docs": "/docs"}


def test_probes_answer(service) -> None:
    svc, _, _ = service
    assert svc.get("/livez").json() == {"status": "alive"}
    ready = svc.get("/readyz")
    assert ready.status_code == 200 and all(ready.json()["checks"].values())


def test_health_has_the_upstream_shape(service) -> None:
    svc, _, _ = service
    health = svc.get("/health").json()
    assert health["service"] == "execution-service" and health["status"] == "OK"
    assert health["version"] == __version__ and health["mode"] == "PAPER" and health["active_positions"] == 1
    assert [c["name"] for c in health["components"]] == ["redis", "exchange", "consumer", "risk"]
    for component in health["components"]:
        assert set(component) >= {"name", "status", "latency_ms", "message"} and component["status"] == "OK"
    assert health["components"][0]["latency_ms"] > 0
    assert SECRET_TOKEN not in svc.get("/health").text


def test_positions_trades_and_orders(service) -> None:
    svc, _, body = service
    [position] = svc.get("/positions").json()["positions"]
    assert (position["symbol"], position["qty"], position["side"], position["leverage"]) == ("ETHUSDT", 0.05, "LONG", 2)
    [trade] = svc.get("/trades", params={"limit": 5}).json()["trades"]
    assert trade["intent_id"] == body["intent_id"] and trade["quantity"] == 0.05
    orders = svc.get("/orders", params={"limit": 10}).json()
    assert orders["count"] == 1 and orders["orders"][0]["intent_id"] == body["intent_id"]
    order = svc.get(f"/orders/{body['intent_id']}").json()
    assert order["state"] == "DONE" and order["result"]["status"] == "FILLED"
    assert order["client_order_id"] == order["result"]["client_order_id"]


def test_status_counts_outcomes(service) -> None:
    svc, _, _ = service
    status = svc.get("/status").json()
    assert (status["received"], status["filled"], status["rejected"], status["failed"]) == (2, 1, 1, 0)
    assert status["duplicates"] == 0 and status["uptime_s"] > 0 and status["pending"] == 0
    assert status["consumer_lag"] == 0 and status["trading_state"] == "ACTIVE"


def test_metrics_are_prometheus_text(service) -> None:
    svc, _, _ = service
    response = svc.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert 'execution_results_total{reason="",status="FILLED"} 1.0' in response.text
    assert 'execution_results_total{reason="INVALID_INTENT",status="REJECTED"} 1.0' in response.text
    assert "execution_intent_latency_seconds_bucket" in response.text


def test_openapi_and_docs(service) -> None:
    svc, _, _ = service
    paths = svc.get("/openapi.json").json()["paths"]
    assert {"/health", "/positions", "/orders/{intent_id}", "/admin/trading-state", "/status"} <= set(paths)
    assert set(paths["/orders/{intent_id}"]) == {"get", "delete"}
    assert svc.get("/docs").status_code == 200


ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_service_itself(service, page: str) -> None:
    """A cluster without egress must still show the API docs: no CDN, no web font, nothing off the host."""
    svc, _, _ = service
    html = svc.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "openapi.json" in html.text
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html.text)
    assert any(a.endswith(".js") for a in assets), assets
    assert not re.search(r"https?://|//[a-z]", html.text, re.I), "the page refers to another host"
    for asset in assets:
        assert asset.startswith("/"), asset
        served = svc.get(asset)
        assert served.status_code == 200 and len(served.content) > 1000, asset
        kind = ASSET_TYPES[asset[asset.rindex("."):]]
        assert served.headers["content-type"].split(";")[0] in {kind, kind.replace("text/", "application/")}, \
            (asset, served.headers["content-type"])


@pytest.mark.parametrize(("path", "status", "error"), [
    ("/orders/no-such-intent", 404, "ORDER_NOT_FOUND"),
    ("/no/such/route", 404, "NOT_FOUND"),
    ("/trades?limit=0", 422, "INVALID_REQUEST"),
    ("/orders?limit=abc", 422, "INVALID_REQUEST"),
])
def test_errors_are_json_with_a_reason(service, path: str, status: int, error: str) -> None:
    svc, _, _ = service
    response = svc.get(path)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["detail"]


@pytest.mark.parametrize(("method", "path", "operation", "kwargs", "status"), [
    ("GET", "/orders?limit=0", "/orders", {}, 422),
    ("GET", "/trades?limit=0", "/trades", {}, 422),
    ("GET", "/orders/" + "x" * 129, "/orders/{intent_id}", {}, 422),
    ("GET", "/orders/no-such-intent", "/orders/{intent_id}", {}, 404),
    ("GET", "/orders?status=closed", "/orders", {}, 400),
    ("DELETE", "/orders/no-such-intent", "/orders/{intent_id}", {}, 401),
    ("DELETE", "/orders/no-such-intent", "/orders/{intent_id}",
     {"headers": {"Authorization": f"Bearer {SECRET_TOKEN}"}}, 404),
    ("GET", "/admin/trading-state", "/admin/trading-state", {}, 401),
    ("POST", "/admin/trading-state", "/admin/trading-state", {"json": {"state": "ACTIVE"}}, 401),
    ("POST", "/admin/trading-state", "/admin/trading-state",
     {"json": {"state": "SIDEWAYS"}, "headers": {"Authorization": f"Bearer {SECRET_TOKEN}"}}, 422),
])
def test_the_openapi_document_describes_each_error_answer(service, method: str, path: str, operation: str,
                                                          kwargs: dict, status: int) -> None:
    svc, _, _ = service
    document = svc.get("/openapi.json").json()
    response = httpx.request(method, svc.url + path, timeout=5, **kwargs)
    assert response.status_code == status and response.headers["content-type"] == "application/json"
    documented = document["paths"][operation][method.lower()]["responses"]
    assert str(status) in documented, f"{method} {operation} answers {status}, which its document does not list"
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**schema, "components": document["components"]})


def test_wrong_method_names_every_method_the_path_serves(service) -> None:
    svc, _, _ = service
    response = httpx.request("PUT", svc.url + "/admin/trading-state", timeout=5)
    assert response.status_code == 405 and response.json()["error"] == "METHOD_NOT_ALLOWED"
    assert {"GET", "POST"} <= set(response.headers["allow"].replace(" ", "").split(","))


def test_wrong_method_is_json(service) -> None:
    svc, _, _ = service
    response = svc.post("/positions")
    assert response.status_code == 405 and response.json()["error"] == "METHOD_NOT_ALLOWED"


def test_admin_reads_and_sets_the_trading_state(service) -> None:
    svc, client, _ = service
    auth = {"Authorization": f"Bearer {SECRET_TOKEN}"}
    assert svc.get("/admin/trading-state", headers=auth).json() == {"state": "ACTIVE"}
    changed = svc.post("/admin/trading-state", json={"state": "REDUCING", "reason": "test"}, headers=auth)
    assert changed.json() == {"state": "REDUCING", "previous": "ACTIVE"}
    assert client.get("exec:risk:trading_state") == b"REDUCING"
    assert svc.get("/health").json()["status"] == "DEGRADED"
    svc.post("/admin/trading-state", json={"state": "ACTIVE"}, headers=auth)
    assert SECRET_TOKEN not in svc.logs()
