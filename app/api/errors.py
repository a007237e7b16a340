"""Every HTTP error is JSON: {"error": <machine code>, "detail": <human text>}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
         409: "CONFLICT", 422: "INVALID_REQUEST", 503: "UNAVAILABLE"}


class ApiError(StarletteHTTPException):
    def __init__(self, status_code: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.error = error


def error_body(error: str, detail: str) -> dict[str, str]:
    return {"error": error, "detail": detail}


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = getattr(exc, "error", None) or CODES.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(error_body(error, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
        return JSONResponse(error_body("INVALID_REQUEST", "; ".join(parts) or "invalid request"), status_code=422)

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def redis_unavailable(_: Request, exc: Exception) -> JSONResponse:
        """A dependency being away is not an internal error: 503 with a retry hint, no traceback."""
        log.warning("request failed: Redis unavailable (%s)", type(exc).__name__)
        return JSONResponse(error_body("UNAVAILABLE", "Redis is unavailable; retry later"), status_code=503,
                            headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error in request: %s", type(exc).__name__, exc_info=exc)
        return JSONResponse(error_body("INTERNAL_ERROR", f"internal error ({type(exc).__name__})"), status_code=500)
