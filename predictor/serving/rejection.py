"""A refused request: one JSON ``{"error": ...}`` answer and one WARNING line, never a trace.

Client mistakes are the client's to fix; the log says what was refused in one line a reader
can grep (``rejected request (413): ...``), whichever part of the server refused it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

logger = logging.getLogger("predictor.serving")
JSON_HEADERS = ((b"content-type", b"application/json"),)


def log_rejection(status: int, message: str) -> None:
    logger.warning("rejected request (%d): %s", status, message)


async def reject(
    send: Any, status: int, message: str, extra_headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer an ASGI request with ``status`` and ``{"error": message}``, and log it once."""
    log_rejection(status, message)
    payload = orjson.dumps({"error": message})
    headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode()), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
