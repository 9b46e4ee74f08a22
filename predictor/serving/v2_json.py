"""Open Inference Protocol JSON without ``null`` members.

KServe 0.21 renders its V2 responses from pydantic models whose optional fields it leaves
unset, so every answer carries ``"parameters": null`` (top level and per output) and model
metadata ``"versions": null`` (canary: ``tests/upstream/test_v2_json.py``). The protocol
marks these fields optional: absent, not null. This middleware drops ``null`` object
members from JSON answers under ``/v2/`` (values inside arrays are left alone), once per
response, after KServe has rendered it; any other response passes untouched.
"""

from __future__ import annotations

from typing import Any

import orjson

from predictor.serving.routes import route_of

JSON_TYPE = b"application/json"


class TidyV2JsonMiddleware:
    """Drops ``null`` object members from the JSON bodies of ``/v2/`` responses."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or route_of(scope["path"]).protocol != "v2":
            await self.app(scope, receive, send)
            return
        held: dict | None = None

        async def tidy_send(message: dict) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and _is_json(message):
                held = message  # sent with the body, whose length may change
                return
            if held is not None and message["type"] == "http.response.body":
                start, held = held, None
                body = message.get("body", b"")
                if not message.get("more_body", False) and b"null" in body:
                    tidied = _without_nulls(body)
                    if tidied is not None:
                        start = _with_length(start, len(tidied))
                        message = {**message, "body": tidied}
                await send(start)
            await send(message)

        await self.app(scope, receive, tidy_send)


def _is_json(start: dict) -> bool:
    return any(
        name == b"content-type" and value.startswith(JSON_TYPE)
        for name, value in start.get("headers", ())
    )


def _without_nulls(body: bytes) -> bytes | None:
    """The body re-rendered without null members, or None when it has none (or is not JSON)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    tidied = drop_nulls(document)
    return orjson.dumps(tidied) if tidied != document else None


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) if isinstance(item, dict | list) else item for item in value]
    return value


def _with_length(start: dict, length: int) -> dict:
    headers = [(n, v) for n, v in start.get("headers", ()) if n != b"content-length"]
    return {**start, "headers": [*headers, (b"content-length", str(length).encode())]}
