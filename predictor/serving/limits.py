"""Request limits as one pure ASGI middleware: body size, JSON nesting depth, time to answer.

Each limit is checked before KServe sees the request and answers with a JSON ``error``
naming the limit and the flag that sets it:

* body larger than ``max_body_bytes``  -> 413 (from ``Content-Length`` before reading a byte,
  or while reading a chunked body; a compressed body also when it inflates past the limit,
  see :mod:`.encoding`, which hands the app the decoded body);
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

from predictor.serving.deadlines import Deadlines
from predictor.serving.encoding import (
    Inflater,
    InflatesTooLarge,
    MalformedEncoding,
    UnsupportedEncoding,
    content_encoding,
    decoded_headers,
)
from predictor.serving.rejection import reject

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
    # Two counts settle the usual body: nothing below changes how many brackets there are.
    openings = body.count(b"[") + body.count(b"{")
    if openings <= stop_above:
        return openings
    if b"\\" in body:
        # Drop escaped backslashes, then escaped quotes: every '"' left delimits a string.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structural = body.translate(None, _NON_STRUCTURAL)
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
            await self.timed_out(scope.get("path", ""), send, progress["body"], progress["started"])
        except _ClientGone:
            return
        finally:
            if deadline is not None:
                deadlines.finish(deadline)

    async def _handle(self, scope: dict, receive: Any, send: Any, progress: dict) -> None:
        headers = scope.get("headers") or ()
        max_depth = self.limits.max_json_depth
        try:
            encoding = content_encoding(headers)
            body = await self._read_body(headers, receive, encoding)
        except _BodyTooLarge as error:
            await reject(send, 413, self._too_large_message(error.declared))
            return
        except InflatesTooLarge:
            await reject(send, 413, self._inflates_message(encoding))
            return
        except UnsupportedEncoding as error:
            await reject(send, 415, str(error))
            return
        except MalformedEncoding as error:
            await reject(send, 400, str(error))
            return
        progress["body"] = True
        if encoding is not None:
            headers = decoded_headers(headers, len(body))
            scope = {**scope, "headers": headers}
        if body and scope.get("method") in BODY_METHODS:
            depth = json_depth(_json_part(headers, body), max_depth)
            if depth > max_depth:
                await reject(
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

    async def _read_body(self, headers, receive: Any, encoding: str | None) -> bytes:
        """The whole body, decoded when compressed; both sizes are bounded by the limit."""
        limit = self.limits.max_body_bytes
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            raise _BodyTooLarge(declared)  # not read at all
        message = await receive()
        if (
            encoding is None
            and message["type"] == "http.request"
            and not message.get("more_body", False)
        ):
            body = message.get("body", b"")  # all of it at once: the common case
            if len(body) > limit:
                raise _BodyTooLarge(declared)
            return body
        inflater = Inflater(encoding, limit) if encoding else None
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge(declared)
            if inflater is not None:
                chunk = inflater.feed(chunk)
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
            message = await receive()
        if inflater is not None:
            inflater.finish()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large_message(self, declared: int | None) -> str:
        size = f"is {declared} bytes" if declared is not None else "exceeds the limit"
        return (
            f"request body {size}; at most {self.limits.max_body_bytes} bytes are allowed "
            f"(server flag --max_body_bytes); send fewer instances per request"
        )

    def _inflates_message(self, encoding: str | None) -> str:
        return (
            f"request body inflates to more than {self.limits.max_body_bytes} bytes "
            f"(Content-Encoding: {encoding}); at most {self.limits.max_body_bytes} bytes are "
            "allowed (server flag --max_body_bytes); send fewer instances per request"
        )

    async def timed_out(self, path: str, send: Any, body_received: bool, started: bool) -> int:
        """Answer a request whose deadline passed: 408 while its body was still arriving,
        503 after; the status sent, or 0 when its answer had already started."""
        seconds = f"{self.limits.request_timeout:g}"
        if started:
            # The answer is already on its way; it cannot be replaced by an error any more.
            logger.warning("request to %s exceeded %s s while sending its response", path, seconds)
            return 0
        if not body_received:
            await reject(
                send,
                408,
                f"request body not received within {seconds} s (server flag --request_timeout)",
            )
            return 408
        await reject(
            send,
            503,
            f"request not answered within {seconds} s (server flag --request_timeout); "
            "the server is overloaded, retry later",
            extra_headers=((b"retry-after", str(RETRY_AFTER_SECONDS).encode()),),
        )
        return 503


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
