"""Running `python -m app …` as a user does: a child process with only the settings given."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading

from tests.utils.service import ROOT


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "EXECUTION_", "BINANCE_"))}
    return {**base, **(env or {})}


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=cli_env(env),
                          capture_output=True, text=True, timeout=timeout)


class Running:
    """A command left running (``orders --follow``), its output read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=cli_env(env),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: queue.Queue[str] = queue.Queue()
        self._pumps = [threading.Thread(target=_pump, args=pair, daemon=True)
                       for pair in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))]
        for pump in self._pumps:
            pump.start()

    def line(self, lines: "queue.Queue[str]", timeout: float = 15) -> str:
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout}s (exit code {self.process.poll()})") from None

    def stop(self, sig: int, timeout: float = 10) -> int:
        """Send ``sig`` and wait for the exit, and for the last of its output."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        for pump in self._pumps:
            pump.join(timeout)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def rest(self, lines: "queue.Queue[str]") -> list[str]:
        """The lines not read yet."""
        out = []
        while not lines.empty():
            out.append(lines.get())
        return out


def _pump(pipe, lines: "queue.Queue[str]") -> None:
    for line in pipe:
        lines.put(line.rstrip("\n"))
