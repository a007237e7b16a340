"""Chart-to-app contract: run what the rendered chart would run, the way the pod would run it.

The Deployment's command, environment (ConfigMap, Secret, downward API) and probes come from `helm template`
with the default values; only what is bound to the cluster is remapped: `python` is this venv's, the listen
address and port are a free loopback port, and REDIS_HOST/REDIS_PORT point at a local redis-server that
requires the password from the rendered Redis Secret. The helm test pod's own command then publishes an intent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.redis_server import LocalRedis, free_port
from tests.chart.pod_env import port_number, resolve_env
from tests.chart.rendering import NAMESPACE, ROOT, app_container, app_deployment, helm_test_pod

POD_NAME = "rel-execution-5d8f7c6b9-x2k4q"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _command(container: dict[str, Any]) -> list[str]:
    command = container["command"] + container.get("args", [])
    assert command[0] == "python", "the image's python runs the app"
    return [sys.executable, *command[1:]]


def _local_env(env: dict[str, str], redis_port: int, http_port: int, tmp: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**env, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port), "HOST": "127.0.0.1",
            "PORT": str(http_port), "PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp), "TMPDIR": str(tmp),
            "PYTHONDONTWRITEBYTECODE": "1"}


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait_for_200(url: str, deadline_s: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if _status(url) == 200:
            return
        assert proc.poll() is None, f"service exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {deadline_s}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def redis_password(defaults) -> str:
    env = resolve_env(app_container(defaults), defaults, POD_NAME, NAMESPACE)
    assert env["REDIS_PASSWORD"], "the chart gives the app the bundled Redis password"
    return env["REDIS_PASSWORD"]


@pytest.fixture(scope="module")
def chart_redis(redis_password: str) -> Iterator[int]:
    with LocalRedis(password=redis_password) as server:
        yield server.port


@pytest.fixture(scope="module")
def service(defaults, chart_redis: int, tmp_path_factory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("chart-pod")
    container = app_container(defaults)
    env = resolve_env(container, defaults, POD_NAME, NAMESPACE)
    assert env["PORT"] == str(port_number(container, "http")), "the app listens where the probes look"
    http_port = free_port()
    log = tmp / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(_command(container), cwd=ROOT, env=_local_env(env, chart_redis, http_port, tmp),
                                stdout=out, stderr=subprocess.STDOUT)
    info = {"proc": proc, "log": log, "tmp": tmp, "container": container, "http_port": http_port, "env": env}
    yield info
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _probe_url(service: dict[str, Any], probe: str) -> str:
    get = service["container"][probe]["httpGet"]
    assert port_number(service["container"], get["port"]) == int(service["env"]["PORT"])
    return f"http://127.0.0.1:{service['http_port']}{get['path']}"


def test_probes_answer_as_declared(service) -> None:
    container = service["container"]
    startup = container["startupProbe"]
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    _wait_for_200(_probe_url(service, "startupProbe"), budget, service["proc"], service["log"])
    assert _status(_probe_url(service, "livenessProbe")) == 200
    _wait_for_200(_probe_url(service, "readinessProbe"), 30, service["proc"], service["log"])
    for probe in PROBES:
        assert _status(_probe_url(service, probe)) == 200, probe


def test_helm_test_pod_gets_a_filled_result(defaults, service, chart_redis: int) -> None:
    _wait_for_200(_probe_url(service, "readinessProbe"), 30, service["proc"], service["log"])
    container = helm_test_pod(defaults)["spec"]["containers"][0]
    env = resolve_env(container, defaults, "rel-execution-test-send-intent", NAMESPACE)
    proc = subprocess.run(_command(container), cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=_local_env(env, chart_redis, free_port(), service["tmp"]))
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\nservice log:\n{service['log'].read_text()[-3000:]}"
    result = json.loads(proc.stdout)
    assert result["status"] == "FILLED" and result["symbol"] == "BTCUSDT"
    assert result["mode"] == "PAPER" and result["executed_quantity"] == pytest.approx(float(container["args"][container["args"].index("--quantity") + 1]))
    assert result["consumer"] == POD_NAME, "CONSUMER_NAME comes from the pod name"


def test_metrics_served_on_the_scraped_port(defaults, service) -> None:
    monitor_path = "/metrics"
    with urllib.request.urlopen(f"http://127.0.0.1:{service['http_port']}{monitor_path}", timeout=5) as response:
        body = response.read().decode()
    assert "execution_intents_received_total" in body


def test_sigterm_drains_within_the_grace_period(defaults, service, redis_password: str) -> None:
    proc = service["proc"]
    assert proc.poll() is None, service["log"].read_text()[-3000:]
    grace = app_deployment(defaults)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {grace}s after SIGTERM: Kubernetes would SIGKILL it") from None
    log = service["log"].read_text()
    assert code == 0, log[-3000:]
    assert redis_password not in log, "the Redis password leaked into the log"
    assert os.path.getsize(service["log"]) > 0
