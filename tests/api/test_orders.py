"""Open orders over HTTP on a real service: listing them, reading one, and withdrawing one (admin)."""

from __future__ import annotations

import json
import re
from typing import Iterator

import httpx
import jsonschema
import pytest
import redis

from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, wait_results

TOKEN = "orders-test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIVE_FIELDS = {"intent_id", "client_order_id", "exchange_order_id", "symbol", "side", "order_type", "price",
               "quantity", "status", "executed_quantity", "avg_price", "fee", "fee_asset", "seq", "created_at",
               "expire_at", "mode"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def service(redis_server) -> Iterator[tuple[ServiceProcess, redis.Redis]]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    svc = ServiceProcess(redis_server.url, name="orders-api", env={"ADMIN_TOKEN": TOKEN}).start()
    yield svc, client
    svc.kill()
    client.close()


def answered(client: redis.Redis, body: dict) -> dict:
    """Publish one intent and return its result."""
    before = client.xlen("execution.result")
    publish(client, body)
    result = wait_results(client, before + 1)[-1]
    assert result["intent_id"] == body["intent_id"]
    return result


def resting(client: redis.Redis, **fields) -> dict:
    """A PAPER LIMIT BUY far below the market: it rests (result NEW) with its exposure reserved."""
    body = intent("BTCUSDT", "BUY", quantity=0.002, order_type="LIMIT", price=50000, **fields)
    assert answered(client, body)["status"] == "NEW"
    return body


def events(client: redis.Redis, intent_id: str) -> list[dict]:
    found = [json.loads(fields[b"data"]) for _, fields in client.xrange("execution.order")]
    return [e for e in found if e["intent_id"] == intent_id]


def reserved(client: redis.Redis, symbol: str = "BTCUSDT") -> float:
    return float(client.hget("exec:risk:reserved", symbol) or 0)


def conforms(svc: ServiceProcess, response: httpx.Response, method: str, path: str) -> None:
    """The answer is one the OpenAPI document describes for this operation and status."""
    document = svc.get("/openapi.json").json()
    documented = document["paths"][path][method]["responses"][str(response.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**schema, "components": document["components"]})


def test_open_orders_list_a_resting_limit_order(service) -> None:
    svc, client = service
    body = resting(client, expire_after_s=3600)
    listed = svc.get("/orders", params={"status": "open"})
    assert listed.status_code == 200
    [order] = [o for o in listed.json()["orders"] if o["intent_id"] == body["intent_id"]]
    assert set(order) == LIVE_FIELDS
    assert (order["symbol"], order["side"], order["order_type"], order["status"]) == ("BTCUSDT", "BUY", "LIMIT", "NEW")
    assert (order["price"], order["quantity"], order["executed_quantity"], order["seq"]) == (50000, 0.002, 0, 1)
    assert order["mode"] == "PAPER" and order["avg_price"] is None
    assert ISO.match(order["created_at"]) and ISO.match(order["expire_at"]) and order["expire_at"] > order["created_at"]
    assert svc.get("/orders", params={"status": "open", "symbol": "ETHUSDT"}).json() == {"orders": [], "count": 0}
    assert body["intent_id"] in [o["intent_id"] for o in
                                 svc.get("/orders", params={"status": "open", "symbol": "BTCUSDT"}).json()["orders"]]


def test_without_status_the_recent_records_are_listed_as_before(service) -> None:
    svc, client = service
    body = resting(client)
    recent = svc.get("/orders", params={"limit": 1}).json()
    assert recent["count"] == 1
    [row] = recent["orders"]
    assert row["intent_id"] == body["intent_id"] and row["state"] == "DONE" and row["result"]["status"] == "NEW"
    assert svc.get("/orders", params={"symbol": "ETHUSDT"}).json()["count"] == 0


def test_a_status_other_than_open_is_400_json(service) -> None:
    svc, _ = service
    response = svc.get("/orders", params={"status": "closed"})
    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_STATUS" and "open" in response.json()["detail"]
    conforms(svc, response, "get", "/orders")


def test_one_order_carries_its_live_order(service) -> None:
    svc, client = service
    body = resting(client)
    response = svc.get(f"/orders/{body['intent_id']}")
    found = response.json()
    assert found["state"] == "DONE" and found["result"]["status"] == "NEW"
    assert found["order"]["status"] == "NEW" and found["order"]["client_order_id"] == found["client_order_id"]
    conforms(svc, response, "get", "/orders/{intent_id}")


def test_delete_cancels_an_open_order_and_frees_its_reservation(service) -> None:
    svc, client = service
    body = resting(client)
    held = reserved(client)
    assert held >= 0.002
    response = httpx.delete(f"{svc.url}/orders/{body['intent_id']}", headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text
    canceled = response.json()
    assert (canceled["intent_id"], canceled["status"], canceled["seq"]) == (body["intent_id"], "CANCELED", 2)
    conforms(svc, response, "delete", "/orders/{intent_id}")
    new, end = events(client, body["intent_id"])
    assert (new["status"], end["status"], end["seq"], end["reason"]) == ("NEW", "CANCELED", 2, "HTTP_CANCEL")
    assert reserved(client) == pytest.approx(held - 0.002, abs=1e-12)
    open_ids = [o["intent_id"] for o in svc.get("/orders", params={"status": "open"}).json()["orders"]]
    assert body["intent_id"] not in open_ids
    assert svc.get(f"/orders/{body['intent_id']}").json()["order"]["status"] == "CANCELED"


def test_the_last_cancel_leaves_nothing_reserved(service) -> None:
    svc, client = service
    for order in svc.get("/orders", params={"status": "open"}).json()["orders"]:
        assert httpx.delete(f"{svc.url}/orders/{order['intent_id']}", headers=AUTH, timeout=5).status_code == 200
    assert svc.get("/orders", params={"status": "open"}).json()["count"] == 0
    assert reserved(client) == 0


def test_delete_of_an_order_that_is_not_open_is_409_naming_its_status(service) -> None:
    svc, client = service
    body = resting(client)
    assert httpx.delete(f"{svc.url}/orders/{body['intent_id']}", headers=AUTH, timeout=5).status_code == 200
    again = httpx.delete(f"{svc.url}/orders/{body['intent_id']}", headers=AUTH, timeout=5)
    assert again.status_code == 409 and again.json()["error"] == "ORDER_NOT_OPEN"
    assert "CANCELED" in again.json()["detail"]
    conforms(svc, again, "delete", "/orders/{intent_id}")
    market = intent("ETHUSDT", "BUY", quantity=0.05)
    assert answered(client, market)["status"] == "FILLED"
    filled = httpx.delete(f"{svc.url}/orders/{market['intent_id']}", headers=AUTH, timeout=5)
    assert filled.status_code == 409 and "FILLED" in filled.json()["detail"]


def test_delete_of_an_unknown_order_is_404(service) -> None:
    svc, _ = service
    response = httpx.delete(f"{svc.url}/orders/no-such-intent", headers=AUTH, timeout=5)
    assert response.status_code == 404 and response.json()["error"] == "ORDER_NOT_FOUND"
    conforms(svc, response, "delete", "/orders/{intent_id}")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_delete_without_the_token_is_401_and_cancels_nothing(service, headers: dict) -> None:
    svc, client = service
    body = resting(client)
    response = httpx.delete(f"{svc.url}/orders/{body['intent_id']}", headers=headers, timeout=5)
    assert response.status_code == 401 and response.json()["error"] == "UNAUTHORIZED"
    assert response.headers["www-authenticate"] == "Bearer"
    conforms(svc, response, "delete", "/orders/{intent_id}")
    assert svc.get(f"/orders/{body['intent_id']}").json()["order"]["status"] == "NEW"
    assert TOKEN not in svc.logs()


def test_delete_is_403_when_admin_endpoints_are_disabled(service) -> None:
    _, client = service
    body = resting(client)
    svc = ServiceProcess(service[0].redis_url, name="no-admin").start()
    try:
        response = httpx.delete(f"{svc.url}/orders/{body['intent_id']}", headers=AUTH, timeout=5)
        assert response.status_code == 403 and response.json()["error"] == "ADMIN_DISABLED"
        assert svc.get(f"/orders/{body['intent_id']}").json()["order"]["status"] == "NEW"
    finally:
        svc.kill()
