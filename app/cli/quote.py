"""Publish one top-of-book quote to QUOTE_STREAM for PAPER_PRICE_SOURCE=stream; prints the entry id.

The entry is what a market-data feed would add (docs/configuration.md, "Quote stream"): field
``data`` with the quote's JSON, added with an approximate MAXLEN so the stream stays bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from app.cli.common import cli_settings, client
from app.codec import text
from app.exchange.base import Quote
from app.exchange.quote_entry import QUOTE_STREAM_MAXLEN, QuoteError, encode_entry, make_quote

EXIT_INVALID = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("symbol", help="e.g. BTCUSDT")
    parser.add_argument("bid", help="best bid price")
    parser.add_argument("ask", help="best ask price (at least the bid)")
    parser.add_argument("--bid-qty", help="quantity at the bid (PAPER fills resting orders up to it)")
    parser.add_argument("--ask-qty", help="quantity at the ask")


def run(args: argparse.Namespace) -> int:
    try:
        symbol, quote = make_quote({"symbol": args.symbol, "bid": args.bid, "ask": args.ask,
                                    "bid_qty": args.bid_qty, "ask_qty": args.ask_qty})
    except QuoteError as exc:
        print(f"error: invalid quote: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(asyncio.run(_publish(symbol, quote)))
    return 0


async def publish_quote(redis: Any, stream: str, symbol: str, quote: Quote) -> str:
    """XADD one quote, trimming the stream to about QUOTE_STREAM_MAXLEN entries; returns the entry id."""
    return text(await redis.xadd(stream, encode_entry(symbol, quote), maxlen=QUOTE_STREAM_MAXLEN, approximate=True))


async def _publish(symbol: str, quote: Quote) -> str:
    settings = cli_settings()
    redis = client(settings)
    try:
        return await publish_quote(redis, settings.quote_stream, symbol, quote)
    finally:
        await redis.aclose()
