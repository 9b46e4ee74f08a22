"""The request-metrics layer: which endpoint a path is, and what it counts for each outcome."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from predictor import batched_metrics
from predictor.serving.http_metrics import ENDPOINTS, HttpMetrics, endpoint_of


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v1/models/breast-cancer:predict", "predict"),
        ("/v1/models/other-model:explain", "explain"),
        ("/v1/models/breast-cancer:feedback", "feedback"),
        ("/v2/models/breast-cancer/infer", "infer"),
        ("/v2/models/breast-cancer/versions/7/infer", "infer"),
        ("/v1/models/breast-cancer", "other"),
        ("/v2/health/ready", "other"),
        ("/metrics", "other"),
        ("/predict", "other"),
    ],
)
def test_paths_map_to_a_fixed_set_of_endpoints(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint in ENDPOINTS


def count(endpoint: str, status_class: str) -> float:
    batched_metrics.flush()  # as a scrape does
    labels = {"endpoint": endpoint, "status_class": status_class}
    return REGISTRY.get_sample_value("breast_cancer_http_requests_total", labels) or 0.0


def timed(endpoint: str) -> float:
    batched_metrics.flush()
    labels = {"endpoint": endpoint}
    name = "breast_cancer_http_request_duration_seconds_count"
    return REGISTRY.get_sample_value(name, labels) or 0.0


def answering(status: int):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def failing(scope, receive, send):
    raise RuntimeError("boom")


async def silent(scope, receive, send):
    return  # the client left before any answer


async def call(app, path: str) -> None:
    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        pass

    await app({"type": "http", "method": "POST", "path": path}, receive, send)


@pytest.mark.parametrize(("status", "status_class"), [(200, "2xx"), (413, "4xx"), (503, "5xx")])
async def test_each_answer_is_counted_by_status_class_and_timed(status, status_class) -> None:
    before, before_timed = count("explain", status_class), timed("explain")
    await call(HttpMetrics(answering(status)), "/v1/models/m:explain")
    assert count("explain", status_class) == before + 1
    assert timed("explain") == before_timed + 1


async def test_an_app_that_raised_counts_as_a_5xx() -> None:
    before = count("infer", "5xx")
    with pytest.raises(RuntimeError):
        await call(HttpMetrics(failing), "/v2/models/m/infer")
    assert count("infer", "5xx") == before + 1


async def test_a_request_without_an_answer_is_not_counted() -> None:
    before = {c: count("other", c) for c in ("2xx", "4xx", "5xx")}
    await call(HttpMetrics(silent), "/v2/health/live")
    assert {c: count("other", c) for c in before} == before
