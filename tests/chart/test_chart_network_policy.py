"""NetworkPolicies: who may reach the predictor's ports, and where the training Job may go."""

from __future__ import annotations

import pytest

from tests.chart.conftest import S3_VALUES, Rendered
from tests.chart.test_chart_wiring import hook_weight


def policy(rendered: Rendered, component: str) -> dict:
    (found,) = [
        p
        for p in rendered.of_kind("NetworkPolicy")
        if p["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def selects(selector: dict, labels: dict) -> bool:
    return selector["matchLabels"].items() <= labels.items()


def test_predictor_policy_admits_only_the_container_ports(rendered_sets) -> None:
    rendered = rendered_sets["defaults"]
    spec = policy(rendered, "predictor")["spec"]
    assert spec["policyTypes"] == ["Ingress"]  # egress stays open for the storage initializer
    (rule,) = spec["ingress"]
    container_ports = [
        (p["containerPort"], p["protocol"]) for p in rendered.predictor_container()["ports"]
    ]
    assert (
        [(p["port"], p["protocol"]) for p in rule["ports"]]
        == container_ports
        == [
            (8080, "TCP"),
            (8081, "TCP"),
        ]
    )


def test_predictor_policy_selects_the_pods_kserve_labels(rendered_sets) -> None:
    """KServe labels its predictor pods like this; the PodDisruptionBudget selects the same."""
    rendered = rendered_sets["defaults"]
    selector = policy(rendered, "predictor")["spec"]["podSelector"]
    assert selector == rendered.one("PodDisruptionBudget")["spec"]["selector"]
    assert selector["matchLabels"] == {
        "serving.kserve.io/inferenceservice": "breast-cancer",
        "component": "predictor",
    }


def test_by_default_pods_of_the_namespace_and_the_test_pod_may_call(rendered_sets) -> None:
    rendered = rendered_sets["defaults"]
    peers = policy(rendered, "predictor")["spec"]["ingress"][0]["from"]
    assert peers[0] == {"podSelector": {}}
    test_labels = rendered.test_pod()["metadata"]["labels"]
    assert any(selects(peer["podSelector"], test_labels) for peer in peers[1:])
    assert all("namespaceSelector" not in peer and "ipBlock" not in peer for peer in peers)


def test_peers_from_values_are_the_only_other_sources(rendered_sets) -> None:
    peers = policy(rendered_sets["network-policy-peers"], "predictor")["spec"]["ingress"][0]["from"]
    assert peers[0] == {"podSelector": {"matchLabels": {"role": "client"}}}
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    } in peers
    assert peers[-1] == {"ipBlock": {"cidr": "10.0.0.0/8"}}
    assert len(peers) == 4  # the three above and the chart's test pod


def test_training_policy_confines_the_job_pods(rendered_sets) -> None:
    rendered = rendered_sets["defaults"]
    training = policy(rendered, "training")
    pod_labels = rendered.job()["spec"]["template"]["metadata"]["labels"]
    assert selects(training["spec"]["podSelector"], pod_labels)
    predictor_labels = {
        "serving.kserve.io/inferenceservice": "breast-cancer",
        "component": "predictor",
    }
    assert not selects(training["spec"]["podSelector"], predictor_labels)
    assert training["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in training["spec"]  # nothing may connect to it
    # PVC storage: DNS is the only destination.
    (dns,) = training["spec"]["egress"]
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


def test_training_policy_exists_before_the_job_and_is_removed_after_it(rendered_sets) -> None:
    rendered = rendered_sets["defaults"]
    annotations = policy(rendered, "training")["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == rendered.job()["metadata"]["annotations"]["helm.sh/hook"]
    assert hook_weight(policy(rendered, "training")) < hook_weight(rendered.job())
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"].split(",")


@pytest.mark.parametrize(
    ("s3", "port"),
    [
        (S3_VALUES, 9000),
        ({"uri": "s3://models/breast-cancer"}, 443),
        ({"uri": "s3://models/breast-cancer", "endpoint": "minio.local", "useHttps": False}, 80),
    ],
)
def test_s3_training_may_reach_the_endpoint_port(render, s3: dict, port: int) -> None:
    egress = policy(render({"storage": {"type": "s3", "s3": s3}}), "training")["spec"]["egress"]
    assert [rule["ports"] for rule in egress[1:]] == [[{"port": port, "protocol": "TCP"}]]


def test_training_destinations_can_be_narrowed(rendered_sets) -> None:
    egress = policy(rendered_sets["network-policy-peers"], "training")["spec"]["egress"]
    assert egress[0]["to"] == [{"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}]
    assert egress[1]["to"] == [{"ipBlock": {"cidr": "192.168.10.0/24"}}]


@pytest.mark.parametrize(
    ("values", "components"),
    [
        ({"networkPolicy": {"enabled": False}}, []),
        ({"training": {"enabled": False}}, ["predictor"]),
        ({"deploymentMode": "Knative"}, ["training"]),
    ],
)
def test_policies_render_only_where_they_apply(render, values: dict, components: list) -> None:
    rendered = render(values)
    found = [
        p["metadata"]["labels"]["app.kubernetes.io/component"]
        for p in rendered.of_kind("NetworkPolicy")
    ]
    assert sorted(found) == components
