"""FastAPI dependencies: the replica's runtime; and the admin bearer check, run before the body is read."""

from __future__ import annotations

import hmac
from typing import Annotated, Awaitable, Callable

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.api.errors import ApiError
from app.config import Settings
from app.runtime import Runtime

# Declares the bearer scheme in the OpenAPI document; AdminRoute does the checking.
AdminAuth = Depends(HTTPBearer(auto_error=False, description="ADMIN_TOKEN"))


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def authorize_admin(settings: Settings, authorization: str | None) -> None:
    """403 when ADMIN_TOKEN is unset, 401 unless the header is `Bearer <ADMIN_TOKEN>`; compared in constant time."""
    token = settings.admin_token
    if token is None or not token.get_secret_value():
        raise ApiError(403, "ADMIN_DISABLED", "admin endpoints are disabled: set ADMIN_TOKEN to enable them")
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not credentials or scheme.lower() != "bearer":
        raise ApiError(401, "UNAUTHORIZED", "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.encode(), token.get_secret_value().encode()):
        raise ApiError(401, "UNAUTHORIZED", "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})


class AdminRoute(APIRoute):
    """A route that checks the bearer token before anything else.

    FastAPI reads and parses the body before it runs any dependency, so a dependency would answer an
    unauthenticated caller's bad JSON with 422 and read a body of any size first. Checked here, the
    caller without the token gets 401 and its body is never read.
    """

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()

        async def authorized(request: Request) -> Response:
            authorize_admin(get_runtime(request).settings, request.headers.get("authorization"))
            return await handle(request)

        return authorized
