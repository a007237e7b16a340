"""`python -m bench.default_switch serve`: the traced service with Python's own GIL switch interval.

The bench's ``service+tracing@5ms`` variant: app/telemetry/export.py lowers the interval to 0.5 ms
while its export thread runs; this runs the same service with the interpreter's default (5 ms), so
one bench run shows what that setting is worth in p99 (docs/performance.md).
"""

from __future__ import annotations

import sys

from app.telemetry import export

if __name__ == "__main__":
    export.SWITCH_INTERVAL_S = sys.getswitchinterval()
    from app.__main__ import main

    sys.exit(main())
