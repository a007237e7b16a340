"""`python -m app serve` as a newcomer meets it: which Redis it uses, said at start and while it waits."""

from __future__ import annotations

import json
import time

from app.redis_server import free_port
from tests.utils.service import ServiceProcess

PASSWORD = "s3cret-redis-pw"


def log_lines(service: ServiceProcess) -> list[dict]:
    return [json.loads(line) for line in service.logs().splitlines() if line.startswith("{")]


def wait_for_lines(service: ServiceProcess, needle: str, count: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in log_lines(service) if needle in line["message"]]
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} lines with {needle!r}:\n{service.logs()[-3000:]}")


def test_an_unreachable_redis_is_named_at_start_and_in_every_retry_line() -> None:
    port = free_port()  # nothing listens there
    service = ServiceProcess(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", name="no-redis").start(wait_ready=False)
    try:
        address = f"redis://127.0.0.1:{port}/0"
        retries = wait_for_lines(service, f"redis unavailable at {address} (ConnectionError); retrying in", 3)
        assert all(line["level"] == "WARNING" for line in retries)
        [start] = [line for line in log_lines(service) if line["message"].startswith("execution service starting")]
        assert start["message"].endswith(f" redis={address}")
        assert service.get("/livez").status_code == 200 and service.get("/readyz").status_code == 503
    finally:
        service.kill()
    assert PASSWORD not in service.logs()
