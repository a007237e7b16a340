"""Print the open orders, or (--follow) every order event as it happens, one JSON line each.

Open orders are read from their live records (app/state/orders.py). ``--follow`` reads the order
stream (ORDER_STREAM) from its end, or from its start with ``--from-start``, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from app.cli.common import cli_settings, client, order_book, result_data
from app.codec import text
from app.config import Settings
from app.orders.view import order_view

BLOCK_MS = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", type=str.upper, default=None, help="only this symbol's orders")
    parser.add_argument("--follow", action="store_true", help="print each order event until interrupted")
    parser.add_argument("--from-start", action="store_true", help="with --follow: the stream's events from its start")


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:  # Ctrl-C before --follow took the signal over
        return 0


async def _run(args: argparse.Namespace) -> int:
    settings = cli_settings()
    redis = client(settings)
    try:
        if args.follow:
            await follow(redis, settings, args.symbol, args.from_start)
        else:
            orders = await order_book(settings, redis).open_orders(args.symbol)
            for order in orders:
                print(json.dumps(order_view(order)), flush=True)
            if not orders:
                print("no open orders", file=sys.stderr)
    finally:
        await redis.aclose()
    return 0


async def follow(redis: Any, settings: Settings, symbol: str | None, from_start: bool) -> None:
    """Print events until SIGINT or SIGTERM, which end the loop after the read in hand (within
    BLOCK_MS): cancelling the read instead was seen, now and then, to leave the loop running."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    stream = settings.order_stream
    cursor = "0-0" if from_start else await _last_id(redis, stream)
    # The end is read once: XREAD from `$` again after each empty block would miss what came between.
    print(f"following {stream} after {cursor} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    while not stop.is_set():
        reply = await redis.xread({stream: cursor}, block=BLOCK_MS, count=500)
        for _stream, entries in reply or ():
            for eid, fields in entries:
                cursor = text(eid)
                event = result_data(fields)
                if symbol is None or event.get("symbol") == symbol:
                    print(json.dumps(event), flush=True)


async def _last_id(redis: Any, stream: str) -> str:
    last = await redis.xrevrange(stream, count=1)
    return text(last[0][0]) if last else "0-0"
