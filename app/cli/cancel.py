"""Cancel an open order (or every one, or a symbol's) through a CANCEL / CANCEL_ALL intent, and print its result.

The intent goes on the intent stream like any other, so the cancel is answered exactly once and
recorded on the order by the pipeline (app/execution/actions.py); this command only publishes it and
waits for the answer as ``send`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

from app.cli.send import add_waiting_arguments, submit

MAX_ID = 128  # app/models/fields.py: 1-128 printable ASCII characters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target_intent_id", nargs="?", help="intent id of the order to cancel")
    parser.add_argument("--all", action="store_true", help="cancel every open order (CANCEL_ALL)")
    parser.add_argument("--symbol", default=None, help="with --all: only this symbol's orders")
    parser.add_argument("--intent-id", default=None,
                        help="idempotency key of the cancel itself (default: cancel-<target>-<random>)")
    parser.add_argument("--source", default="cli")
    add_waiting_arguments(parser)


def build_intent(args: argparse.Namespace) -> dict[str, Any]:
    if args.all:
        intent: dict[str, Any] = {"action": "CANCEL_ALL", "intent_id": args.intent_id or default_id("all")}
        if args.symbol:
            intent["symbol"] = args.symbol.upper()
    else:
        intent = {"action": "CANCEL", "intent_id": args.intent_id or default_id(args.target_intent_id),
                  "target_intent_id": args.target_intent_id}
    return {**intent, "source": args.source}


def default_id(target: str) -> str:
    suffix = "-" + uuid.uuid4().hex[:8]
    return f"cancel-{target}"[:MAX_ID - len(suffix)] + suffix


def run(args: argparse.Namespace) -> int:
    problem = usage_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return asyncio.run(submit(build_intent(args), args))


def usage_problem(args: argparse.Namespace) -> str | None:
    if args.all == (args.target_intent_id is not None):
        return "name one order's intent id, or --all"
    if args.symbol and not args.all:
        return "--symbol goes with --all (a CANCEL names its order)"
    return None
