"""The fast lane: predictions answered without KServe's web framework, in front of the server.

KServe 0.21 takes every request through FastAPI (routing, dependency resolution, request and
response objects, exception middleware) and its data plane before the model sees it; for a
small model's prediction that walk costs more than the prediction. :class:`FastLane` is a
plain ASGI callable, the outermost one. A V1 ``POST /v1/models/<name>:predict`` or V2 JSON
``POST /v2/models/<name>/infer`` for a model that can answer synchronously it handles
itself, from the raw body to the response bytes, with the model's own pipeline (``answer``:
what KServe's endpoint reaches through ``Model.__call__``); every other request goes to the
server's layers and KServe's app untouched.

A client cannot tell which one answered (``tests/bench/test_fastpath_equivalence.py`` sends
the same requests to a server with and without the lane). The body is decoded and errors
are answered as KServe would (:mod:`.kserve_mirror`); KServe answers whatever the lane would
have to imitate further (CloudEvents, V2's binary extension, a body that does not parse, an
unknown or unready model, a ``root_path``). The server's own layers (:mod:`.http_metrics`,
:mod:`.drain`, :mod:`.routes`, :mod:`.limits`) are bypassed only for a request none of them
would act on: the lane asks each, keeps the request deadline and counts the answer.

Depends on the ASGI spec, the model's ``answer`` and our layers, not on KServe's or
FastAPI's internals (of KServe, only on its documented default ``healthy()``, which returns
``ready``: ``tests/upstream/test_v1_predict.py`` pins it). Requests it answers skip what
runs inside KServe's app, so :func:`wanted` leaves it out when that would print something
(KServe's timing lines, its access-log middleware).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from predictor.serving import fastlane_v2
from predictor.serving.drain import Drain
from predictor.serving.http_metrics import HttpMetrics
from predictor.serving.kserve_mirror import (
    CLOUDEVENT_CONTENT_TYPE,
    KSERVE_DECODED_HEADERS,
    KSERVE_HEALTHY,
    NOT_DECODED,
    error_status,
    send_error,
    v1_payload,
    v2_request,
)
from predictor.serving.limits import Limits, RequestLimitMiddleware, json_depth
from predictor.serving.routes import RefusedRoutesMiddleware

PREFIX = "/v1/models/"
SUFFIX = ":predict"
# What a model's answer usually carries, and its ASGI form.
JSON_RESPONSE_HEADERS = {"content-type": "application/json"}
JSON_CONTENT_TYPE_HEADER = (b"content-type", b"application/json")
# Headers after which the lane leaves a request to the server: KServe decodes more than JSON,
# or the limits layer inflates the body.
LANE_REFUSED_HEADERS = KSERVE_DECODED_HEADERS | {"content-encoding"}
# Paths remembered with their model name (the lane's models' paths; a guard, not a limit).
MAX_REMEMBERED_PATHS = 64


class LaneModel(Protocol):
    """What the lane needs of a model (``predictor.pipeline.SynchronousModel`` has it):
    ``answer`` is its whole pipeline, and answers a V1 prediction (no CloudEvent) with the
    body's bytes and their headers."""

    answers_synchronously: bool
    ready: bool

    async def healthy(self) -> bool: ...

    def answer(
        self, body: Any, headers: dict[str, str], *, cloudevent: bool
    ) -> tuple[bytes, dict[str, str]]: ...


class ModelRegistry(Protocol):
    """KServe's model repository, as the lane reads it (the models as they are now)."""

    def get_model(self, name: str) -> Any: ...


def wanted(enabled: bool, latency_logging: bool, access_log_format: str | None) -> bool:
    """Whether to put the lane in front of the server.

    Not when switched off, nor when KServe's app would log the requests the lane answers:
    ``--enable_latency_logging`` (KServe's timing middleware prints lines) or
    ``--access_log_format`` (KServe adds an access-log middleware).
    """
    return enabled and not latency_logging and not access_log_format


class FastLane:
    """ASGI: predictions answered by the model directly, anything else by ``app``.

    ``app`` is the server: our layers around KServe's app. Pass those layers' objects (the
    drain state, the refused routes, the limits, the request metrics) so the lane consults
    them; left out, each is a stand-in that never acts (a lane in front of KServe's bare app).
    """

    def __init__(
        self,
        app: Any,
        registry: ModelRegistry,
        *,
        drain: Drain | None = None,
        refusals: RefusedRoutesMiddleware | None = None,
        limits: RequestLimitMiddleware | None = None,
        metrics: HttpMetrics | None = None,
    ):
        self.app = app
        self.registry = registry
        self.drain = drain or Drain()
        self.refusals = refusals or RefusedRoutesMiddleware(app, enable_model_repository_api=True)
        self.limits = limits or RequestLimitMiddleware(app, Limits(request_timeout=0))
        self.metrics = metrics or HttpMetrics(app)
        self._max_body_bytes = self.limits.limits.max_body_bytes
        self._max_depth = self.limits.limits.max_json_depth
        # path -> (model name, is V2), for paths of lane models
        self._routes: dict[str, tuple[str, bool]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        route = self._route(scope)
        # A V1 POST is never refused; a V2 one may be (a model version in the query).
        if route is None or self.drain.draining or (route[2] and self.refusals.refuses(scope)):
            await self.app(scope, receive, send)  # the layers answer (Connection: close...)
            return
        model = route[0]
        # KServe asks the model's healthy(), which by default returns ``ready``.
        if not (model.ready if type(model).healthy is KSERVE_HEALTHY else await model.healthy()):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        length = headers.get("content-length", "0")
        if (
            not LANE_REFUSED_HEADERS.isdisjoint(headers)
            or headers.get("content-type") == CLOUDEVENT_CONTENT_TYPE  # KServe decodes those
            or not length.isdigit()
            or int(length) > self._max_body_bytes  # a 413
        ):
            await self.app(scope, receive, send)
            return
        unread = await self._answer(scope, headers, receive, send, route)
        if unread is not None:
            await self.app(scope, unread, send)  # after the lane's deadline is finished

    async def _answer(
        self,
        scope: dict,
        headers: dict[str, str],
        receive: Any,
        send: Any,
        route: tuple[LaneModel, str, bool],
    ) -> Any:
        """Answer the request within its deadline and count the answer; or return the
        ``receive`` that hands the body read so far to ``app``, which answers instead (the
        limits refuse it, or KServe decodes it)."""
        started = time.perf_counter()
        deadlines = self.limits.deadlines
        deadline = deadlines.start() if deadlines is not None else None
        body_received = False
        status = 0  # the status sent, once the answer has started
        try:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body = message.get("body", b"")  # all of it at once: the common case
            else:
                body, complete = await _read_body(message, receive, self._max_body_bytes)
                if body is None:
                    return None  # the client left before sending its body
                if not complete:
                    return _replay(body, receive, more_body=True)
            body_received = True
            # All of the body is JSON: a V2 binary-extension request is not the lane's.
            limit, max_depth = self._max_body_bytes, self._max_depth
            if len(body) > limit or json_depth(body, max_depth) > max_depth:
                return _replay(body, receive)  # the limits answer it
            model, name, v2 = route
            try:
                payload = v2_request(body, headers, name) if v2 else v1_payload(body, headers)
                if payload is NOT_DECODED:
                    return _replay(body, receive)
                content, response_headers = model.answer(payload, headers, cloudevent=False)
                if v2:
                    content = fastlane_v2.response_body(content)
            except Exception as error:
                status = error_status(error)
                await send_error(send, error)
                return None
            length = (b"content-length", str(len(content)).encode())
            if v2 or response_headers == JSON_RESPONSE_HEADERS:
                raw_headers = [JSON_CONTENT_TYPE_HEADER, length]
            else:
                raw_headers = [
                    (key.lower().encode("latin-1"), value.encode("latin-1"))
                    for key, value in response_headers.items()
                    if key.lower() != "content-length"
                ]
                raw_headers.append(length)
            status = 200
            await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
            await send({"type": "http.response.body", "body": content})
            return None
        except asyncio.CancelledError:
            if deadline is None or not deadlines.cut_off(deadline):
                raise  # cancelled by someone else (server shutdown), not our deadline
            timed_out = await self.limits.timed_out(scope["path"], send, body_received, status != 0)
            status = status or timed_out
            return None
        finally:
            if deadline is not None:
                deadlines.finish(deadline)
            if status:
                endpoint = "infer" if route[2] else "predict"
                self.metrics.record(endpoint, status, time.perf_counter() - started)

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


async def _read_body(message: dict, receive: Any, limit: int) -> tuple[bytes | None, bool]:
    """The body from ``message`` on and True once complete; what was read and False once it
    is larger than ``limit``; (None, False) when the client disconnects."""
    chunks = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False
        message = await receive()


def _replay(body: bytes, receive: Any, more_body: bool = False) -> Any:
    """A ``receive`` that hands the body already read to the next app, then the rest."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": more_body}

    return replay
