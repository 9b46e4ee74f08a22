"""Canaries for ``predictor/serving/drain.py``: stock KServe's shutdown."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from kserve import ModelServer

from tests.support import RunningServer
from tests.upstream.stock_server import StockModel

pytestmark = pytest.mark.upstream


def test_sigterm_closes_the_listening_socket_at_once(fresh_stock: RunningServer) -> None:
    """Workaround: ``DrainingUvicornServer`` keeps accepting (readiness 503) for the drain
    window, so clients routed here before the endpoints update are still answered.

    When this fails, uvicorn or KServe drain by themselves: drain.py may go.
    """
    url = f"{fresh_stock.base_url}/v2/health/live"
    assert httpx.get(url).status_code == 200
    fresh_stock.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 2
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            refused = True
        time.sleep(0.05)
    assert refused, "stock KServe kept accepting connections after SIGTERM"


async def test_stop_unloads_the_models_at_once() -> None:
    """Workaround: ``PredictorServer.stop`` starts a drain and never calls KServe's stop().

    KServe's ``ModelServer.stop()`` unloads every model while requests may be in flight.
    When this fails, the override of ``stop`` in serving/server.py may go.
    """
    model = StockModel("breast-cancer")
    server = ModelServer(enable_grpc=False)
    server.register_model(model)
    server.stop(signal.SIGTERM)
    assert server.registered_models.get_models() == {}
    assert model.ready is False
