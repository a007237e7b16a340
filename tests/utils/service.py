"""Run the real service (`python -m app serve`) as a child process on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
# Fast reclaim/cleanup so crash tests finish quickly; each test may override.
TEST_DEFAULTS = {
    "CLAIM_MIN_IDLE_MS": "1500",
    "CLAIM_INTERVAL_S": "0.5",
    "READ_BLOCK_MS": "200",
    "MAINTENANCE_INTERVAL_S": "1",
    "LOG_LEVEL": "INFO",
    "DRAIN_TIMEOUT_S": "10",
}


@dataclass
class ServiceProcess:
    redis_url: str
    name: str = "svc"
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="svc-", suffix=".log")[1]))
    args: tuple[str, ...] = ("-m", "app", "serve")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True, timeout: float = 20.0) -> "ServiceProcess":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "OTEL_"))}
        env.update(TEST_DEFAULTS)
        env.update({"REDIS_URL": self.redis_url, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "CONSUMER_NAME": self.name, "PYTHONUNBUFFERED": "1"})
        env.update(self.env)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, *self.args], cwd=ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"service {self.name} exited with {self.process.returncode}:\n{self.logs()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"service {self.name} not ready within {timeout}s:\n{self.logs()[-3000:]}")

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5.0, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.post(self.url + path, timeout=5.0, **kwargs)  # type: ignore[arg-type]

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return 0
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")
