"""Canaries for ``predictor/serving/fastpath.py``: stock KServe's per-request costs."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from kserve.protocol.rest.server import RESTServer
from timing_asgi import TimingMiddleware

from tests.support import RunningServer

pytestmark = pytest.mark.upstream


def test_timing_middleware_is_added_whether_or_not_its_lines_are_printed() -> None:
    """Workaround: ``fastpath.tune_app`` leaves TimingMiddleware out when ``kserve.trace``
    would drop its lines (it matches routes, reads clocks and formats two lines a request).

    When this fails, KServe adds it only with ``--enable_latency_logging``: that part of
    tune_app may go.
    """
    app = FastAPI()
    RESTServer._add_middlewares(SimpleNamespace(access_log_format=None), app)
    assert TimingMiddleware in [middleware.cls for middleware in app.user_middleware]


def test_a_single_process_server_runs_on_the_stdlib_event_loop(stock: RunningServer) -> None:
    """Workaround: ``fastpath.use_event_loop`` gives the single-process server uvloop, as
    uvicorn gives ``--workers`` children (``ModelServer.start`` calls ``asyncio.run``).

    When this fails, KServe picks uvloop itself: use_event_loop may go.
    """
    answer = httpx.post(f"{stock.base_url}/v1/models/breast-cancer:predict",
                        json={"instances": [1]}).json()  # fmt: skip
    assert answer["event_loop"].startswith("asyncio.")
