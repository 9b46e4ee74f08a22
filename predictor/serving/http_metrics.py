"""Prometheus metrics of every REST request: how many, answered with which status, how fast.

KServe's own metrics are per-stage model latencies (``request_predict_seconds`` and its
siblings): they see only requests that reach the model, not those answered before it (413,
415, 404, 405, a 503 while draining), nor the time spent decoding, limiting and encoding.
:class:`HttpMetrics` is the outermost ASGI layer, so it counts every answer the server
sends. gRPC requests are not counted here (KServe's stage histograms and the model's
metrics include them).

``endpoint`` is one of :data:`ENDPOINTS` (``other``: health, metadata, ``/metrics``...), so
the label cannot grow with what clients send; ``status_class`` is ``2xx`` ... ``5xx``. A
request whose client left before any answer started is not counted. Values are noted in
batches (:mod:`predictor.batched_metrics`); a scrape of ``/metrics`` folds them first.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram

from predictor import batched_metrics
from predictor.batched_metrics import Batched
from predictor.serving.multiprocess_metrics import METRICS_PATH

ENDPOINTS = ("predict", "explain", "infer", "feedback", "other")
REQUESTS = Counter(
    "breast_cancer_http_requests",
    "REST requests answered, by endpoint (predict, explain, infer, feedback, other) and "
    "status class.",
    ["endpoint", "status_class"],
)
# From 0.5 ms (a one-instance prediction) to 10 s (the default request timeout).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
DURATION = Histogram(
    "breast_cancer_http_request_duration_seconds",
    "Seconds from a REST request's arrival to the end of its answer, by endpoint.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)


def endpoint_of(path: str) -> str:
    """Which of :data:`ENDPOINTS` a request path is (KServe's routes, by their shape)."""
    if path.startswith("/v1/models/"):
        if path.endswith(":predict"):
            return "predict"
        if path.endswith(":explain"):
            return "explain"
        if path.endswith(":feedback"):
            return "feedback"
    elif path.startswith("/v2/models/") and path.endswith("/infer"):
        return "infer"
    return "other"


class HttpMetrics:
    """ASGI: counts and times each HTTP request ``app`` answers.

    Built in every serving process (each ``--workers`` child builds its own app), so the
    label children are resolved here, once per process, not per request.
    """

    def __init__(self, app: Any):
        self.app = app
        self._durations = {name: DURATION.labels(endpoint=name) for name in ENDPOINTS}
        # (endpoint, status // 100) -> its duration, noted once: counted and timed at the fold
        self._timed_counts: dict[tuple[str, int], Batched] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        if scope["path"] == METRICS_PATH:
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
                self.record(endpoint_of(scope["path"]), status, time.perf_counter() - started)

    def record(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answer (also for a layer in front of this one that answered it)."""
        key = (endpoint, status // 100)
        timed_count = self._timed_counts.get(key)
        if timed_count is None:
            counter = REQUESTS.labels(endpoint=endpoint, status_class=f"{key[1]}xx")
            timed_count = Batched(self._durations[endpoint], counter=counter)
            self._timed_counts[key] = timed_count
        timed_count.observe(seconds)
