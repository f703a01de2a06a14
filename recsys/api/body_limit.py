"""Reject request bodies larger than the upload limit before they are read."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from recsys.api.problems import status_title

__all__ = ["MULTIPART_SLACK_BYTES", "BodyLimitMiddleware"]

# Multipart framing (boundaries, part headers, the text fields of an item)
# adds a few kilobytes to the photo. This much slack keeps a photo of exactly
# the limit acceptable, and the exact limit is checked on the photo itself.
MULTIPART_SLACK_BYTES = 64_000

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyLimitMiddleware:
    """A pure ASGI middleware that responds with 413 when `Content-Length` exceeds the limit.

    NOTE: a chunked request has no `Content-Length`. Its body is read (and
    spooled to disk by the multipart parser) before the photo's own size check
    rejects it.
    """

    def __init__(self, app: Any, *, max_body_bytes: int) -> None:
        self._app = app
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in {"POST", "PUT", "PATCH"}:
            length = _content_length(scope)
            if length is not None and length > self._max_body_bytes:
                await _send_too_large(send, length, self._max_body_bytes)
                return
        await self._app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, length: int, limit: int) -> None:
    # The same problem-details shape as recsys.api.problems, written by hand
    # because this runs outside FastAPI's exception handlers.
    body = json.dumps(
        {
            "type": "about:blank",
            "title": status_title(413),
            "status": 413,
            "detail": f"the request body is {length} bytes, more than the limit of {limit} "
            "bytes: send a smaller photo",
        }
    ).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
