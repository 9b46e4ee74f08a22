"""The model's Prometheus metrics beside KServe's stage histograms and the range counters.

Module-level, as Prometheus clients expect. In multi-process mode (``--workers > 1``) each
process writes its own values and ``/metrics`` sums them; the version gauge takes the
maximum instead, as every process serves the same version.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from predictor.batched_metrics import Batched

# One instance (the usual request) up to the default --max_instances.
INSTANCE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
INSTANCES_HISTOGRAM = Histogram(
    "breast_cancer_request_instances",
    "Instances in each validated prediction or explanation request (V1, V2 REST, gRPC).",
    buckets=INSTANCE_BUCKETS,
)
# What the request path observes (in batches: see predictor.batched_metrics).
REQUEST_INSTANCES = Batched(INSTANCES_HISTOGRAM)
MODEL_INFO = Gauge(
    "breast_cancer_model_info",
    "1 for the model this server loaded: its name and artifact version.",
    ["model_name", "model_version"],
    multiprocess_mode="max",
)

# Confirmed outcomes posted to :feedback, against what the served model predicts for them.
FEEDBACK = Counter(
    "breast_cancer_feedback",
    "Confirmed outcomes posted to :feedback, by the served model's label for the case "
    "(predicted), the confirmed diagnosis (actual) and the model version.",
    ["predicted", "actual", "model_version"],
)


def record_loaded_model(name: str, version: str) -> None:
    """Publish the served version (dashboards count pods per version during a rollout)."""
    MODEL_INFO.labels(model_name=name, model_version=version).set(1)
