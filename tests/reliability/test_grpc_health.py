"""``grpc.health.v1``: SERVING once the model is loaded, NOT_SERVING from the start of a drain."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import MODEL_NAME, load_example, running_predictor

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def check(target: str, service: str = "") -> int:
    with grpc.insecure_channel(target) as channel:
        request = health_pb2.HealthCheckRequest(service=service)
        return health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status


def test_health_is_serving_then_not_serving_while_draining(trained_dir: Path, tmp_path) -> None:
    with running_predictor(trained_dir, tmp_path, "--drain_seconds", "3") as server:
        for service in ("", "inference.GRPCInferenceService", MODEL_NAME):
            assert check(server.grpc_target, service) == SERVING, service
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        while check(server.grpc_target) != NOT_SERVING and time.monotonic() < deadline:
            time.sleep(0.05)
        assert check(server.grpc_target) == NOT_SERVING
        # Still serving requests during the drain window, as REST readiness says 503.
        predict = httpx.post(f"{server.base_url}/v1/models/{MODEL_NAME}:predict",
                             json=load_example("valid_request.json"))  # fmt: skip
        assert predict.status_code == 200
        assert httpx.get(f"{server.base_url}/v1/models/{MODEL_NAME}").status_code == 503


def test_an_unknown_service_is_not_found(server) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
        else:
            raise AssertionError("an unknown service must be NOT_FOUND")


def test_grpc_calls_are_logged_only_with_the_access_log(trained_dir: Path, tmp_path) -> None:
    """A line per call, probes included, is an access log: off by default, like uvicorn's."""
    logged = {}
    for flags in ((), ("--enable_access_log",)):
        with running_predictor(trained_dir, tmp_path, *flags) as server:
            assert check(server.grpc_target) == SERVING
            # KServe's interceptor logs (and flushes) before the call is answered.
            logged[flags] = "grpc method: /grpc.health.v1.Health/Check" in server.log()
    assert logged == {(): False, ("--enable_access_log",): True}
