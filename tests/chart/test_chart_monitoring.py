"""Prometheus discovery, prometheus-operator objects and the Grafana dashboard ConfigMap.

The ServiceMonitor, PodMonitor and PrometheusRule are checked against prometheus-operator's
own CRD schemas (fetched at test time, see tests/chart/crds.py)."""

from __future__ import annotations

import json
import re

import helm_python as helm
import kubernetes_validate
import promql_parser
import pytest

from tests.chart import crds
from tests.chart.conftest import CHART_DIR, KUBE_VERSION, NAMESPACE, Rendered
from tests.chart.promql import (
    CONTRACT_METRICS,
    DASHBOARD_FILE,
    dashboard,
    dashboard_queries,
    metric_names,
    rule_queries,
)

ALL_ON = {
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "podMonitor": {"enabled": True, "interval": "15s", "scrapeTimeout": "5s"},
        "prometheusRule": {"enabled": True, "extraAlertLabels": {"team": "ml"}, "interval": "1m"},
        "dashboard": {"enabled": True, "annotations": {"grafana_folder": "ML"}},
    }
}
OPERATOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")


@pytest.fixture(scope="module")
def all_on(render) -> Rendered:
    return render(ALL_ON)


@pytest.fixture(scope="module")
def crd_problems():
    """crds.problems, or a skip naming the proxy when the CRDs cannot be downloaded."""
    try:
        crds.module_zip()
    except crds.CrdUnavailable as error:
        pytest.skip(f"prometheus-operator CRDs unavailable: {error}")
    return crds.problems


def pod_annotations(rendered: Rendered) -> dict[str, str]:
    return rendered.predictor().get("annotations", {})


def test_defaults_annotate_pods_for_scraping_and_render_no_operator_objects(render) -> None:
    rendered = render({})
    assert [o for o in rendered.objects if o["kind"] in OPERATOR_KINDS] == []
    assert [o for o in rendered.of_kind("ConfigMap")] == []
    annotations = pod_annotations(rendered)
    assert {k: v for k, v in annotations.items() if "prometheus" in k} == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
        # "true" would make KServe's webhook point prometheus.io/port at 9091 (queue-proxy).
        "serving.kserve.io/enable-prometheus-scraping": "false",
    }
    ports = {p["name"]: p["containerPort"] for p in rendered.predictor_container()["ports"]}
    assert ports["http1"] == int(annotations["prometheus.io/port"])


def test_knative_mode_asks_kserve_to_aggregate_the_predictor_metrics(render) -> None:
    annotations = pod_annotations(render({"deploymentMode": "Knative"}))
    assert "prometheus.io/port" not in annotations  # KServe's webhook sets 9088 there
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["serving.kserve.io/enable-prometheus-scraping"] == "true"
    assert annotations["serving.kserve.io/enable-metric-aggregation"] == "true"
    assert annotations["prometheus.kserve.io/port"] == "8080"
    assert annotations["prometheus.kserve.io/path"] == "/metrics"


def test_scrape_annotations_can_be_turned_off_or_overridden(render) -> None:
    off = pod_annotations(render({"metrics": {"podAnnotations": False}}))
    assert [k for k in off if "prometheus" in k] == []
    overridden = pod_annotations(
        render({"predictor": {"podAnnotations": {"prometheus.io/scrape": "false", "a": "b"}}})
    )
    assert overridden["prometheus.io/scrape"] == "false"
    assert overridden["a"] == "b"
    assert overridden["prometheus.io/port"] == "8080"


@pytest.mark.parametrize("kind", OPERATOR_KINDS)
def test_operator_objects_pass_their_crd_schema(all_on: Rendered, crd_problems, kind: str) -> None:
    (obj,) = all_on.of_kind(kind)
    assert crd_problems(obj) == []
    meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
    kubernetes_validate.validate(meta, KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    ("kind", "path", "value", "complaint"),
    [
        ("ServiceMonitor", ("spec", "endpoints", 0, "interval"), "30 seconds", "does not match"),
        ("ServiceMonitor", ("spec", "endpoints", 0, "portName"), "http1", "not allowed"),
        ("PodMonitor", ("spec", "podMetricsEndpoints", 0, "scheme"), "ftp", "is not one of"),
        ("PrometheusRule", ("spec", "groups", 0, "rules", 0, "expr"), ["up"], "is not valid"),
    ],
)
def test_the_crd_check_catches_a_broken_object(
    all_on: Rendered, crd_problems, kind: str, path: tuple, value: object, complaint: str
) -> None:
    obj = json.loads(json.dumps(all_on.one(kind)))
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert any(complaint in problem for problem in crd_problems(obj)), crd_problems(obj)


def test_monitors_select_the_predictor_service_and_pods_on_the_http_port(all_on) -> None:
    isvc_name = all_on.isvc()["metadata"]["name"]
    # The labels KServe puts on the predictor Service and pods (buildObjectMeta).
    kserve_labels = {"serving.kserve.io/inferenceservice": isvc_name, "component": "predictor"}
    port_names = {p["name"] for p in all_on.predictor_container()["ports"]}
    service_monitor, pod_monitor = all_on.one("ServiceMonitor"), all_on.one("PodMonitor")
    for monitor, endpoints in (
        (service_monitor, service_monitor["spec"]["endpoints"]),
        (pod_monitor, pod_monitor["spec"]["podMetricsEndpoints"]),
    ):
        assert monitor["spec"]["selector"] == {"matchLabels": kserve_labels}
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        (endpoint,) = endpoints
        assert endpoint["port"] in port_names and endpoint["path"] == "/metrics"
    assert service_monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["interval"] == "15s"


@pytest.mark.parametrize("which", ["serviceMonitor", "podMonitor"])
def test_monitors_refuse_knative_mode(chart: helm.Chart, which: str) -> None:
    values = {"deploymentMode": "Knative", "metrics": {which: {"enabled": True}}}
    with pytest.raises(helm.HelmError, match=f"metrics.{which}.enabled=true needs"):
        chart.render(values, name="breast-cancer", namespace=NAMESPACE)


def test_alerts_parse_select_the_release_and_carry_extra_labels(all_on: Rendered) -> None:
    rule = all_on.one("PrometheusRule")
    alerts = dict(rule_queries(rule))
    assert set(alerts) == {
        "BreastCancerPredictorNotReady",
        "BreastCancerPredictorAbsent",
        "BreastCancerPredictorErrors",
        "BreastCancerInputsOutOfRange",
        "BreastCancerFeatureDrift",
        "BreastCancerLiveSensitivityLow",
        "BreastCancerModelStale",
    }
    for name, expr in alerts.items():
        assert metric_names(expr), name  # parses, names a metric
        # Every selector in it is limited to the release's pods.
        selectors = re.findall(r"\b[a-z_]+\{([^}]*)\}", expr)
        release = f'namespace="{NAMESPACE}", pod=~"breast-cancer-predictor-.+"'
        assert selectors and all(s.startswith(release) for s in selectors), name
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            assert item["labels"]["team"] == "ml"
            promql_parser.parse_duration(item["for"])


def test_alert_thresholds_come_from_values(render) -> None:
    values = {
        "errorRatio": 0.01,
        "driftPsi": 0.25,
        "driftMinInstances": 800,
        "sensitivityWindow": "30d",
        "sensitivityMinCases": 120,
        "sensitivityZ": 2.33,
        "modelMaxAgeDays": 90,
        "driftFor": "1h",
        "sensitivityFor": "2h",
        "modelStaleFor": "6h",
        "interval": "10s",
    }
    rendered = render({"metrics": {"prometheusRule": {"enabled": True, **values}}})
    rule = rendered.one("PrometheusRule")
    alerts = dict(rule_queries(rule))
    assert alerts["BreastCancerPredictorErrors"].rstrip().endswith("> 0.01")
    drift = alerts["BreastCancerFeatureDrift"]
    assert drift.rstrip().endswith(">= 0.25") and "} >= 800)" in drift
    sensitivity = alerts["BreastCancerLiveSensitivityLow"]
    assert sensitivity.count("[30d]") == 4 and "2.33 * sqrt(" in sensitivity
    assert sensitivity.rstrip().endswith(">= 120")
    assert alerts["BreastCancerModelStale"].rstrip().endswith("> 90 * 86400")
    durations = {i["alert"]: i["for"] for g in rule["spec"]["groups"] for i in g["rules"]}
    assert (durations["BreastCancerFeatureDrift"], durations["BreastCancerLiveSensitivityLow"],
            durations["BreastCancerModelStale"]) == ("1h", "2h", "6h")  # fmt: skip
    assert [g["interval"] for g in rule["spec"]["groups"]] == ["10s", "10s"]
    default = render({"metrics": {"prometheusRule": {"enabled": True}}}).one("PrometheusRule")
    assert [g for g in default["spec"]["groups"] if "interval" in g] == []


def test_dashboard_configmap_carries_the_dashboard_for_the_sidecar(all_on: Rendered) -> None:
    (config_map,) = all_on.of_kind("ConfigMap")
    kubernetes_validate.validate(config_map, KUBE_VERSION, strict=True)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "ML"}
    (shipped,) = config_map["data"].values()
    assert json.loads(shipped) == json.loads(DASHBOARD_FILE.read_text())


@pytest.mark.parametrize(
    "values",
    [
        {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}},
        {"metrics": {"podMonitor": {"scrapeTimeout": 10}}},
        {"metrics": {"prometheusRule": {"errorRatio": 0}}},
        {"metrics": {"prometheusRule": {"outOfRangeRatio": 1.5}}},
        {"metrics": {"prometheusRule": {"notReadyFor": "5 minutes"}}},
        {"metrics": {"prometheusRule": {"driftPsi": 0}}},
        {"metrics": {"prometheusRule": {"driftMinInstances": 0}}},
        {"metrics": {"prometheusRule": {"sensitivityWindow": ""}}},
        {"metrics": {"prometheusRule": {"sensitivityWindow": "0"}}},
        {"metrics": {"prometheusRule": {"sensitivityMinCases": 2.5}}},
        {"metrics": {"prometheusRule": {"sensitivityZ": -1}}},
        {"metrics": {"prometheusRule": {"modelMaxAgeDays": "180"}}},
        {"metrics": {"prometheusRule": {"modelStaleFor": "1 hour"}}},
        {"metrics": {"prometheusRule": {"interval": "30"}}},
        {"metrics": {"dashboard": {"labels": {"grafana_dashboard": 1}}}},
        {"metrics": {"podAnnotations": "yes"}},
        {"metrics": {"grafana": True}},
    ],
    ids=lambda values: json.dumps(values, separators=(",", ":")),
)
def test_schema_rejects_bad_metrics_values(chart: helm.Chart, values: dict) -> None:
    with pytest.raises(helm.HelmValuesError, match="/metrics"):
        chart.validate_schema(values)


def test_every_dashboard_query_parses_and_selects_one_release() -> None:
    queries = dict(dashboard_queries(dashboard()))
    assert len(queries) >= 10
    for where, query in queries.items():
        assert metric_names(query), where
        if where.startswith("panel"):
            assert 'namespace="ml", pod=~"breast-cancer-predictor-.+"' in query, where


def test_every_monitoring_contract_metric_is_queried(all_on: Rendered) -> None:
    queries = [q for _, q in dashboard_queries(dashboard())]
    queries += [q for _, q in rule_queries(all_on.one("PrometheusRule"))]
    queried = set().union(*map(metric_names, queries))
    assert set(CONTRACT_METRICS) - queried == set()


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_several_workers_share_a_metrics_directory_on_the_tmp_emptydir(render, workers) -> None:
    rendered = render({"predictor": {"workers": workers}})
    container = rendered.predictor_container()
    env = {item["name"]: item.get("value") for item in container["env"]}
    if workers == 1:
        assert "PROMETHEUS_MULTIPROC_DIR" not in env
        return
    directory = env["PROMETHEUS_MULTIPROC_DIR"]
    (tmp,) = [m for m in container["volumeMounts"] if directory.startswith(m["mountPath"] + "/")]
    volumes = {v["name"]: v for v in rendered.predictor()["volumes"]}
    assert "emptyDir" in volumes[tmp["name"]]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(
    ("pod", "isvc"),
    [
        ("breast-cancer-predictor-7d9f8c6b5-x2x9q", "breast-cancer"),  # Standard: a Deployment
        ("tumour-prod-predictor-00001-deployment-5f7c9d-abcde", "tumour-prod"),  # Knative
    ],
)
def test_the_dashboard_reads_the_inferenceservice_from_pod_names(pod: str, isvc: str) -> None:
    (variable,) = [v for v in dashboard()["templating"]["list"] if v["name"] == "isvc"]
    match = re.fullmatch(variable["regex"].strip("/"), pod)
    assert match and match.group(1) == isvc
    assert re.fullmatch(f"{isvc}-predictor-.+", pod)  # what the panels' selectors match


def test_helm_lint_is_clean_with_every_monitoring_object() -> None:
    report = helm.lint(CHART_DIR, ALL_ON, strict=True, kube_version=f"v{KUBE_VERSION}")
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and serious == [], report
