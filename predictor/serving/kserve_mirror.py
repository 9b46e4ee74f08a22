"""What KServe's predict routes do with a body and an error, mirrored for the fast lane.

The lane (:mod:`.fast_lane`) answers predictions without KServe's app, so it must decode a
body as KServe's data plane decodes it and answer an error as KServe's handlers do. A client
cannot tell the two apart (``tests/bench/test_fast_lane_equivalence.py``); the KServe
behaviours copied here are pinned by ``tests/upstream/test_v1_predict.py``.

* V1: JSON when the content type is absent or one of :data:`JSON_CONTENT_TYPES`, raw bytes
  (which the model parses itself) otherwise; a body that does not parse, or a JSON object
  that may be a structured CloudEvent, is KServe's to answer (:data:`NOT_DECODED`).
* V2: a JSON body that KServe's own ``InferenceRequest`` accepts (:mod:`.fast_lane_v2`).
* Errors: ``{"error": "..."}`` (:mod:`.rejection`'s body, the bytes of KServe's handlers)
  with the status of :data:`KSERVE_ERROR_STATUS`, and KServe's log record.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from kserve import Model
from kserve.errors import (
    InferenceError,
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    ServerNotLive,
    ServerNotReady,
    UnsupportedProtocol,
)

from predictor.serving import fast_lane_v2
from predictor.serving.rejection import send_error_body

# Where KServe's error handlers log ("Exception:" with the exception); our log filter turns
# a client error into one WARNING line, here as there.
KSERVE_LOGGER = logging.getLogger("kserve")
# Content types KServe's data plane parses as JSON before the model sees the body
# (``application/cloudevents+json`` too, but that one is a CloudEvent: KServe answers it).
JSON_CONTENT_TYPES = frozenset(
    {"application/json", "application/ld+json", "application/octet-stream"}
)
# Headers after which KServe's data plane does more than parse JSON: a binary CloudEvent's
# (KServe needs all four), V2's binary-extension header (which our decoding checks on V1 too).
KSERVE_DECODED_HEADERS = frozenset(
    {"ce-specversion", "ce-source", "ce-type", "ce-id", "inference-header-content-length"}
)
CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json"
# Keys of a structured CloudEvent, which KServe unwraps from a JSON body.
CLOUDEVENT_KEY = "specversion"
# KServe's REST error handlers: status for an exception class ({"error": str(exception)});
# anything else is its catch-all 500.
KSERVE_ERROR_STATUS = {
    InvalidInput: 400,
    InferenceError: 500,
    ModelNotFound: 404,
    ModelNotReady: 503,
    NotImplementedError: 501,
    UnsupportedProtocol: 501,
    ServerNotLive: 503,
    ServerNotReady: 503,
}
NOT_DECODED = object()
# KServe's readiness check of a model, which by default returns its ``ready`` attribute.
KSERVE_HEALTHY = Model.healthy


def v1_payload(body: bytes, headers: dict[str, str]) -> Any:
    """The payload KServe's data plane hands the model, or NOT_DECODED when KServe must."""
    content_type = headers.get("content-type")
    if content_type is not None and content_type not in JSON_CONTENT_TYPES:
        return body
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return NOT_DECODED
    if type(payload) is dict and CLOUDEVENT_KEY in payload:
        return NOT_DECODED
    return payload


def v2_request(body: bytes, headers: dict[str, str], name: str) -> Any:
    """The InferRequest KServe's V2 route would build, or NOT_DECODED when KServe must.

    Only JSON bodies (no content type, or ``application/json``): FastAPI parses those as
    JSON and hands anything else to KServe as bytes.
    """
    if not is_json_for_v2(headers):
        return NOT_DECODED
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return NOT_DECODED
    request = fast_lane_v2.infer_request(payload, name)
    return NOT_DECODED if request is None else request


def is_json_for_v2(headers: dict[str, str]) -> bool:
    """Whether KServe's V2 route parses the body as JSON (FastAPI: no content type, or
    ``application/json`` with any parameters)."""
    content_type = headers.get("content-type")
    return content_type is None or (
        content_type.partition(";")[0].strip().lower() == "application/json"
    )


def error_status(error: Exception) -> int:
    """The status KServe's handlers answer ``error`` with (500: its catch-all)."""
    return next(
        (KSERVE_ERROR_STATUS[cls] for cls in type(error).__mro__ if cls in KSERVE_ERROR_STATUS),
        500,
    )


async def send_error(send: Any, error: Exception) -> None:
    """What KServe's handler for ``error`` logs and answers (a Starlette JSONResponse).

    Raises:
        The error itself, after answering, when KServe's catch-all would have handled it
        (its server-error middleware re-raises to uvicorn, which logs it and closes the
        connection).
    """
    KSERVE_LOGGER.error("Exception:", exc_info=error)
    caught = any(cls in KSERVE_ERROR_STATUS for cls in type(error).__mro__)
    message = str(error) if caught else f"{type(error).__name__} : {error}"
    await send_error_body(send, error_status(error), message)
    if not caught:
        raise error
