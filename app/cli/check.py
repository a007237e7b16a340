"""Exit 0 when the service's /livez (or /readyz with --ready) answers 200: for probes and scripts."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, help="base URL (default http://127.0.0.1:$PORT)")
    parser.add_argument("--ready", action="store_true", help="check /readyz instead of /livez")
    parser.add_argument("--timeout", type=float, default=3.0)


def run(args: argparse.Namespace) -> int:
    base = args.url or f"http://127.0.0.1:{os.environ.get('PORT', '8002')}"
    url = base.rstrip("/") + ("/readyz" if args.ready else "/livez")
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            ok = response.status == 200
            body = response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        ok, body = False, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: unreachable ({exc})", file=sys.stderr)
        return 1
    print(f"{url}: {body}")
    return 0 if ok else 1
