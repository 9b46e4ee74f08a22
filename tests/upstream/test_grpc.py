"""Canary for ``predictor/serving/grpc.py``: stock KServe's gRPC server has no health service."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kserve.protocol.grpc import grpc_predict_v2_pb2, grpc_predict_v2_pb2_grpc

from tests.support import RunningServer

pytestmark = pytest.mark.upstream


def test_grpc_health_check_is_unimplemented(stock: RunningServer) -> None:
    """Workaround: ``PredictorGRPCServer`` builds KServe's gRPC server with the standard
    health service added.

    When this fails, KServe serves ``grpc.health.v1`` itself: compare its states with ours
    (NOT_SERVING while draining) before deleting grpc.py.
    """
    with grpc.insecure_channel(stock.grpc_target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_every_grpc_call_is_logged_at_info(stock: RunningServer) -> None:
    """Workaround: ``PredictorGRPCServer`` adds KServe's ``LoggingInterceptor`` only with
    ``--enable_access_log`` (a line per call, health probes included, is an access log).

    When this fails, KServe no longer logs each call: the choice in grpc.py may go.
    """
    with grpc.insecure_channel(stock.grpc_target) as channel:
        stub = grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub(channel)
        stub.ServerLive(grpc_predict_v2_pb2.ServerLiveRequest(), timeout=10)
    deadline = time.monotonic() + 5
    line = "grpc method: /inference.GRPCInferenceService/ServerLive"
    while line not in stock.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line in stock.log()
