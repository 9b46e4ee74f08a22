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

import logging
from typing import Any

import numpy as np

from predictor.serving.deadlines import Deadline, Deadlines
from predictor.serving.encoding import (
    Inflater,
    InflatesTooLarge,
    MalformedEncoding,
    UnsupportedEncoding,
    content_encoding,
    decoded_headers,
)
from predictor.serving.rejection import reject
from predictor.settings import Settings

logger = logging.getLogger("predictor.serving.limits")

RETRY_AFTER_SECONDS = 1
RETRY_AFTER_HEADER = (b"retry-after", str(RETRY_AFTER_SECONDS).encode())
# KServe's V2 binary tensor extension: the JSON header is the first N bytes of the body.
BINARY_HEADER_LENGTH = b"inference-header-content-length"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Only these bytes matter to nesting depth; bytes.translate drops all others in C.
_NON_STRUCTURAL = bytes(code for code in range(256) if code not in b'"[]{}')
_BRACKET_STEP = np.zeros(256, dtype=np.int32)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


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


class BodyTooLarge(Exception):
    """The body is past ``--max_body_bytes`` (``declared``: its Content-Length, if any)."""

    def __init__(self, declared: int | None):
        self.declared = declared


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


# What reading a body can refuse, answered by :meth:`RequestLimitMiddleware.refuse`.
BODY_REFUSALS = (BodyTooLarge, InflatesTooLarge, UnsupportedEncoding, MalformedEncoding)


class RequestLimitMiddleware:
    """ASGI middleware enforcing the request limits of the settings on every HTTP request."""

    def __init__(self, app: Any, settings: Settings):
        self.app = app
        self.max_body_bytes = settings.max_body_bytes
        self.max_json_depth = settings.max_json_depth
        self.request_timeout = settings.request_timeout
        # One timer for all requests in flight (a timer per request costs more than the rest).
        timeout = settings.request_timeout
        self.deadlines = Deadlines(timeout) if timeout else None

    def deadline(self) -> Deadline:
        """This request's deadline, for a ``with`` block around reading and answering it."""
        return Deadline(self.deadlines)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = {"body": False, "started": False}

        async def tracking_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                progress["started"] = True
            await send(message)

        with self.deadline() as deadline:
            try:
                await self._handle(scope, receive, tracking_send, progress)
            except ClientGone:
                return
        if deadline.expired:
            await self.timed_out(scope["path"], send, progress["body"], progress["started"])

    async def _handle(self, scope: dict, receive: Any, send: Any, progress: dict) -> None:
        headers = scope.get("headers") or ()
        encoding = None
        try:
            encoding = content_encoding(headers)
            body = await self.read_body(headers, receive, encoding)
        except BODY_REFUSALS as error:
            await self.refuse(send, error, encoding)
            return
        progress["body"] = True
        if encoding is not None:
            headers = decoded_headers(headers, len(body))
            scope = {**scope, "headers": headers}
        if body and scope.get("method") in BODY_METHODS:
            problem = self.depth_problem(headers, body)
            if problem is not None:
                await reject(send, 400, problem)
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def read_body(self, headers: Any, receive: Any, encoding: str | None = None) -> bytes:
        """The whole body, decoded when compressed; both sizes are bounded by the limit.

        Raises:
            BodyTooLarge, InflatesTooLarge, UnsupportedEncoding, MalformedEncoding: for
                :meth:`refuse` to answer; ClientGone when the client left.
        """
        limit = self.max_body_bytes
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            raise BodyTooLarge(declared)  # not read at all
        message = await receive()
        if (
            encoding is None
            and message["type"] == "http.request"
            and not message.get("more_body", False)
        ):
            body = message.get("body", b"")  # all of it at once: the common case
            if len(body) > limit:
                raise BodyTooLarge(declared)
            return body
        inflater = Inflater(encoding, limit) if encoding else None
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(declared)
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

    def depth_problem(self, headers: Any, body: bytes) -> str | None:
        """Why the body's JSON is nested too deep, or None."""
        limit = self.max_json_depth
        depth = json_depth(_json_part(headers, body), limit)
        if depth <= limit:
            return None
        return (
            f"request body is nested {depth} levels deep; at most {limit} are allowed "
            "(server flag --max_json_depth)"
        )

    async def refuse(self, send: Any, error: Exception, encoding: str | None = None) -> int:
        """Answer a body :meth:`read_body` refused; the status sent."""
        limit = self.max_body_bytes
        allowed = f"at most {limit} bytes are allowed (server flag --max_body_bytes)"
        if isinstance(error, BodyTooLarge):
            declared = error.declared
            size = f"is {declared} bytes" if declared is not None else "exceeds the limit"
            status = 413
            message = f"request body {size}; {allowed}; send fewer instances per request"
        elif isinstance(error, InflatesTooLarge):
            status, message = (
                413,
                (
                    f"request body inflates to more than {limit} bytes (Content-Encoding: "
                    f"{encoding}); {allowed}; send fewer instances per request"
                ),
            )
        elif isinstance(error, UnsupportedEncoding):
            status, message = 415, str(error)
        else:
            status, message = 400, str(error)
        await reject(send, status, message)
        return status

    async def timed_out(self, path: str, send: Any, body_received: bool, started: bool) -> int:
        """Answer a request whose deadline passed: 408 while its body was still arriving,
        503 after; the status sent, or 0 when its answer had already started."""
        seconds = f"{self.request_timeout:g}"
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
            extra_headers=(RETRY_AFTER_HEADER,),
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
