"""Canary for ``predictor/serving/grpc.py``: stock KServe's gRPC server has no health service."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

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
