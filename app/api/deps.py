"""FastAPI dependencies: the replica's runtime and the admin bearer check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import ApiError
from app.runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require_admin(runtime: RuntimeDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    token = runtime.settings.admin_token
    if token is None or not token.get_secret_value():
        raise ApiError(403, "ADMIN_DISABLED", "admin endpoints are disabled: set ADMIN_TOKEN to enable them")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "UNAUTHORIZED", "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode()):
        raise ApiError(401, "UNAUTHORIZED", "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})


AdminDep = Depends(require_admin)
