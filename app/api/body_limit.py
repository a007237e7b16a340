"""A cap on request bodies (MAX_REQUEST_BODY_BYTES), kept while a body arrives rather than after.

A declared Content-Length over the cap is refused before the app runs; a body without one (chunked)
as soon as the bytes read cross the cap. Either way the answer is 413 JSON and the connection is
closed, so nothing past the cap is read. Any answer given before the request's body was read to its
end closes the connection too: the 401 to an unauthenticated upload does not leave uvicorn reading,
and throwing away, the rest of it.

FastAPI's own `max_body_size` is not used: it answers 413 in plain text, and only after the app has
run, when the app answers without reading the body.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import ApiError, error_response


class BodyTooLarge(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "BODY_TOO_LARGE", f"request body larger than {max_bytes} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        read, finished = 0, not declared and "chunked" not in headers.get("transfer-encoding", "").lower()

        async def receive_capped() -> Message:
            nonlocal read, finished
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                finished = not message.get("more_body", False)
            return message

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not finished:
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        if declared is not None and declared > self.max_bytes:
            await error_response(BodyTooLarge(self.max_bytes))(scope, receive, send_closing)
            return
        await self.app(scope, receive_capped, send_closing)


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None
