"""The model server: KServe's REST and gRPC servers with drain, limits and 4xx for clients.

:func:`serve` takes a loaded model and the options read at start-up, and returns once the
server has drained. What it adds to ``kserve.ModelServer`` (0.21), one module each:
graceful drain (:mod:`.drain`), request limits (:mod:`.limits`), refused routes and JSON
error bodies (:mod:`.refusals`), 400s for undecodable input (:mod:`.decoding`), worker
supervision (:mod:`.workers`), the fast lane for V1 and V2 JSON predictions
(:mod:`.fast_lane`), uvloop (:mod:`.eventloop`), gRPC health and drain (:mod:`.grpc`) and
null-free V2 JSON (:mod:`.v2_json`).

uvicorn serves our ASGI layers wrapped around KServe's app, outermost first::

    [Authentication](FastLane(HttpMetrics([MultiProcessMetrics](DrainMiddleware(
        RefusedRoutesMiddleware(RequestLimitMiddleware(TidyV2JsonMiddleware(kserve_app))))))))

(bearer tokens and the audit trail in :mod:`.auth`, with ``--auth_issuer``; request
metrics in :mod:`.http_metrics`; ``/metrics`` summed over ``--workers`` by
:mod:`.multiprocess_metrics`, when that mode is on; every layer tells routes apart with
:mod:`.routes`), built in
:meth:`PredictorRESTServer.create_application`, which every ``--workers`` child runs itself
(each re-imports KServe's app, so an app built in the parent would be lost).
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
from typing import Any

from fastapi.exceptions import RequestValidationError
from kserve import Model, ModelServer
from kserve import model_server as kserve_model_server
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.protocol.rest.server import RESTServer
from starlette.exceptions import HTTPException as StarletteHTTPException

from predictor.serving import eventloop, fast_lane, multiprocess_metrics, startup
from predictor.serving.admission import InstanceBudget, Overloaded, overloaded_handler
from predictor.serving.auth import Authentication
from predictor.serving.decoding import ClientInputDataPlane
from predictor.serving.drain import Drain, DrainingUvicornServer, DrainMiddleware
from predictor.serving.feedback import add_feedback_route
from predictor.serving.grpc import PredictorGRPCServer
from predictor.serving.http_metrics import HttpMetrics
from predictor.serving.limits import RequestLimitMiddleware
from predictor.serving.logs import configure_logging
from predictor.serving.ports import PortInUse, check_ports_free
from predictor.serving.refusals import (
    RefusedRoutesMiddleware,
    http_error_handler,
    validation_error_handler,
)
from predictor.serving.tokens import Verifier
from predictor.serving.v2_json import TidyV2JsonMiddleware
from predictor.serving.workers import (
    PredictorRESTMultiProcess,
    ServerSetupError,
    require_picklable,
)
from predictor.settings import Settings

logger = logging.getLogger("predictor.serving.server")

# Used for the phase after the drain window when request_timeout is 0 (no per-request bound).
UNBOUNDED_GRACE_SECONDS = 30


def serve(model: Model, settings: Settings) -> int:
    """Serve a loaded, ready model until drained; the process's exit code.

    Returns:
        0 after a drain, 2 when the settings cannot work with this model or a port is taken
        (logged).
    """
    try:
        check_ports_free(settings)
        verifier = Verifier.from_settings(settings)
        if verifier is not None:
            # Before anything listens: the readiness probe passes only once tokens can be
            # checked.
            verifier.keys.load()
        PredictorServer(settings, verifier).start([model])
    except (ServerSetupError, PortInUse) as error:
        logger.error("%s", error)
        return 2
    return 0


class PredictorRESTServer(RESTServer):
    """KServe's REST server with our middleware, error handlers and draining uvicorn server."""

    def __init__(self, *args, settings: Settings, verifier: Verifier | None = None, **kw):
        super().__init__(*args, **kw)
        self.settings = settings
        self.verifier = verifier
        self.drain = Drain(settings.drain_seconds)
        self._server = DrainingUvicornServer(self.config, self.drain)

    def create_application(self):
        super().create_application()
        app = kserve_model_server.app
        app.add_exception_handler(RequestValidationError, validation_error_handler)
        app.add_exception_handler(StarletteHTTPException, http_error_handler)
        app.add_exception_handler(Overloaded, overloaded_handler)  # 503 + Retry-After
        add_feedback_route(app, self.dataplane)  # POST /v1/models/<name>:feedback
        # What uvicorn serves: config.app was KServe's import string until now.
        self.config.app = self.wrap(app)

    def wrap(self, app: Any) -> Any:
        """KServe's app inside our layers: the drain state is looked at first, then refused
        routes, then the limits (so KServe gets a body within them, decompressed); V2 JSON
        from KServe's app is tidied on its way out. The fast lane goes in front of them all
        and consults each for the predictions it answers itself."""
        settings = self.settings
        limits = RequestLimitMiddleware(TidyV2JsonMiddleware(app), settings)
        refusals = RefusedRoutesMiddleware(
            limits, enable_model_repository_api=settings.enable_model_repository_api
        )
        app = DrainMiddleware(refusals, self.drain)
        # Every answer is counted, /metrics scrapes too (endpoint "other").
        metrics_dir = multiprocess_metrics.active_directory()
        if metrics_dir is not None:
            app = multiprocess_metrics.MultiProcessMetrics(app, metrics_dir)
        app = HttpMetrics(app)
        if fast_lane.wanted(settings):
            app = fast_lane.FastLane(
                app,
                self.dataplane.model_registry,
                drain=self.drain,
                refusals=refusals,
                limits=limits,
                budget=self.dataplane.budget,
                slice_instances=settings.slice_instances,
            )
        return app if self.verifier is None else Authentication(app, self.verifier)

    def run(self, sockets=None):
        """Entry point of each ``--workers > 1`` child: our logging, then KServe's run."""
        configure_logging(self.settings)
        # Children never run __main__: freeze their start-up heap too (10k-instance p99).
        startup.end()
        super().run(sockets=sockets)


class PredictorServer(ModelServer):
    """``kserve.ModelServer`` with graceful drain, request limits and 4xx for client errors."""

    def __init__(self, settings: Settings, verifier: Verifier | None = None):
        # After the drain window, requests in flight are bounded by the request timeout.
        timeout = settings.request_timeout
        grace = math.ceil(timeout) + 1 if timeout else UNBOUNDED_GRACE_SECONDS
        super().__init__(
            http_port=settings.http_port,
            grpc_port=settings.grpc_port,
            workers=settings.workers,
            max_threads=settings.max_threads,
            max_asyncio_workers=settings.max_asyncio_workers,
            enable_grpc=settings.enable_grpc,
            enable_docs_url=settings.enable_docs_url,
            enable_latency_logging=settings.enable_latency_logging,
            access_log_format=settings.access_log_format,
            event_loop=settings.event_loop,
            timeout_keep_alive=settings.timeout_keep_alive,
            grace_period=grace,
            ssl_certfile=settings.ssl_certfile,
            ssl_keyfile=settings.ssl_keyfile,
        )
        self.dataplane = ClientInputDataPlane(
            model_registry=self.registered_models,
            budget=InstanceBudget(settings.max_inflight_instances),
        )
        self.settings = settings
        self.verifier = verifier

    def start(self, models) -> None:
        """Register the ready models, serve REST (and gRPC) until drained, then return."""
        # KServe's own registration (raises NoModelReady when no model is ready).
        self._register_and_check_atleast_one_model_is_ready(models)
        settings = self.settings
        # What KServe's single- and multi-process REST servers are both built from.
        server_args = (
            FASTAPI_APP_IMPORT_STRING,
            self.dataplane,
            self.model_repository_extension,
            settings.http_port,
        )
        server_options = {
            "access_log_format": settings.access_log_format,
            "workers": settings.workers,
            "grace_period": self.grace_period,
            "event_loop": settings.event_loop,
            "timeout_keep_alive": settings.timeout_keep_alive,
            "ssl_certfile": settings.ssl_certfile,
            "ssl_keyfile": settings.ssl_keyfile,
        }
        rest = PredictorRESTServer(
            *server_args, **server_options, settings=settings, verifier=self.verifier
        )
        if settings.enable_grpc:
            self._grpc_server = PredictorGRPCServer(
                self.dataplane,
                self.model_repository_extension,
                settings=settings,
                grace_period=self.grace_period,
                drain=rest.drain,
                verifier=self.verifier,
            )
        if settings.workers > 1:
            require_picklable(self.dataplane, settings.workers)
            self._rest_multiprocess_server = PredictorRESTMultiProcess(
                rest, *server_args, **server_options, log_config_file=settings.log_config_file
            )
            self.servers.append(self._serve_multiprocess(rest.drain))
        else:
            self._rest_server = rest
            self.servers.append(self._serve_single(rest))
        if self._grpc_server is not None:
            self.servers.append(self._grpc_server.start(settings.max_threads))
        if settings.workers == 1 and settings.enable_fast_lane:
            # uvloop, as uvicorn picks for --workers > 1 children (asyncio.run would not).
            eventloop.use_event_loop(settings.event_loop)
        self.setup_event_loop()
        asyncio.run(self._serve())
        logger.info("server stopped")

    async def _serve_single(self, rest: PredictorRESTServer) -> None:
        # uvicorn handles SIGTERM/SIGINT itself while it serves (DrainingUvicornServer).
        await rest.start()
        await self._stop_grpc()

    async def _serve_multiprocess(self, drain: Drain) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_parent_signal, sig, drain)
        await self._rest_multiprocess_server.start()
        await self._stop_grpc()

    def _on_parent_signal(self, sig: int, drain: Drain) -> None:
        multiprocess = self._rest_multiprocess_server
        if not drain.begin():
            logger.info("second %s: stopping now", signal.Signals(sig).name)
            multiprocess.should_exit.set()
            return
        logger.info(
            "%s received: workers drain for %g s (readiness 503) before closing the socket",
            signal.Signals(sig).name,
            drain.seconds,
        )
        multiprocess.begin_drain()
        asyncio.get_running_loop().call_later(drain.seconds, multiprocess.should_exit.set)

    async def _stop_grpc(self) -> None:
        if self._grpc_server is not None:
            await self._grpc_server.stop()

    def stop(self, sig: int) -> None:
        """Never unload models under requests in flight: a stop request starts a drain."""
        if self._rest_multiprocess_server is not None:
            self._on_parent_signal(sig, self._rest_multiprocess_server._rest_server.drain)
        elif self._rest_server is not None:
            self._rest_server._server.handle_exit(sig, None)
