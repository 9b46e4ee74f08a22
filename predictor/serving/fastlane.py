"""The fast lane: ``POST /v1/models/<name>:predict`` answered without KServe's web framework.

KServe 0.21 takes every request through FastAPI (routing, dependency resolution, request and
response objects, exception middleware) and its data plane before the model sees it; for a
small model's prediction that walk costs more than the prediction. :class:`FastLane` is a plain
ASGI callable in front of KServe's app. A V1 prediction for a model that can answer
synchronously it handles itself, from the raw body to the response bytes, with the model's
own pipeline (``answer``: what KServe's endpoint reaches through ``Model.__call__``); every
other request goes to KServe's app untouched.

A client cannot tell which one answered (``tests/bench/test_fastpath_equivalence.py`` sends
the same requests to a server with and without the lane): the body is decoded as KServe's
data plane decodes it (JSON when the content type is absent or one of
:data:`JSON_CONTENT_TYPES`; raw bytes, which the model parses itself, otherwise), and the
answer is what KServe's endpoint and error handlers send: the model's bytes with its
content type, or a client error as ``{"error": "..."}`` (Starlette's JSONResponse bytes)
with KServe's log record. KServe answers whatever the lane would have to imitate further:
CloudEvents (binary ``ce-*`` headers, a structured content type, or a JSON body that may be
a structured event), V2's binary-extension header, a JSON body that does not parse, an
unknown or unready model, a ``root_path``.

Depends on the ASGI spec and on the model's ``answer``, not on KServe's or FastAPI's
internals; the KServe behaviours it mirrors are pinned by ``tests/upstream/test_v1_predict.py``.
Requests it answers skip what runs inside KServe's app, so :func:`wanted` leaves it out when
that would print something (KServe's timing lines, its access-log middleware).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import orjson
from kserve.errors import (
    InferenceError,
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    ServerNotLive,
    ServerNotReady,
    UnsupportedProtocol,
)

from predictor.serving import fastlane_v2

# Where KServe's error handlers log ("Exception:" with the exception); our log filter turns
# a client error into one WARNING line, here as there.
KSERVE_LOGGER = logging.getLogger("kserve")
PREFIX = "/v1/models/"
SUFFIX = ":predict"
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
# What a model's answer usually carries, and its ASGI form.
JSON_RESPONSE_HEADERS = {"content-type": "application/json"}
JSON_CONTENT_TYPE_HEADER = (b"content-type", b"application/json")
# Paths remembered with their model name (the lane's models' paths; a guard, not a limit).
MAX_REMEMBERED_PATHS = 64


class LaneModel(Protocol):
    """What the lane needs of a model (``predictor.pipeline.SynchronousModel`` has it):
    ``answer`` is its whole pipeline, and answers a V1 prediction (no CloudEvent) with the
    body's bytes and their headers."""

    answers_synchronously: bool

    async def healthy(self) -> bool: ...

    def answer(self, body: Any, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]: ...


class ModelRegistry(Protocol):
    """KServe's model repository, as the lane reads it (the models as they are now)."""

    def get_model(self, name: str) -> Any: ...


def wanted(enabled: bool, latency_logging: bool, access_log_format: str | None) -> bool:
    """Whether to put the lane in front of KServe's app.

    Not when switched off, nor when KServe's app would log the requests the lane answers:
    ``--enable_latency_logging`` (KServe's timing middleware prints lines) or
    ``--access_log_format`` (KServe adds an access-log middleware).
    """
    return enabled and not latency_logging and not access_log_format


class FastLane:
    """ASGI: V1 predictions answered by the model directly, anything else by ``app``."""

    def __init__(self, app: Any, registry: ModelRegistry):
        self.app = app
        self.registry = registry
        # path -> (model name, is V2), for paths of lane models
        self._routes: dict[str, tuple[str, bool]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        route = self._route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        model, name, v2 = route
        if not await model.healthy():
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        if not KSERVE_DECODED_HEADERS.isdisjoint(headers) or (
            headers.get("content-type") == CLOUDEVENT_CONTENT_TYPE
        ):
            await self.app(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body", b"")  # all of it at once: the common case
        else:
            body = await _read_body(message, receive)
            if body is None:
                return  # the client left before sending its body
        try:
            payload = _v2_request(body, headers, name) if v2 else _decoded(body, headers)
            if payload is NOT_DECODED:
                await self.app(scope, _replay(body, receive), send)
                return
            content, response_headers = model.answer(payload, headers)
            if v2:
                content = fastlane_v2.response_body(content)
        except Exception as error:
            await _send_error(send, error)
            return
        length = (b"content-length", str(len(content)).encode())
        if v2 or response_headers == JSON_RESPONSE_HEADERS:
            raw_headers = [JSON_CONTENT_TYPE_HEADER, length]
        else:
            raw_headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in response_headers.items()
                if name.lower() != "content-length"
            ]
            raw_headers.append(length)
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})

    def _route(self, scope: dict) -> tuple[LaneModel, str, bool] | None:
        """The model a V1 ``:predict`` or a V2 ``/infer`` is for, its name, and whether it is
        V2; None when the lane may not answer it."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        path = scope["path"]
        remembered = self._routes.get(path)
        if remembered is None:
            if path.startswith(PREFIX) and path.endswith(SUFFIX):
                name = path[len(PREFIX) : -len(SUFFIX)]
                if not name or "/" in name:
                    return None  # not KServe's route (``/v1/models/{model_name}:predict``)
                route = (name, False)
            elif (name := fastlane_v2.model_name(path)) is not None:
                route = (name, True)
            else:
                return None
        else:
            route = remembered
        # Looked up for every request: the repository's models can change (load/unload).
        model = self.registry.get_model(route[0])
        if not getattr(model, "answers_synchronously", False):
            return None
        if remembered is None and len(self._routes) < MAX_REMEMBERED_PATHS:
            self._routes[path] = route
        return model, route[0], route[1]


def _decoded(body: bytes, headers: dict[str, str]) -> Any:
    """The payload KServe's data plane hands the model, or NOT_DECODED when KServe must.

    JSON content types are parsed (a body that does not parse, or a JSON object that may
    be a structured CloudEvent, is left to KServe); any other content type reaches the
    model as the raw bytes, which it parses itself.
    """
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


def _v2_request(body: bytes, headers: dict[str, str], name: str) -> Any:
    """The InferRequest KServe's V2 route would build, or NOT_DECODED when KServe must.

    Only JSON bodies (no content type, or ``application/json``): FastAPI parses those as
    JSON and hands anything else to KServe as bytes.
    """
    content_type = headers.get("content-type")
    if content_type is not None and content_type.partition(";")[0].strip().lower() != (
        "application/json"
    ):
        return NOT_DECODED
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return NOT_DECODED
    request = fastlane_v2.infer_request(payload, name)
    return NOT_DECODED if request is None else request


async def _read_body(message: dict, receive: Any) -> bytes | None:
    """The whole request body from ``message`` on, or None when the client disconnects."""
    chunks = []
    while True:
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands the body already read to the next app, then the rest."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _send_error(send: Any, error: Exception) -> None:
    """What KServe's handler for ``error`` logs and answers (a Starlette JSONResponse).

    Raises:
        The error itself, after answering, when KServe's catch-all would have handled it
        (its server-error middleware re-raises to uvicorn, which logs it and closes the
        connection).
    """
    KSERVE_LOGGER.error("Exception:", exc_info=error)
    status = next(
        (KSERVE_ERROR_STATUS[cls] for cls in type(error).__mro__ if cls in KSERVE_ERROR_STATUS),
        None,
    )
    message = str(error) if status else f"{type(error).__name__} : {error}"
    content = json.dumps(
        {"error": message}, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()
    headers = [
        (b"content-length", str(len(content)).encode()),
        (b"content-type", b"application/json"),
    ]
    await _send(send, status or 500, headers, content)
    if status is None:
        raise error


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
