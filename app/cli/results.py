"""Print recent results from the result stream (and follow new ones with --follow)."""

from __future__ import annotations

import argparse
import asyncio
import json

from app.cli.common import cli_settings, client, result_data
from app.codec import text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=10, help="how many recent results to print first")
    parser.add_argument("--follow", action="store_true", help="keep printing new results until interrupted")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    settings = cli_settings()
    redis = client(settings)
    try:
        recent = await redis.xrevrange(settings.result_stream, count=args.count) if args.count > 0 else []
        cursor = text(recent[0][0]) if recent else "$"
        for eid, fields in reversed(recent):
            print(json.dumps({"result_id": text(eid), **result_data(fields)}), flush=True)
        while args.follow:
            reply = await redis.xread({settings.result_stream: cursor}, block=1000, count=500)
            for _stream, entries in reply or ():
                for eid, fields in entries:
                    cursor = text(eid)
                    print(json.dumps({"result_id": cursor, **result_data(fields)}), flush=True)
    finally:
        await redis.aclose()
    return 0
