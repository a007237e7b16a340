"""A real Prometheus for tests: started on a free loopback port, scraping given targets every second.

    with PrometheusServer(["127.0.0.1:8002"], rule_files=[RULES]) as prom:
        prom.wait_for("execution_consumer_up == 1")
        prom.query('sum(rate(execution_results_total[1m]))')

The binaries come from .tools/bin (installed by .ci/install-tools.sh) or PATH; a missing binary
raises, so a test that needs Prometheus fails instead of being skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"


def tool(name: str) -> str:
    """Path of a command-line tool: the repo's pinned copy first, then PATH."""
    pinned = TOOLS_BIN / name
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return str(pinned)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found in .tools/bin or PATH: run `make tools` (.ci/install-tools.sh)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusError(RuntimeError):
    """Prometheus did not start, or answered a query with an error."""


class PrometheusServer:
    def __init__(self, targets: Iterable[str], *, job: str = "execution", rule_files: Iterable[Path | str] = (),
                 scrape_interval: str = "1s", start_timeout_s: float = 30.0) -> None:
        self.targets = list(targets)
        self.job = job
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.scrape_interval = scrape_interval
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._client = httpx.Client(timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "PrometheusServer":
        binary = tool("prometheus")
        self._dir = tempfile.TemporaryDirectory(prefix="prometheus-")
        work = Path(self._dir.name)
        config = work / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config()))
        self.port = free_port()
        log = (work / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=work)
        log.close()
        self._wait_ready(work / "prometheus.log")
        return self

    def _config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval,
                       "scrape_timeout": self.scrape_interval},
            "rule_files": self.rule_files,
            "scrape_configs": [{"job_name": self.job, "static_configs": [{"targets": self.targets}]}],
        }

    def _wait_ready(self, log: Path) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self._proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if self._client.get(f"{self.url}/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise PrometheusError(f"prometheus not ready after {self.start_timeout_s}s")

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1/<path>; returns ``data`` or raises PrometheusError with Prometheus's error."""
        response = self._client.get(f"{self.url}/api/v1/{path}", params=params)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result list (``[{"metric": {...}, "value": [ts, "v"]}, ...]``)."""
        data = self.api("query", query=expr)
        result = data["result"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return result

    def wait_for(self, expr: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """Poll an instant query until it returns something (scrapes are asynchronous)."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(expr)
            if result or time.monotonic() > deadline:
                if not result:
                    raise PrometheusError(f"no data for {expr!r} after {timeout_s}s")
                return result
            time.sleep(0.25)

    def targets_health(self) -> dict[str, str]:
        """Scrape URL -> health ("up", "down", "unknown") of every active target."""
        return {t["scrapeUrl"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its ``health`` and ``lastError`` after evaluation."""
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self._client.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
