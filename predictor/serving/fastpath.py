"""Server-level speed-ups that keep every response identical.

Each is behaviour-preserving (same routes, bodies, status codes, headers and log lines;
``tests/bench/test_fastpath_equivalence.py`` compares a tuned and a plain server request by
request) and was measured with ``bench/run.py`` (server on one core, wrk on the other; us =
server CPU per request, V1 1 instance at 16 connections, A/B in one run). Where they go::

    fastpath.tune_app(app)              # wherever the FastAPI app gets its middleware, in
                                        # every serving process (each --workers child too)
    fastpath.use_event_loop(event_loop) # before ModelServer.start's asyncio.run

* :func:`tune_app`: KServe's ``POST /v1/models/<name>:predict`` goes straight to KServe's
  endpoint instead of through FastAPI's route scan and dependency resolution
  (:class:`DirectV1Predict`; 157 -> 96 us), and KServe's ``TimingMiddleware`` is left out
  when nothing would print its timings (``kserve.trace`` below INFO, i.e. no
  ``--enable_latency_logging``): it matches the route table again to name a metric, reads
  the process CPU clock twice and formats two log lines that are then dropped
  (190 -> 167 us).
* :func:`event_loop_factory` / :func:`use_event_loop`: uvloop for the single-process
  server. ``ModelServer.start`` runs under ``asyncio.run`` (the stdlib loop); only
  ``--workers > 1`` children get uvicorn's ``loop="auto"`` (uvloop). ``--event-loop
  asyncio`` keeps the stdlib loop. (190 -> 184 us alone, 167 -> 159 us with the above.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

# fastapi, starlette and timing_asgi are imported where used: importing this module must
# stay cheap (the server imports it before KServe builds its app).

TRACE_LOGGER = "kserve.trace"
V1_PREDICT_PATH = "/v1/models/{model_name}:predict"
V1_PREDICT_REGEX = "^/v1/models/(?P<model_name>[^/]+):predict$"
_TUNED = "_predictor_fastpath_tuned"


def timing_is_logged() -> bool:
    """True when KServe's per-request timing lines would actually be printed."""
    return logging.getLogger(TRACE_LOGGER).isEnabledFor(logging.INFO)


def tune_app(app: Any, keep_timing: bool | None = None, direct_predict: bool = True) -> None:
    """Build ``app``'s middleware stack without TimingMiddleware, with the direct V1 route.

    The stack is built lazily on the first request, so this works any time before it
    (after KServe's ``create_application`` too); calling it twice is harmless.

    Args:
        app: The FastAPI app (``kserve.model_server.app``), before its first request.
        keep_timing: Keep the middleware; ``None`` decides when the stack is built, from
            whether the ``kserve.trace`` logger prints INFO (``--enable_latency_logging``).
        direct_predict: Hand ``POST /v1/models/<name>:predict`` straight to KServe's
            endpoint (see :class:`DirectV1Predict`).
    """
    if getattr(app, _TUNED, False):
        return
    build = app.build_middleware_stack

    def build_tuned() -> Any:
        from timing_asgi import TimingMiddleware

        keep = timing_is_logged() if keep_timing is None else keep_timing
        saved = app.user_middleware
        if not keep:
            app.user_middleware = [m for m in saved if m.cls is not TimingMiddleware]
        try:
            stack = build()
        finally:
            app.user_middleware = saved
        if direct_predict:
            install_direct_predict(app, stack)
        return stack

    app.build_middleware_stack = build_tuned
    setattr(app, _TUNED, True)


class DirectV1Predict:
    """Innermost ASGI app: ``POST /v1/models/<name>:predict`` skips FastAPI's route scan.

    Everything else goes to the router. The predict request reaches the very endpoint the
    router would pick (KServe's ``V1Endpoints.predict``, found by its path and method) with
    the same ``model_name`` and ``Request``, inside the same middleware, exception handlers
    and exit stack, so responses and errors are byte-identical; only the route table walk
    (twice per request in FastAPI's included routers) and the dependency resolution for
    ``(model_name: str, request: Request)`` are skipped. KServe registers no earlier route
    that fully matches a POST to this path (``GET /v1/models/{model_name}`` only partially).
    Requests under a ``root_path`` or traced by FastAPI's telemetry take the normal route.
    """

    def __init__(self, router: Any, route: Any):
        from starlette.requests import Request

        self.router = router
        self.route = route
        self.path_regex = route.path_regex
        self.endpoint = route.endpoint
        self.request_class = Request

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and scope.get("fastapi.telemetry") is None
        ):
            match = self.path_regex.match(scope["path"])
            if match is not None:
                model_name = match.group("model_name")
                scope.setdefault("router", self.router)
                scope["endpoint"] = self.endpoint
                scope["path_params"] = {"model_name": model_name}
                scope["route"] = self.route
                request = self.request_class(scope, receive, send)
                response = await self.endpoint(model_name=model_name, request=request)
                await response(scope, receive, send)
                return
        await self.router(scope, receive, send)


def find_route(routes: Any, path: str, method: str) -> Any:
    """The APIRoute for ``path``/``method``, looking inside included routers."""
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            if route.path == path and method in (route.methods or ()):
                return route
            continue
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner is None:
            inner = getattr(route, "routes", None)
        if inner:
            found = find_route(inner, path, method)
            if found is not None:
                return found
    return None


def install_direct_predict(app: Any, stack: Any) -> bool:
    """Put :class:`DirectV1Predict` between the innermost middleware and the router."""
    route = find_route(app.router.routes, V1_PREDICT_PATH, "POST")
    if route is None or route.path_regex.pattern != V1_PREDICT_REGEX:
        return False
    # A body-size limit set on the app or route is applied by FastAPI's route wrapper.
    if getattr(app, "max_body_size", None) is not None or route.max_body_size is not None:
        return False
    layer = stack
    for _ in range(64):
        inner = getattr(layer, "app", None)
        if inner is app.router:
            layer.app = DirectV1Predict(app.router, route)
            return True
        if inner is None:
            return False
        layer = inner
    return False


def event_loop_factory(event_loop: str = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """The loop uvicorn's ``--event-loop`` would pick: uvloop for auto/uvloop if installed.

    Use as ``asyncio.Runner(loop_factory=event_loop_factory(args.event_loop))`` in place of
    ``asyncio.run``.
    """
    if event_loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if event_loop == "uvloop":
                raise
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def use_event_loop(event_loop: str = "auto") -> None:
    """Make ``asyncio.run`` (as called by ``ModelServer.start``) use :func:`event_loop_factory`.

    For callers that cannot pass a loop factory (KServe's ``ModelServer.start`` calls
    ``asyncio.run`` itself): sets the event loop policy of this process, and a current loop,
    because ``ModelServer.setup_event_loop`` calls ``asyncio.get_event_loop()`` before
    ``asyncio.run`` (the stdlib policy creates one there; uvloop's raises instead).
    """
    if event_loop_factory(event_loop) is asyncio.new_event_loop:
        return
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(uvloop.new_event_loop())
