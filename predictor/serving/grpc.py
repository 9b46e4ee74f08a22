"""The gRPC server: KServe's inference service plus the standard health service.

``grpc.health.v1.Health`` answers SERVING for the server (``""``), the inference service
and each model once they are loaded (the server only starts then), and NOT_SERVING from the
first moment of a drain, so Kubernetes' native ``grpc:`` probes and tools such as
``grpc-health-probe`` work. With ``--auth_issuer``, inference calls need a bearer token in the
``authorization`` metadata (:mod:`.auth`); health stays open. Server reflection
(``grpcurl list``) is offered with ``--enable_grpc_reflection``.

KServe 0.21's ``GRPCServer.start`` builds its ``grpc.aio`` server inline, with no way to add
a service (canary: ``tests/upstream/test_grpc.py``), so :meth:`PredictorGRPCServer.start`
builds the same server (same servicer, interceptors and message-size options) itself.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent import futures

from grpc import StatusCode, aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from kserve.protocol.grpc import grpc_predict_v2_pb2, grpc_predict_v2_pb2_grpc
from kserve.protocol.grpc.interceptors import ExceptionToStatusInterceptor, LoggingInterceptor
from kserve.protocol.grpc.server import GRPCServer
from kserve.protocol.grpc.servicer import InferenceServicer

from predictor.serving.admission import Overloaded
from predictor.serving.auth import GrpcAuthentication
from predictor.serving.drain import Drain
from predictor.serving.tokens import Verifier
from predictor.settings import Settings

logger = logging.getLogger("predictor.serving.grpc")

INFERENCE_SERVICE = grpc_predict_v2_pb2.DESCRIPTOR.services_by_name[
    "GRPCInferenceService"
].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING


class PredictorGRPCServer(GRPCServer):
    """KServe's gRPC server with ``grpc.health.v1`` tied to readiness and drain."""

    def __init__(
        self,
        data_plane,
        model_repository_extension,
        *,
        settings: Settings,
        grace_period: int,
        drain: Drain,
        verifier: Verifier | None = None,
    ):
        super().__init__(
            settings.grpc_port, data_plane, model_repository_extension, {}, grace_period
        )
        self.settings = settings
        self.health = health_aio.HealthServicer()
        # KServe's LoggingInterceptor writes an INFO line per call, health probes included:
        # a gRPC access log, so it follows --enable_access_log like uvicorn's (canary:
        # tests/upstream/test_logging.py).
        self.interceptors = (
            (LoggingInterceptor(), OverloadToStatusInterceptor())
            if settings.enable_access_log
            else (OverloadToStatusInterceptor(),)
        )
        if verifier is not None:  # outermost: a refused call reaches nothing else
            self.interceptors = (GrpcAuthentication(verifier), *self.interceptors)
        self._loop: asyncio.AbstractEventLoop | None = None
        drain.on_begin(self._not_serving)

    async def start(self, max_workers: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = aio.server(
            futures.ThreadPoolExecutor(max_workers=max_workers),
            interceptors=self.interceptors,
            options=[
                ("grpc.max_send_message_length", self.settings.grpc_max_send_message_length),
                ("grpc.max_receive_message_length", self.settings.grpc_max_receive_message_length),
                # Without this gRPC binds with SO_REUSEPORT, and a second server on the same
                # port starts silently and takes a share of the calls (canary:
                # tests/reliability/test_ports.py).
                ("grpc.so_reuseport", 0),
            ],
        )
        servicer = InferenceServicer(self._data_plane, self._model_repository_extension)
        grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        if self.settings.enable_grpc_reflection:
            self._enable_reflection()
        for service in ("", INFERENCE_SERVICE, *self._data_plane.model_registry.get_models()):
            await self.health.set(service, SERVING)
        address = f"[::]:{self._port}"
        self._server.add_insecure_port(address)
        logger.info("gRPC server on %s (%d threads), health service on", address, max_workers)
        await self._server.start()
        await self._server.wait_for_termination()

    def _enable_reflection(self) -> None:
        from grpc_reflection.v1alpha import reflection

        names = (INFERENCE_SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
        reflection.enable_server_reflection((*names, reflection.SERVICE_NAME), self._server)

    def _not_serving(self) -> None:
        """Called when the drain begins, from a signal handler: hand it to the server's loop."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(
                lambda: loop.create_task(self.health.enter_graceful_shutdown())
            )


class OverloadToStatusInterceptor(ExceptionToStatusInterceptor):
    """KServe's exception-to-status mapping, with a refused admission as RESOURCE_EXHAUSTED
    (KServe's would be INTERNAL) and one WARNING line instead of a trace."""

    async def handle_exception(self, ex, request_or_iterator, context, method_name):
        if isinstance(ex, Overloaded):
            logger.warning("refused gRPC call %s (RESOURCE_EXHAUSTED): %s", method_name, ex)
            await context.abort(StatusCode.RESOURCE_EXHAUSTED, str(ex))
        await super().handle_exception(ex, request_or_iterator, context, method_name)
