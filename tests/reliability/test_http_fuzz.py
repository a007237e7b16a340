"""Fuzzing the HTTP API of a running service from its own /openapi.json with Schemathesis, every check on:
each answer to a generated request (valid or not, with or without the token) is one the document
describes (status, content type, headers, body schema), none is a 5xx, and every operation that
declares bearer auth refuses a missing or wrong token with 401 JSON (and does nothing)."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import redis

from tests.reliability.figures import record
from tests.reliability.leaks import Secrets, find_leaks, pages
from tests.utils.chaos import durable_redis_server
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, wait_results

MAX_EXAMPLES = 100      # per operation and phase


@pytest.fixture(scope="module")
def api(secrets: Secrets) -> Iterator[ServiceProcess]:
    redis_server = durable_redis_server(secrets.redis_password).start()
    service = ServiceProcess(redis_server.url, name="api-fuzzed", env=secrets.service_env()).start()
    client = redis_server.client()
    publish(client, intent("BTCUSDT", "BUY", quantity=0.002), intent("ETHUSDT", "SELL", quantity=0.05),
            intent("DOGEUSDT", "BUY", quantity=-1))            # books with a fill each side and a rejection
    wait_results(client, 3)
    client.close()
    yield service
    service.kill()
    redis_server.cleanup()


def _operations(service: ServiceProcess) -> dict[tuple[str, str], dict]:
    schema = service.get("/openapi.json").json()
    return {(method.upper(), path): op for path, ops in schema["paths"].items() for method, op in ops.items()}


def test_every_answer_to_a_generated_request_is_one_the_schema_describes(api: ServiceProcess, secrets: Secrets, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{api.url}/openapi.json", "--no-color",
         "--checks", "all", "--mode", "all", "--phases", "examples,coverage,fuzzing",
         "--max-examples", str(MAX_EXAMPLES), "--workers", "1", "--generation-database", "none",
         "-H", f"Authorization: Bearer {secrets.admin_token}",
         "--report", "junit", "--report-junit-path", str(junit)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)   # its cache stays out of the tree
    assert run.returncode == 0, f"schemathesis found failures:\n{run.stdout[-8000:]}\n{run.stderr[-2000:]}"
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    tested = {c.get("name"): [child.tag for child in c] for c in cases}
    expected = {f"{method} {path}" for method, path in _operations(api)}
    assert set(tested) == expected, f"operations not tested: {expected - set(tested)}"
    assert not any(tags for tags in tested.values() if {"failure", "error"} & set(tags))
    assert api.get("/livez").status_code == 200
    assert not find_leaks(secrets, {api.name: api.logs(), **pages(api)})
    generated = re.search(r"(\d+) generated", run.stdout)
    record("http_fuzz", operations=len(tested), test_cases=int(generated.group(1)) if generated else None,
           seed=(re.search(r"Seed: (\d+)", run.stdout) or [None, None])[1])


ADMIN_OUTSIDE_ADMIN = {("DELETE", "/orders/{intent_id}")}   # cancelling an order belongs with the orders


def test_operations_declaring_bearer_auth_refuse_missing_or_wrong_tokens_with_401_json(
        api: ServiceProcess, secrets: Secrets) -> None:
    operations = _operations(api)
    secured = sorted(key for key, op in operations.items() if op.get("security"))
    assert {key for key in secured if not key[1].startswith("/admin/")} == ADMIN_OUTSIDE_ADMIN
    assert not [key for key in operations if key[1].startswith("/admin/") and key not in secured], \
        "an admin operation does not declare its bearer auth"
    token = secrets.admin_token
    wrong = [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {token}x"},
             {"Authorization": f"Bearer {token[:-1]}"}, {"Authorization": f"Basic {token}"},
             {"Authorization": token}, {"X-Admin-Token": token}]
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.post("/admin/trading-state", headers=bearer, json={"state": "ACTIVE"}).status_code == 200
    resting = intent("BTCUSDT", "BUY", quantity=0.002, order_type="LIMIT", price=50000)
    client = redis.Redis.from_url(api.redis_url)
    publish(client, resting)
    assert wait_results(client, 4)[-1]["status"] == "NEW"
    client.close()
    urls = {(method, path): api.url + path.replace("{intent_id}", resting["intent_id"]) for method, path in secured}
    for method, path in secured:
        for headers in wrong:
            refused = httpx.request(method, urls[method, path], headers=headers, json={"state": "HALTED"}, timeout=10)
            assert refused.status_code == 401, (method, path, headers, refused.status_code, refused.text)
            assert refused.headers["content-type"] == "application/json"
            assert refused.json()["error"] == "UNAUTHORIZED" and token not in refused.text
    assert api.get("/admin/trading-state", headers=bearer).json() == {"state": "ACTIVE"}, \
        "a refused request changed the trading state"
    assert api.get(f"/orders/{resting['intent_id']}").json()["order"]["status"] == "NEW", \
        "a refused request canceled the order"
    for method, path in secured:
        allowed = httpx.request(method, urls[method, path], headers=bearer, json={"state": "ACTIVE"}, timeout=10)
        assert allowed.status_code == 200, allowed.text
    assert api.get(f"/orders/{resting['intent_id']}").json()["order"]["status"] == "CANCELED"
    assert not find_leaks(secrets, {api.name: api.logs()})
