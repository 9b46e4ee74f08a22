"""Request limits as one pure ASGI middleware: body size, JSON nesting depth, time to answer.

Each limit is checked before KServe sees the request and answers with a JSON ``error``
naming the limit and the flag that sets it:

* body larger than ``max_body_bytes``  -> 413 (from ``Content-Length`` before reading a byte,
  or while reading a chunked body);
* JSON nested deeper than ``max_json_depth`` -> 400 (checked on the raw bytes, before any
  parser recurses into it);
* body not received within ``request_timeout`` seconds -> 408 (a slow or stalled client);
  answer not ready within ``request_timeout`` seconds -> 503 with ``Retry-After``.

The model's scoring is synchronous and runs on the event loop, so the timeout cannot cut a
prediction short: it bounds reading the body, waiting for the loop under overload, and any
awaited work (to within :mod:`.deadlines`' tick). A request that has started its response is
never replaced by an error.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from predictor.serving.deadlines import Deadlines

logger = logging.getLogger("predictor.serving.limits")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = 32
DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
RETRY_AFTER_SECONDS = 1
# KServe's V2 binary tensor extension: the JSON header is the first N bytes of the body.
BINARY_HEADER_LENGTH = b"inference-header-content-length"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Only these bytes matter to nesting depth; bytes.translate drops all others in C.
_NON_STRUCTURAL = bytes(code for code in range(256) if code not in b'"[]{}')
_BRACKET_STEP = np.zeros(256, dtype=np.int32)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


@dataclass(frozen=True)
class Limits:
    """Request limits, read once at start-up (see ``python -m predictor --help``)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS  # 0 disables the timeout

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        if self.max_json_depth < 1:
            raise ValueError(f"max_json_depth must be >= 1, got {self.max_json_depth}")
        if self.request_timeout < 0:
            raise ValueError(f"request_timeout must be >= 0, got {self.request_timeout}")


def json_depth(body: bytes, stop_above: int) -> int:
    """Deepest nesting of arrays/objects in ``body``, ignoring brackets inside strings.

    Exact for well-formed JSON; for anything else it is the depth the brackets imply, which
    is what a recursive parser would attempt. When the body holds too few brackets to go
    deeper than ``stop_above`` it returns their count (an upper bound). Only ``"[]{}`` are
    kept (a V1 body of 100 instances: 21 KB -> ~100 bytes), string contents are dropped by
    quote parity, then one vectorised cumulative sum gives the depth.
    """
    if b"\\" in body:
        # Drop escaped backslashes, then escaped quotes: every '"' left delimits a string.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structural = body.translate(None, _NON_STRUCTURAL)
    openings = structural.count(b"[") + structural.count(b"{")
    if openings <= stop_above:
        return openings
    if b'"' in structural:
        structural = b"".join(structural.split(b'"')[::2])  # outside strings: even pieces
    if not structural:
        return 0
    steps = _BRACKET_STEP[np.frombuffer(structural, dtype=np.uint8)]
    return int(np.cumsum(steps).max())


class _BodyTooLarge(Exception):
    def __init__(self, declared: int | None):
        self.declared = declared


class _ClientGone(Exception):
    pass


class RequestLimitMiddleware:
    """ASGI middleware enforcing :class:`Limits` on every HTTP request."""

    def __init__(self, app: Any, limits: Limits):
        self.app = app
        self.limits = limits
        # One timer for all requests in flight (a timer per request costs more than the rest).
        self.deadlines = Deadlines(limits.request_timeout) if limits.request_timeout else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = {"body": False, "started": False}

        async def tracking_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                progress["started"] = True
            await send(message)

        deadlines = self.deadlines
        deadline = deadlines.start() if deadlines is not None else None
        try:
            await self._handle(scope, receive, tracking_send, progress)
        except asyncio.CancelledError:
            if deadline is None or not deadlines.cut_off(deadline):
                raise  # cancelled by someone else (server shutdown), not our deadline
            await self._timed_out(scope, send, progress)
        except _ClientGone:
            return
        finally:
            if deadline is not None:
                deadlines.finish(deadline)

    async def _handle(self, scope: dict, receive: Any, send: Any, progress: dict) -> None:
        headers = scope.get("headers") or ()
        limit = self.limits.max_body_bytes
        declared = _content_length(headers)
        message = None if declared is not None and declared > limit else await receive()
        if (
            message is not None
            and message["type"] == "http.request"
            and not message.get("more_body", False)
        ):
            body = message.get("body", b"")  # all of it at once: the common case
        else:
            try:
                body = await self._read_body(message, receive, declared)
            except _BodyTooLarge as error:
                await _send_error(send, 413, self._too_large_message(error.declared))
                return
        if len(body) > limit:
            await _send_error(send, 413, self._too_large_message(declared))
            return
        progress["body"] = True
        max_depth = self.limits.max_json_depth
        if body and scope.get("method") in BODY_METHODS:
            depth = json_depth(_json_part(headers, body), max_depth)
            if depth > max_depth:
                await _send_error(
                    send,
                    400,
                    f"request body is nested {depth} levels deep; at most "
                    f"{max_depth} are allowed (server flag --max_json_depth)",
                )
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, first: dict | None, receive: Any, declared: int | None) -> bytes:
        """The body from ``first`` (None: not received yet) and the messages after it."""
        limit = self.limits.max_body_bytes
        if first is None:
            raise _BodyTooLarge(declared)  # declared larger than the limit: not read at all
        chunks: list[bytes] = []
        size = 0
        message = first
        while True:
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge(declared)
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
            message = await receive()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large_message(self, declared: int | None) -> str:
        size = f"is {declared} bytes" if declared is not None else "exceeds the limit"
        return (
            f"request body {size}; at most {self.limits.max_body_bytes} bytes are allowed "
            f"(server flag --max_body_bytes); send fewer instances per request"
        )

    async def _timed_out(self, scope: dict, send: Any, progress: dict) -> None:
        seconds = f"{self.limits.request_timeout:g}"
        path = scope.get("path", "")
        if progress["started"]:
            # The answer is already on its way; it cannot be replaced by an error any more.
            logger.warning("request to %s exceeded %s s while sending its response", path, seconds)
            return
        if not progress["body"]:
            logger.warning("request to %s: body not received within %s s", path, seconds)
            await _send_error(
                send,
                408,
                f"request body not received within {seconds} s (server flag --request_timeout)",
            )
            return
        logger.warning("request to %s not answered within %s s", path, seconds)
        await _send_error(
            send,
            503,
            f"request not answered within {seconds} s (server flag --request_timeout); "
            "the server is overloaded, retry later",
            extra_headers=[(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
        )


def _content_length(headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _json_part(headers, body: bytes) -> bytes:
    """The JSON part of a body: all of it, or the header of a V2 binary-extension request."""
    for name, value in headers:
        if name == BINARY_HEADER_LENGTH:
            try:
                length = int(value)
            except ValueError:
                return body
            return body[:length] if 0 <= length <= len(body) else body
    return body


async def _send_error(
    send: Any, status: int, message: str, extra_headers: list[tuple[bytes, bytes]] = ()
) -> None:
    payload = orjson.dumps({"error": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
