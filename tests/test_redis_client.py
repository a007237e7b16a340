"""The service's Redis clients (app/runtime.py) against a real redis-server, on the event loop the
service runs on (uvicorn picks uvloop when it is installed)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError

from app.config import load_settings
from app.runtime import redis_client


def test_a_write_on_a_connection_the_event_loop_closed_is_a_dropped_connection(redis_url: str) -> None:
    """uvloop closes a transport whose socket failed (Redis killed the connection) while redis-py
    still holds it; writing on it raised RuntimeError, which nothing retried and the consumer
    logged as a bug ("consumer loop error", 1 in 28 CLIENT KILLs)."""

    async def scenario() -> None:
        client = redis_client(load_settings({}, redis_url=redis_url), socket_timeout=2.0)
        try:
            await client.ping()
            conn = await client.connection_pool.get_connection()
            conn._writer.transport.abort()  # the socket failed: the loop closes the transport
            await asyncio.sleep(0.01)
            with pytest.raises(RedisConnectionError):
                await conn.send_command("PING")
            await client.connection_pool.release(conn)
            assert await client.ping(), "the client reconnects"
        finally:
            await client.aclose()

    uvloop.run(scenario())
