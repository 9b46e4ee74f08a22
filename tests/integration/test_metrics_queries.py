"""Every metric the chart's dashboard and alerts query is one the real server exports.

The names come from parsing each PromQL expression (tests/chart/promql.py); the exported
names from a live /metrics after a few requests of every kind the panels show, including an
out-of-range value, a refused body, a full drift window of WDBC rows and confirmed outcomes
posted to :feedback. The model-monitoring metrics the alerts and panels rely on are listed once,
in CONTRACT_METRICS: each must be on the live /metrics with its labels."""

from __future__ import annotations

import helm_python as helm
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.conftest import CHART_DIR, NAMESPACE, RELEASE
from tests.chart.promql import (
    CONTRACT_METRICS,
    dashboard,
    dashboard_queries,
    metric_names,
    rule_queries,
    selector_labels,
)
from tests.support import MODEL_NAME, RunningServer, load_example
from training.data import load_bundled

# Written by Prometheus itself for every scrape target (1 = the scrape succeeded): the only
# name an alert may use that no server exports.
PROMETHEUS_OWN = {"up"}
# Target labels the scrape adds (prometheus-operator's monitors and the prometheus.io
# annotation job of the community chart both set them); the server does not.
TARGET_LABELS = {"namespace", "pod"}
# Instances scored before the scrape: the predictor's default drift window (--drift_window
# 1000), so the drift gauges report whatever minimum count the server applies.
WINDOW_ROWS = 1000
BATCH = 100  # the session server's --max_instances
FEEDBACK_ROWS = 40


def wdbc_rows(count: int) -> tuple[list[list[float]], list[str]]:
    """``count`` rows of the bundled WDBC data (cycled) and their diagnoses."""
    data = load_bundled()
    picked = [i % len(data.labels) for i in range(count)]
    outcomes = ["malignant" if data.labels[i] else "benign" for i in picked]
    return [data.features[i].tolist() for i in picked], outcomes


@pytest.fixture(scope="module")
def exported(server: RunningServer) -> dict[str, set[str]]:
    """Sample name (with _total, _bucket, ... suffixes) -> label names, on the live /metrics."""
    base = server.base_url
    for example in ("valid_request.json", "valid_batch_request.json", "out_of_range_request.json"):
        predicted = httpx.post(f"{base}/v1/models/{MODEL_NAME}:predict", json=load_example(example))
        assert predicted.status_code == 200
    explained = httpx.post(
        f"{base}/v1/models/{MODEL_NAME}:explain", json=load_example("valid_request.json")
    )
    assert explained.status_code == 200
    refused = httpx.post(
        f"{base}/v1/models/{MODEL_NAME}:predict", json=load_example("invalid_type.json")
    )
    assert refused.status_code == 400
    inferred = httpx.post(
        f"{base}/v2/models/{MODEL_NAME}/infer", json=load_example("v2_infer_request.json")
    )
    assert inferred.status_code == 200
    rows, outcomes = wdbc_rows(WINDOW_ROWS)
    for start in range(0, WINDOW_ROWS, BATCH):
        batch = {"instances": rows[start : start + BATCH]}
        scored = httpx.post(f"{base}/v1/models/{MODEL_NAME}:predict", json=batch)
        assert scored.status_code == 200
    # Both diagnoses, so every (predicted, actual) pair the panels divide by can occur. The
    # status is not asserted here: a server without :feedback fails the contract tests below.
    feedback = {"instances": rows[:FEEDBACK_ROWS], "outcomes": outcomes[:FEEDBACK_ROWS]}
    httpx.post(f"{base}/v1/models/{MODEL_NAME}:feedback", json=feedback)
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


def alert_queries() -> dict[str, str]:
    values = {"metrics": {"prometheusRule": {"enabled": True}}}
    with helm.Chart.load(CHART_DIR) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    rule = yaml.safe_load(manifests[f"{RELEASE}/templates/prometheusrule.yaml"])
    return dict(rule_queries(rule))


def unknown_labels(query: str, exported: dict[str, set[str]]) -> dict[str, set[str]]:
    """Per metric, label names the query matches on that its live samples do not carry."""
    return {
        name: missing
        for name, used in selector_labels(query).items()
        if name in exported and (missing := used - exported[name] - TARGET_LABELS)
    }


@pytest.mark.parametrize(("where", "query"), sorted(dashboard_queries(dashboard())))
def test_dashboard_queries_name_exported_metrics(exported, where: str, query: str) -> None:
    assert metric_names(query) - set(exported) == set(), where
    assert unknown_labels(query, exported) == {}, where


@pytest.mark.parametrize(("alert", "query"), sorted(alert_queries().items()))
def test_alert_queries_name_exported_metrics(exported, alert: str, query: str) -> None:
    assert metric_names(query) - set(exported) - PROMETHEUS_OWN == set(), alert
    assert unknown_labels(query, exported) == {}, alert


@pytest.mark.parametrize("name", sorted(CONTRACT_METRICS))
def test_the_monitoring_contract_metrics_are_exported_with_their_labels(
    exported: dict[str, set[str]], name: str
) -> None:
    assert name in exported, f"{name} is not on the live /metrics (monitoring contract)"
    assert CONTRACT_METRICS[name] <= exported[name], f"{name} lacks labels"


def test_the_out_of_range_panel_has_a_series_per_flagged_feature(
    server: RunningServer, exported: dict[str, set[str]]
) -> None:
    text = httpx.get(f"{server.base_url}/metrics").text
    (family,) = [
        f
        for f in text_string_to_metric_families(text)
        if f.name == "breast_cancer_out_of_range_values"
    ]
    features = {s.labels["feature"] for s in family.samples if s.name.endswith("_total")}
    assert "mean area" in features  # the feature examples/out_of_range_request.json pushes out
