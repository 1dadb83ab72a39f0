"""The gate every request passes before routing: the API key first, then the body's size.

FastAPI reads and parses a request body before it solves a route's dependencies, so with the key
checked in a dependency, anyone could make a worker read and parse any body without a key (and
16 posts of 10 MB grew a worker from 98 to 278 MB, never given back). This pure ASGI middleware
runs before any of that:

1. a ``/v1`` call is authenticated (``X-API-Key``, 401 / 503 as in :mod:`serving.auth`) before a
   byte of its body is read; the key record is handed to the route's scope check in the ASGI
   scope, so the key costs one check, not two;
2. a request whose ``Content-Length`` exceeds ``UCID_SERVING_MAX_BODY_BYTES`` is answered 413
   without reading its body;
3. a body without a length (chunked) is counted as it is read, and reading stops with a 413 at
   the first chunk past the limit: the worker never holds more than the limit.

The default limit (1 MiB) is above the largest body the schema allows (``UCID_SERVING_BATCH_MAX``
identifiers at their longest, JSON-escaped), so no schema-valid request is refused by it.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers

from infra.store.aio import StoreUnavailable
from serving.auth import HEADER, SCOPE_KEY, authenticate
from serving.errors import ApiError, problem_response, too_large, unavailable
from serving.metrics import STORE_ERRORS
from serving.state import AppState

KEYED_PREFIX = "/v1/"


class BodyTooLarge(HTTPException):
    """Raised while the body is read, when it grows past the limit (FastAPI lets an
    ``HTTPException`` from body reading through; the app's handler answers it as a Problem)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large_detail(limit: int, size: int | None = None) -> str:
    told = f"{size:,} bytes, over" if size is not None else "over"
    return f"request body too large: {told} the maximum of {limit:,} bytes (UCID_SERVING_MAX_BODY_BYTES)"


class RequestGate:
    """Key, then size, before the app reads anything; see the module docstring."""

    def __init__(self, app, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.state.serving.max_body_bytes
        headers = Headers(scope=scope)
        try:
            if scope["path"].startswith(KEYED_PREFIX):
                try:
                    scope[SCOPE_KEY] = await authenticate(self.state, headers.get(HEADER))
                except StoreUnavailable as exc:  # answered as the app's handler answers it
                    STORE_ERRORS.labels(type(exc.__cause__).__name__ if exc.__cause__ else "unavailable").inc()
                    raise unavailable("Cassandra did not answer", self.state.serving.retry_after_s) from exc
            size = _content_length(headers)
            if size is not None and size > limit:
                raise too_large(too_large_detail(limit, size))
        except ApiError as exc:
            await problem_response(exc)(scope, receive, send)
            return
        await self.app(scope, _capped(receive, limit), send)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None  # absent (chunked) or malformed (the server rejects it): counted while read
    return int(value)


def _capped(receive, limit: int):
    """``receive`` that raises :class:`BodyTooLarge` once the body read so far exceeds ``limit``."""
    seen = 0

    async def capped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return capped
