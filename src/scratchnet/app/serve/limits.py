"""Request-body size limit and the one-line request log, as plain ASGI middleware.

The size limit is enforced twice, so no request body is ever held beyond it: a declared
``Content-Length`` over the limit is answered 413 without keeping a byte of the body (up to
four times the limit the body is read and dropped first, so the client, still sending, reads
the answer instead of a reset), and a body without one (chunked) is counted as it streams in;
the first chunk that crosses the limit aborts the request with 413 (the multipart parser
upstream never sees more).
"""

from __future__ import annotations

import json
import logging
import time

from starlette.exceptions import HTTPException

log = logging.getLogger("scratchnet.serve")
# Declared bodies up to this many times the limit are read and discarded before the 413 (see
# BodyLimit); larger ones are answered at once and the connection closed.
_DRAIN_FACTOR = 4


def error_body(message: str) -> bytes:
    """The JSON every error answers with: ``{"error": "<one line>"}``."""
    return json.dumps({"error": " ".join(message.split())}).encode()


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the streamed body passes the limit. An ``HTTPException``,
    so FastAPI's body parsing passes it on unchanged to the app's handler (413)."""


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 ``{"error": message}``."""

    def __init__(self, app, max_bytes: int, message: str) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.message = message

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            if declared <= _DRAIN_FACTOR * self.max_bytes:
                # A client (a browser among them) sends its whole body before it reads the
                # answer: read a moderately oversized body and throw it away, so the client
                # gets the 413 rather than a connection reset. Nothing of it is kept.
                await _discard(receive)
            return await _send_json(send, 413, self.message)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(413, self.message)
            return message

        return await self.app(scope, limited_receive, send)


class RequestLog:
    """One log line per request: method, path, status, duration and response size."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status, size = 500, 0

        async def logged_send(message):
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info("%s %s %s %d %.1fms %dB", client[0], scope["method"], scope["path"], status,
                     1000 * (time.perf_counter() - start), size)


async def _discard(receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(send, status: int, message: str) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
