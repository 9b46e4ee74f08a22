"""The raw floor (bench/raw_floor.py) answers like our predictor would, from a bare ASGI app."""

from __future__ import annotations

import json

import numpy as np

from bench.raw_floor import constant_app
from predictor.responses import AnswerContext, v1_body

MODEL = "breast-cancer"


async def call(method: str, path: str, chunks: list[bytes]) -> tuple[int, dict, list]:
    """One request through the ASGI callable; the body arrives in ``chunks``."""
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    await constant_app(MODEL)({"type": "http", "method": method, "path": path}, receive, send)
    start, body = sent
    return start["status"], json.loads(body["body"]), incoming


def shape(value: object) -> object:
    """Keys and nesting of a JSON value, without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


async def test_v1_answer_is_shaped_like_ours_and_the_whole_body_is_read() -> None:
    status, body, unread = await call("POST", f"/v1/models/{MODEL}:predict", [b"{", b"}"])
    ours = v1_body(np.array([0.25]), AnswerContext(0.5, MODEL, "v1"))
    assert status == 200 and unread == []
    assert shape(body) == shape(json.loads(json.dumps(ours)))


async def test_readiness_and_unknown_paths() -> None:
    assert (await call("GET", f"/v1/models/{MODEL}", [b""]))[0] == 200
    assert (await call("POST", f"/v2/models/{MODEL}/infer", [b"{}"]))[0] == 200
    assert (await call("POST", "/v1/models/other:predict", [b"{}"]))[0] == 404
