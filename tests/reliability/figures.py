"""Each reliability run's figures: printed (visible with ``pytest -s``) and written to
tests/reliability/.last-run/<run>.json, from where docs/reliability.md takes its numbers."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / ".last-run"


def record(run: str, **figures: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"run": run, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs"}
    doc.update({k: asdict(v) if is_dataclass(v) and not isinstance(v, type) else v for k, v in figures.items()})
    OUT.mkdir(exist_ok=True)
    (OUT / f"{run}.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\n[{run}] {json.dumps(doc)}")
    return doc
