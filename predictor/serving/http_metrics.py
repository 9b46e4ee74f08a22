"""Prometheus metrics of every REST request: how many, answered with which status, how fast.

KServe's own metrics are per-stage model latencies (``request_predict_seconds`` and its
siblings): they see only requests that reach the model, not those answered before it (413,
415, 404, 405, a 503 while draining), nor the time spent decoding, limiting and encoding.
:class:`HttpMetrics` is the outermost of the server's layers, so it counts every answer the
server sends (the fast lane, in front of it, counts its own with :func:`record`). gRPC
requests are not counted here (KServe's stage histograms and the model's metrics include them).

``endpoint`` is the route's (:data:`predictor.serving.routes.ENDPOINTS`: the scoring routes,
or ``other`` for health, metadata, ``/metrics``...), so the label cannot grow with what
clients send; ``status_class`` is ``2xx`` ... ``5xx``. A request whose client left before
any answer started is not counted. The families are declared in :mod:`predictor.metrics`.
"""

from __future__ import annotations

import time
from typing import Any

from predictor import audit, batched_metrics
from predictor.metrics import http_metrics
from predictor.serving.rejection import note_request
from predictor.serving.routes import route_of


def record(endpoint: str, status: int, seconds: float) -> None:
    """Count and time one answer; its status goes in the request's audit record too (the
    one place that sees the status of every answer, the fast lane's and the server's)."""
    http_metrics(endpoint, status // 100).observe(seconds)
    audit.note_status(status)


class HttpMetrics:
    """ASGI: counts and times each HTTP request ``app`` answers."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        route = route_of(scope["path"])
        note_request(scope)
        if route.metrics:
            batched_metrics.flush()  # a scrape sees every value noted before it

        async def send_noting_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except BaseException:
            status = status or 500  # uvicorn answers 500 for an app that raised
            raise
        finally:
            if status:
                record(route.endpoint, status, time.perf_counter() - started)
