"""Publish one intent, wait for its result and print it (exit 0 = result arrived).

The intent starts a trace: a PRODUCER span ``send trade.intent`` around the XADD, whose W3C context
goes into the entry's ``traceparent``/``tracestate`` fields, so the service's spans and the result
entry continue it. Spans are exported when the OTEL_* variables configure an exporter; otherwise the
trace ids are still made (an SDK provider without exporters) and travel with the intent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from app.cli.common import cli_settings, client, result_data
from app.codec import text
from app.config import Settings
from app.telemetry.tracer import LightTracerProvider
from app.telemetry.tracing import Tracing, provider_from_env

EXIT_MISMATCH, EXIT_TIMEOUT = 1, 3
CLI_SERVICE_NAME = "execution-cli"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--side", required=True, type=str.upper, choices=["BUY", "SELL"])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quantity", type=float, help="base asset quantity")
    size.add_argument("--notional-usd", type=float, help="order size in USD, converted at the current price")
    parser.add_argument("--leverage", type=int, default=1)
    parser.add_argument("--type", dest="order_type", type=str.upper, choices=["MARKET", "LIMIT"], default="MARKET")
    parser.add_argument("--price", type=float, help="limit price (LIMIT orders)")
    parser.add_argument("--time-in-force", type=str.upper, choices=["GTC", "IOC", "FOK"], default="GTC")
    parser.add_argument("--reduce-only", action="store_true")
    parser.add_argument("--intent-id", default=None, help="idempotency key (default: a new UUID)")
    parser.add_argument("--source", default="cli")
    add_waiting_arguments(parser)


def build_intent(args: argparse.Namespace) -> dict[str, Any]:
    intent: dict[str, Any] = {
        "intent_id": args.intent_id or uuid.uuid4().hex, "symbol": args.symbol.upper(), "side": args.side,
        "leverage": args.leverage, "order_type": args.order_type, "time_in_force": args.time_in_force,
        "reduce_only": args.reduce_only, "created_at": time.time(), "source": args.source,
    }
    if args.quantity is not None:
        intent["quantity"] = args.quantity
    else:
        intent["notional_usd"] = args.notional_usd
    if args.price is not None:
        intent["price"] = args.price
    return intent


def run(args: argparse.Namespace) -> int:
    return asyncio.run(submit(build_intent(args), args))


def producer_tracing(env: dict[str, str] | None = None) -> Tracing:
    """Exporting as OTEL_* says (service name ``execution-cli`` unless OTEL_SERVICE_NAME is set), else
    a provider with no exporter, so the intent still starts a trace (OTEL_SDK_DISABLED=true: none)."""
    env = {**(os.environ if env is None else env)}
    env.setdefault("OTEL_SERVICE_NAME", CLI_SERVICE_NAME)
    provider = provider_from_env(env)
    return Tracing(provider or LightTracerProvider(Resource.create({SERVICE_NAME: env["OTEL_SERVICE_NAME"]})))


async def publish(redis: Any, settings: Settings, intent: dict[str, Any], tracing: Tracing) -> str:
    """XADD the intent inside its PRODUCER span; returns the entry id."""
    with tracing.producer_span(settings.intent_stream) as span:
        fields = {"data": json.dumps(intent), **tracing.inject()}
        # no MAXLEN: the service trims only what it has answered (app/bus/maintenance.py)
        entry_id = text(await redis.xadd(settings.intent_stream, fields))
        span.set_attribute("messaging.message.id", entry_id)
    return entry_id


async def submit(intent: dict[str, Any], args: argparse.Namespace) -> int:
    """Publish ``intent``, then (unless ``args.no_wait``) wait ``args.timeout`` for its result and print
    it; exit 1 when it lacks ``args.expect_status``, 3 when none came."""
    settings = cli_settings()
    redis = client(settings)
    try:
        tracing = producer_tracing()
        try:
            entry_id = await publish(redis, settings, intent, tracing)
        finally:
            tracing.shutdown()  # exports the span now, not after waiting for the result
        if args.no_wait:
            print(json.dumps({"intent_id": intent["intent_id"], "intent_entry_id": entry_id}))
            return 0
        result = await wait_for_result(redis, settings.result_stream, entry_id, args.timeout)
    finally:
        await redis.aclose()
    if result is None:
        print(f"no result for intent {intent['intent_id']} within {args.timeout:g}s (is the service running and "
              f"reading {settings.intent_stream} at {settings.redis_address}?)", file=sys.stderr)
        return EXIT_TIMEOUT
    print(json.dumps(result, indent=2))
    if args.expect_status and result.get("status") != args.expect_status:
        print(f"expected status {args.expect_status}, got {result.get('status')}: {result.get('message')}",
              file=sys.stderr)
        return EXIT_MISMATCH
    return 0


def add_waiting_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``submit``, shared by every command that publishes an intent."""
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the result")
    parser.add_argument("--no-wait", action="store_true", help="publish and print the entry id only")
    parser.add_argument("--expect-status", type=str.upper, default=None,
                        help="exit 1 unless the result has this status (e.g. FILLED)")


async def wait_for_result(redis: Any, stream: str, entry_id: str, timeout: float) -> dict[str, Any] | None:
    """Results are added after their intent, so read the result stream from the intent's id on."""
    deadline = time.monotonic() + timeout
    cursor = entry_id
    while (remaining := deadline - time.monotonic()) > 0:
        reply = await redis.xread({stream: cursor}, count=500, block=max(1, int(min(remaining, 1.0) * 1000)))
        for _stream, entries in reply or ():
            for eid, fields in entries:
                cursor = text(eid)
                data = result_data(fields)
                if data.get("intent_entry_id") == entry_id:
                    return data
    return None
