"""Every Prometheus metric of the predictor, declared here, observed through per-process children.

The one convention: a metric family is a module-level object of this module (KServe's stage
histograms are imported and named here too), and code that observes asks :func:`model_metrics`
or :func:`http_metrics` for this process's label children. Those are resolved once per
process (cached), so a model pickled to a ``--workers`` child resolves its own, and a request
never looks a child up. Observations are noted and folded in batches
(:mod:`predictor.batched_metrics`).

The gauges computed when ``/metrics`` is scraped (drift, predicted share, model age) are
one collector's, declared with it in :mod:`predictor.monitoring`.

In multi-process mode (``--workers > 1``) each process writes its own values and ``/metrics``
sums them; the version gauge takes the maximum instead, as every process serves the same
version.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from predictor.batched_metrics import Batched, BatchedTogether

# One instance (the usual request) up to the default --max_instances.
INSTANCE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
REQUEST_INSTANCES = Histogram(
    "breast_cancer_request_instances",
    "Instances in each validated prediction or explanation request (V1, V2 REST, gRPC).",
    buckets=INSTANCE_BUCKETS,
)
MODEL_INFO = Gauge(
    "breast_cancer_model_info",
    "1 for the model this server loaded: its name and artifact version.",
    ["model_name", "model_version"],
    multiprocess_mode="max",
)
OUT_OF_RANGE_VALUES = Counter(
    "breast_cancer_out_of_range_values",
    "Feature values outside the training range (margin included), by feature.",
    ["feature"],
)
OUT_OF_RANGE_INSTANCES = Counter(
    "breast_cancer_out_of_range_instances",
    "Instances with at least one feature value outside the training range.",
)
HTTP_REQUESTS = Counter(
    "breast_cancer_http_requests",
    "REST requests answered, by endpoint (the scoring routes, or other) and status class.",
    ["endpoint", "status_class"],
)
# From 0.5 ms (a one-instance prediction) to 10 s (the default request timeout).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
HTTP_DURATION = Histogram(
    "breast_cancer_http_request_duration_seconds",
    "Seconds from a REST request's arrival to the end of its answer, by endpoint.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
# Requests refused before any work, by reason: "overloaded" (--max_inflight_instances).
REQUESTS_REFUSED = Counter(
    "breast_cancer_requests_refused",
    "Prediction and explanation requests refused before any work was done on them, by "
    "reason (overloaded: past --max_inflight_instances; REST 503, gRPC RESOURCE_EXHAUSTED).",
    ["reason"],
)
# Confirmed outcomes posted to :feedback, against what the served model predicts for them.
FEEDBACK = Counter(
    "breast_cancer_feedback",
    "Confirmed outcomes posted to :feedback, by the served model's label for the case "
    "(predicted), the confirmed diagnosis (actual) and the model version.",
    ["predicted", "actual", "model_version"],
)
# KServe's per-stage latency histograms (request_preprocess_seconds, ...), by model name:
# KServe declares them (in kserve.metrics, imported only by the server, not by the batch CLI).
STAGES = ("preprocess", "predict", "explain", "postprocess")


@dataclass(frozen=True)
class ModelMetrics:
    """A model's children in this process."""

    stages: dict[str, Batched]  # KServe's stage histograms, one each
    # A request that got through notes its preprocess, predict (or explain) and postprocess
    # times together: one append.
    stage_notes: dict[str, BatchedTogether]
    instances: Batched


@functools.cache
def model_metrics(model_name: str) -> ModelMetrics:
    """This process's children of the model's metrics."""
    from kserve import metrics as kserve_metrics

    families = (kserve_metrics.PRE_HIST_TIME, kserve_metrics.PREDICT_HIST_TIME,
                kserve_metrics.EXPLAIN_HIST_TIME, kserve_metrics.POST_HIST_TIME)  # fmt: skip
    labels = kserve_metrics.get_labels(model_name)
    children = [family.labels(**labels) for family in families]
    stages = {stage: Batched(child) for stage, child in zip(STAGES, children, strict=True)}
    notes = {
        stage: BatchedTogether(stages["preprocess"], stages[stage], stages["postprocess"])
        for stage in ("predict", "explain")
    }
    return ModelMetrics(stages, notes, Batched(REQUEST_INSTANCES))


@functools.cache
def http_metrics(endpoint: str, status_class: int) -> Batched:
    """This process's request duration child of ``endpoint``, counting each value noted as
    one answer of ``status_class`` (2 for 2xx, ...) as well."""
    counter = HTTP_REQUESTS.labels(endpoint=endpoint, status_class=f"{status_class}xx")
    return Batched(HTTP_DURATION.labels(endpoint=endpoint), counter=counter)


def record_loaded_model(name: str, version: str) -> None:
    """Publish the served version (dashboards count pods per version during a rollout)."""
    MODEL_INFO.labels(model_name=name, model_version=version).set(1)


def record_out_of_range(per_feature: dict[str, int], instances: int) -> None:
    """Count values outside the training range, by feature, and the instances holding them."""
    for feature, count in per_feature.items():
        OUT_OF_RANGE_VALUES.labels(feature=feature).inc(count)
    OUT_OF_RANGE_INSTANCES.inc(instances)


@functools.cache
def refusals(reason: str) -> Counter:
    """This process's child of the refused-requests counter for ``reason``."""
    return REQUESTS_REFUSED.labels(reason=reason)
