"""A refused request: one JSON ``{"error": ...}`` answer and one WARNING line, never a trace.

The one way this server builds an error body, whichever part of it refuses a request (the
layers in front of KServe's app, the fast lane, FastAPI's own 404/405/422): the bytes are
what KServe's handlers render (Starlette's JSONResponse: compact, UTF-8, no ASCII escapes).
The log line names the status, the method and path, and the message, so a reader can grep it
(``rejected request (413) POST /v1/models/m:predict: ...``). KServe's own error records carry
no request: :func:`request_line` gives them the one being answered.
"""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

logger = logging.getLogger("predictor.serving")
JSON_CONTENT_TYPE = (b"content-type", b"application/json")
Headers = tuple[tuple[bytes, bytes], ...]
# "METHOD path" of the request this task answers, set by the outermost layer.
_current_request: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="")


def error_body(message: str) -> bytes:
    """``{"error": message}`` as KServe's error handlers render it."""
    return json.dumps(
        {"error": message}, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()


def note_request(scope: dict) -> None:
    """Remember which request this task answers, for the refusal line of any layer."""
    _current_request.set(f"{scope['method']} {scope['path']}")


def request_line() -> str:
    """``METHOD path`` of the request being answered (empty outside one)."""
    return _current_request.get()


def log_rejection(status: int, message: str) -> None:
    where = request_line()
    logger.warning("rejected request (%d)%s: %s", status, f" {where}" if where else "", message)


async def reject(send: Any, status: int, message: str, extra_headers: Headers = ()) -> None:
    """Answer an ASGI request with ``status`` and ``{"error": message}``, and log it once."""
    log_rejection(status, message)
    await send_error_body(send, status, message, extra_headers)


async def send_error_body(send: Any, status: int, message: str, headers: Headers = ()) -> None:
    """Answer ``{"error": message}`` without logging (for a caller that logs its own way)."""
    payload = error_body(message)
    head = [(b"content-length", str(len(payload)).encode()), JSON_CONTENT_TYPE, *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Any:
    """The same answer as a Starlette response, for FastAPI's exception handlers."""
    from starlette.responses import Response

    log_rejection(status, message)
    return Response(error_body(message), status, headers, media_type="application/json")
