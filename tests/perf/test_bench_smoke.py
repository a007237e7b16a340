"""`python -m bench` end to end, small: the MARKET service, resting orders, and a variant run from a
git ref, each on its own redis-server, with sane figures in the JSON it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_small_bench_run(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "bench", "--intents", "500", "--duration", "2", "--rate", "100",
                    "--variants", "service,service@HEAD,service+orders", "--out", str(out)],
                   cwd=ROOT, check=True, timeout=120, capture_output=True)
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["service", "service@HEAD", "service+orders"]
    for row in rows.values():
        latency = row["latency_ms"]
        assert row["intents_per_s"] > 50 and row["intents_per_s_round2"] > 50
        assert latency["sent"] == latency["answered"] == 200
        assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["p999_ms"] < 5000
        assert 10 < row["cpu_us_per_intent"] < 100_000 and 1 < row["redis_cpu_us_per_intent"] < 100_000
        assert 20 < row["rss_mib_50k"] <= row["peak_rss_mib"] < 1000
    assert "bench-rev-" not in subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], check=True,
                                              capture_output=True, text=True).stdout
