"""Metric names out of the chart's PromQL: the Grafana dashboard's queries and the alerts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import promql_parser

from tests.chart.conftest import CHART_DIR

DASHBOARD_FILE = CHART_DIR / "dashboards" / "breast-cancer.json"
# Grafana replaces these before Prometheus sees a query; any value of the right kind parses.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$namespace": "ml",
    "$isvc": "breast-cancer",
}
# label_values(<selector>, <label>) in a template variable's query is Grafana's, not PromQL.
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*\w+\)$")
# The predictor's model-monitoring metrics (input drift, prediction share, confirmed outcomes,
# model age) that the model alerts and panels query, with the labels each must carry: the
# contract between the chart and the server. tests/integration/test_metrics_queries.py checks
# every one on a live /metrics and fails (it does not skip) while the server lacks one.
CONTRACT_METRICS: dict[str, set[str]] = {
    "breast_cancer_feature_psi": {"feature"},
    "breast_cancer_drift_window_instances": set(),
    "breast_cancer_predicted_malignant_ratio": set(),
    "breast_cancer_training_malignant_ratio": set(),
    "breast_cancer_model_target_sensitivity": set(),
    "breast_cancer_model_trained_timestamp_seconds": set(),
    "breast_cancer_feedback_total": {"predicted", "actual", "model_version"},
}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text())


def grafana_to_promql(query: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    assert "$" not in query, f"unknown Grafana variable in {query!r}"
    return query


def dashboard_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query-type template variable."""
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']!r} {target['refId']}", grafana_to_promql(target["expr"])
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            match = LABEL_VALUES.match(variable["query"]["query"])
            assert match, f"variable {variable['name']}: not label_values(...)"
            yield f"variable {variable['name']}", grafana_to_promql(match.group("selector"))


def rule_queries(rule: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(alert name, PromQL) for every rule of a PrometheusRule."""
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            yield item.get("alert") or item["record"], item["expr"]


def metric_names(query: str) -> set[str]:
    """Names of every series selector in a PromQL expression (which must parse)."""
    names: set[str] = set()
    unnamed: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            else:
                unnamed.append(str(node))
        return True

    promql_parser.walk(promql_parser.parse(query), visit)
    assert unnamed == [], f"selectors without a metric name: {unnamed}"
    return names


def selector_labels(query: str) -> dict[str, set[str]]:
    """Label names each metric's selectors match on, per metric name."""
    found: dict[str, set[str]] = {}

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names = {m.name for m in node.matchers.matchers if m.name != "__name__"}
            found.setdefault(node.name, set()).update(names)
        return True

    promql_parser.walk(promql_parser.parse(query), visit)
    return found
