"""Every HTTP error is JSON: {"error": <machine code>, "detail": <human text>}, and the OpenAPI document
says so: each route lists the error statuses it can answer with `error_responses`, all as `ErrorBody`."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

log = logging.getLogger(__name__)

CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
         409: "CONFLICT", 413: "BODY_TOO_LARGE", 422: "INVALID_REQUEST", 431: "HEADERS_TOO_LARGE",
         503: "UNAVAILABLE"}

# What each error status means on this API, for the OpenAPI document.
MEANINGS = {
    400: "The body could not be read as JSON text, e.g. it is not UTF-8 (`BAD_REQUEST`).",
    401: "No bearer token, or not ADMIN_TOKEN (`UNAUTHORIZED`).",
    403: "Admin endpoints are disabled: ADMIN_TOKEN is unset (`ADMIN_DISABLED`).",
    404: "Nothing recorded under that name.",
    413: "The request body is larger than MAX_REQUEST_BODY_BYTES (`BODY_TOO_LARGE`); the connection is closed.",
    422: "A parameter or the body is invalid (`INVALID_REQUEST`); `detail` says which and why.",
    500: "An unexpected error (`INTERNAL_ERROR`); the log has the traceback.",
    503: "Redis is unavailable (`UNAVAILABLE`, with `Retry-After`); retry later.",
}


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer; probes may add their own fields beside these two."""

    error: str = Field(description="Machine-readable code, e.g. INVALID_REQUEST, UNAUTHORIZED, ORDER_NOT_FOUND.")
    detail: str = Field(description="What was wrong, for a person.")


def error_responses(*statuses: int, meanings: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries for these statuses, each an `ErrorBody`; `meanings` overrides descriptions."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": {**MEANINGS, **(meanings or {})}[status]}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}
        documented[status] = entry
    return documented


class ApiError(StarletteHTTPException):
    def __init__(self, status_code: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.error = error


def error_body(error: str, detail: str) -> dict[str, str]:
    return {"error": error, "detail": detail}


def error_response(exc: StarletteHTTPException) -> JSONResponse:
    error = getattr(exc, "error", None) or CODES.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(error_body(error, str(exc.detail)), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def allowed_methods(request: Request, first_route: str) -> str:
    """Every method served at this path: Starlette's 405 names only those of the first route matching it."""
    methods = {m.strip() for m in first_route.split(",") if m.strip()}
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error_response(exc)
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(request, response.headers.get("Allow", ""))
        return response

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
