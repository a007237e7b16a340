"""`python -m app serve | send | results | cancel | orders | quote | check`."""

from __future__ import annotations

import argparse
import sys

from redis.exceptions import ConnectionError as RedisConnectionError

from app.cli import cancel, check, orders, quote, results, send, serve
from app.config import SettingsError
from app.telemetry.tracing import TracingConfigError

COMMANDS = {"serve": serve, "send": send, "results": results, "cancel": cancel, "orders": orders, "quote": quote,
            "check": check}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Execution service")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.__doc__.strip().splitlines()[0]))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except (SettingsError, TracingConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RedisConnectionError as exc:  # a client command: the message names host and port, never a password
        print(f"error: redis unavailable: {exc} (`make run` starts the service with a Redis; or set REDIS_URL)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
