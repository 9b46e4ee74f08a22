"""``POST /v1/models/<name>:feedback``: confirmed outcomes, answered by the model's ``feedback``.

KServe's app has no such route; this adds one to it, so the request goes through every layer
a ``:predict`` that the fast lane leaves to KServe goes through (request metrics, drain,
refused routes, request limits) and KServe's error answers (400 for ``InvalidInput``, 404
for an unknown model, 503 before the model is ready). Its instances are scored like a
``:predict``'s, so they take from the same instance budget (503 with Retry-After past it).
What is validated, scored and counted is the model's concern (``predictor.feedback``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from kserve.errors import ModelNotReady

from predictor.responses import ORJSON_OPTIONS
from predictor.serving.admission import instances_in
from predictor.serving.decoding import ClientInputDataPlane
from predictor.serving.routes import fastapi_v1_route

FEEDBACK_PATH = fastapi_v1_route("feedback")
# What /openapi.json documents for the body (the model checks it, with its own messages).
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["instances", "outcomes"],
    "properties": {
        "instances": {
            "type": "array",
            "description": "the cases, in any form :predict accepts",
            "items": {},
        },
        "outcomes": {
            "type": "array",
            "description": "the confirmed diagnosis of each case, in the same order",
            "items": {"type": "string", "enum": ["malignant", "benign"]},
        },
    },
}


def add_feedback_route(app: FastAPI, dataplane: ClientInputDataPlane) -> None:
    """Route ``POST /v1/models/{model_name}:feedback`` to the model's ``feedback(body)``."""

    async def feedback(model_name: str, request: Request) -> Response:
        if not await dataplane.model_ready(model_name, True):  # ModelNotFound: 404
            raise ModelNotReady(model_name)
        record: Any = getattr(dataplane.model_registry.get_model(model_name), "feedback", None)
        if record is None:
            raise NotImplementedError(f"model {model_name} takes no outcome feedback")
        payload: Any = await request.body()
        with contextlib.suppress(orjson.JSONDecodeError):  # the model says what is wrong: 400
            payload = orjson.loads(payload)
        with dataplane.budget.held(instances_in(payload)):  # Overloaded: 503
            answer = record(payload)
        return Response(orjson.dumps(answer, option=ORJSON_OPTIONS), media_type="application/json")

    app.add_api_route(
        FEEDBACK_PATH,
        feedback,
        methods=["POST"],
        summary="Confirmed outcomes of earlier cases, counted against the model's predictions",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": REQUEST_SCHEMA}},
            }
        },
    )
