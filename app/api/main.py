"""The FastAPI application: built from settings, owning one replica's runtime through its lifespan."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import SERVICE_NAME, __version__
from app.api import errors
from app.api.body_limit import BodyLimit
from app.api.errors import error_responses
from app.api.routes import admin, books, orders, probes, status
from app.config import Settings
from app.runtime import Runtime
from app.telemetry.tracing import instrument_app, tracing_from_env

DESCRIPTION = (
    "Trade intents in over Redis Streams, orders out, one result per intent.\n\n"
    "Every error is JSON, `{\"error\": CODE, \"detail\": reason}`. Before any route, the server answers "
    "400 `BAD_REQUEST` to malformed HTTP and 431 `HEADERS_TOO_LARGE` to a request line and headers over "
    "MAX_REQUEST_HEADER_BYTES."
)


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    # Built before the runtime: request spans need the provider when the middleware is installed.
    tracing = runtime.tracing if runtime is not None else tracing_from_env(instance_id=settings.consumer_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime(settings, tracing=tracing)
        app.state.runtime = rt
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    # /docs and /redoc load Swagger UI and ReDoc from fastapi-offline's files, not a CDN: a cluster without
    # egress still shows them.
    app = FastAPIOffline(title=SERVICE_NAME, version=__version__, lifespan=lifespan, static_url="/docs/assets",
                         description=DESCRIPTION)
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_body_bytes)
    for router in (probes.router, books.router, orders.router, orders.admin, status.router, admin.router):
        app.include_router(router, responses=error_responses(413, 500))
    instrument_app(app, tracing.provider)
    return app
