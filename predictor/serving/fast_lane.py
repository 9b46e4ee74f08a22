"""The fast lane: predictions answered without KServe's web framework, in front of the server.

KServe 0.21 takes every request through FastAPI (routing, dependency resolution, request and
response objects, exception middleware) and its data plane before the model sees it; for a
small model's prediction that walk costs more than the prediction. :class:`FastLane` is a
plain ASGI callable, the outermost one. A V1 ``POST /v1/models/<name>:predict`` or V2 JSON
``POST /v2/models/<name>/infer`` for a model that can answer synchronously it handles
itself, from the raw body to the response bytes, with the model's own pipeline (``answer``:
what KServe's endpoint reaches through ``Model.__call__``); every other request goes to the
server's layers and KServe's app untouched.

A client cannot tell which one answered (``tests/bench/test_fast_lane_equivalence.py`` sends
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

import time
from typing import Any, Protocol

from predictor.serving import fast_lane_v2, http_metrics, sliced_json, sliced_v2
from predictor.serving.admission import InstanceBudget, Overloaded, instances_in
from predictor.serving.drain import Drain
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
from predictor.serving.limits import (
    RETRY_AFTER_HEADER,
    BodyTooLarge,
    ClientGone,
    RequestLimitMiddleware,
)
from predictor.serving.refusals import RefusedRoutesMiddleware
from predictor.serving.rejection import note_request, reject
from predictor.serving.routes import Route, route_of
from predictor.settings import Settings

# What a model's answer usually carries, and its ASGI form.
JSON_RESPONSE_HEADERS = {"content-type": "application/json"}
JSON_CONTENT_TYPE_HEADER = (b"content-type", b"application/json")
# Headers after which the lane leaves a request to the server: KServe decodes more than JSON,
# or the limits layer inflates the body.
LANE_REFUSED_HEADERS = KSERVE_DECODED_HEADERS | {"content-encoding"}
LANE_VERBS = ("predict", "infer")


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


async def answer_in_slices(model: Any, payload: Any, size: int) -> bytes | None:
    """The model's answer (V1, or plain V2 JSON) worked on in slices that yield the loop,
    when it offers that (``BreastCancerModel.answer_in_slices``); None: answer in one go."""
    slices = getattr(model, "answer_in_slices", None)
    return None if slices is None else await slices(payload, size)


class ModelRegistry(Protocol):
    """KServe's model repository, as the lane reads it (the models as they are now)."""

    def get_model(self, name: str) -> Any: ...


def wanted(settings: Settings) -> bool:
    """Whether to put the lane in front of the server.

    Not when switched off, nor when KServe's app would log the requests the lane answers:
    ``--enable_latency_logging`` (KServe's timing middleware prints lines) or
    ``--access_log_format`` (KServe adds an access-log middleware).
    """
    return (
        settings.enable_fast_lane
        and not settings.enable_latency_logging
        and not settings.access_log_format
    )


class FastLane:
    """ASGI: predictions answered by the model directly, anything else by ``app``.

    ``app`` is the server: our layers around KServe's app. Pass those layers' objects (the
    drain state, the refused routes, the limits, the instance budget) so the lane consults
    them; left out, each is a stand-in that never acts (a lane in front of KServe's bare
    app). A V1 prediction, or a plain V2 JSON one, of more than ``slice_instances``
    instances is parsed and answered in slices that let other requests in between
    (:mod:`.sliced_json`, :mod:`.sliced_v2`, :mod:`predictor.sliced_answer`,
    :mod:`predictor.sliced_v2_answer`); 0 answers every request in one go.
    """

    def __init__(
        self,
        app: Any,
        registry: ModelRegistry,
        *,
        drain: Drain | None = None,
        refusals: RefusedRoutesMiddleware | None = None,
        limits: RequestLimitMiddleware | None = None,
        budget: InstanceBudget | None = None,
        slice_instances: int = 0,
    ):
        self.app = app
        self.registry = registry
        self.drain = drain or Drain()
        self.refusals = refusals or RefusedRoutesMiddleware(app, enable_model_repository_api=True)
        self.limits = limits or RequestLimitMiddleware(app, Settings(request_timeout=0))
        self.budget = budget or InstanceBudget.unlimited()
        self.slice_instances = slice_instances

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        found = self._model(scope)
        if found is None or self.drain.draining:
            await self.app(scope, receive, send)  # the layers answer (Connection: close...)
            return
        model, route = found
        # KServe asks the model's healthy(), which by default returns ``ready``.
        if not (model.ready if type(model).healthy is KSERVE_HEALTHY else await model.healthy()):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        if (
            not LANE_REFUSED_HEADERS.isdisjoint(headers)
            or headers.get("content-type") == CLOUDEVENT_CONTENT_TYPE  # KServe decodes those
        ):
            await self.app(scope, receive, send)
            return
        note_request(scope)
        unread = await self._answer(scope, headers, receive, send, model, route)
        if unread is not None:
            await self.app(scope, unread, send)  # after the lane's deadline is finished

    async def _answer(
        self, scope: dict, headers: dict, receive: Any, send: Any, model: LaneModel, route: Route
    ) -> Any:
        """Answer the request within its deadline and count the answer; or return the
        ``receive`` that hands the body to ``app``, which answers instead (KServe decodes it)."""
        started = time.perf_counter()
        limits = self.limits
        body_received = False
        status = 0  # the status sent, once the answer has started
        try:
            with limits.deadline() as deadline:
                try:
                    body = await limits.read_body(scope["headers"], receive)
                except BodyTooLarge as error:
                    body = None
                    status = await limits.refuse(send, error)
                except ClientGone:
                    return None
                if body is not None:
                    body_received = True
                    # A body cut in pieces has each piece's depth checked before it is parsed.
                    pieces = self._sliced(body, headers, route)
                    problem = None if pieces else limits.depth_problem((), body)  # all JSON
                    if problem is not None:
                        status = 400
                        await reject(send, 400, problem)
                    else:
                        status, failure = await self._respond(
                            body, pieces, headers, send, model, route
                        )
                        if status == 0:
                            return _replay(body, receive)
                        if failure is not None:
                            await send_error(send, failure)  # re-raises KServe's catch-all
            if deadline.expired:
                timed_out = await limits.timed_out(scope["path"], send, body_received, status != 0)
                status = status or timed_out
        finally:
            if status:
                http_metrics.record(route.endpoint, status, time.perf_counter() - started)
        return None

    async def _respond(
        self, body: bytes, pieces: Any, headers: dict, send: Any, model: LaneModel, route: Route
    ) -> tuple[int, Exception | None]:
        """Send the model's answer: (200, None); or the model's error, unsent, with the
        status KServe answers it with; or (0, None) when KServe must decode the body."""
        v2 = route.verb == "infer"
        size = self.slice_instances
        try:
            if pieces is None:
                payload = _decoded(body, headers, route)
                if payload is NOT_DECODED:
                    return 0, None
            count = instances_in(payload) if pieces is None else pieces.count
            budget = self.budget
            budget.take(count)  # Overloaded: 503
            try:
                if pieces is not None:
                    payload = await pieces.instances(self.limits.max_json_depth)
                    if payload is None:  # the whole body decides: its depth, then its parse
                        problem = self.limits.depth_problem((), body)
                        if problem is not None:
                            await reject(send, 400, problem)
                            return 400, None
                        payload = _decoded(body, headers, route)
                        if payload is NOT_DECODED:
                            return 0, None
                content = await answer_in_slices(model, payload, size) if count > size > 0 else None
                if content is not None:
                    response_headers = JSON_RESPONSE_HEADERS
                else:
                    content, response_headers = model.answer(payload, headers, cloudevent=False)
            finally:
                budget.give_back(count)
            if v2 and type(content) is not bytes:  # not already answered in slices
                content = fast_lane_v2.response_body(content)
        except Overloaded as refused:
            await reject(send, 503, str(refused), (RETRY_AFTER_HEADER,))
            return 503, None
        except Exception as error:
            return error_status(error), error
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
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})
        return 200, None

    def _sliced(self, body: bytes, headers: dict, route: Route) -> Any:
        """The body cut into pieces to parse apart, or None: parse it whole."""
        if route.verb == "infer":
            return sliced_v2.sliced(body, self.slice_instances, headers, route.model)
        return sliced_json.sliced(body, self.slice_instances, route.verb)

    def _model(self, scope: dict) -> tuple[LaneModel, Route] | None:
        """The lane model a POST to ``:predict`` or V2 ``/infer`` is for, and its route;
        None when the lane may not answer it."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        route = route_of(scope["path"])
        if route.verb not in LANE_VERBS or route.model is None:
            return None
        # A V1 POST is never refused; a V2 one may be (a model version).
        if route.protocol == "v2" and self.refusals.refusal(scope, route) is not None:
            return None
        # Looked up for every request: the repository's models can change (load/unload).
        model = self.registry.get_model(route.model)
        if not getattr(model, "answers_synchronously", False):
            return None
        return model, route


def _decoded(body: bytes, headers: dict, route: Route) -> Any:
    """The payload KServe's route hands the model, or NOT_DECODED when KServe must decode."""
    if route.verb == "infer":
        return v2_request(body, headers, route.model)
    return v1_payload(body, headers)


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
