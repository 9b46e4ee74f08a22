"""The kind script's checks through the kubernetes client, against an installed release.

Off by default; k8s/e2e-kind.sh runs it after `helm install`, or by hand:
    KUBECONFIG=~/.kube/config uv run pytest -m e2e tests/chart
E2E_NAMESPACE / E2E_RELEASE / E2E_MODEL_NAME select the release (defaults: breast-cancer).
"""

from __future__ import annotations

import http.client
import json
import os
import time
from pathlib import Path

import pytest

from tests.chart.conftest import ROOT

NAMESPACE = os.environ.get("E2E_NAMESPACE", "breast-cancer")
RELEASE = os.environ.get("E2E_RELEASE", "breast-cancer")
MODEL_NAME = os.environ.get("E2E_MODEL_NAME", "breast-cancer")
READY_TIMEOUT_SECONDS = 300

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path(os.environ.get("KUBECONFIG", "/nonexistent")).is_file(),
        reason="needs a cluster with the release installed (set KUBECONFIG)",
    ),
]


@pytest.fixture(scope="module")
def kube():
    from kubernetes import client, config

    config.load_kube_config()
    return client


@pytest.fixture(scope="module")
def isvc(kube) -> dict:
    """The release's InferenceService, once its Ready condition is True."""
    api = kube.CustomObjectsApi()
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        found = api.list_namespaced_custom_object(
            "serving.kserve.io",
            "v1beta1",
            NAMESPACE,
            "inferenceservices",
            label_selector=f"app.kubernetes.io/instance={RELEASE}",
        )["items"]
        conditions = found[0].get("status", {}).get("conditions", []) if found else []
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return found[0]
        assert time.monotonic() < deadline, f"InferenceService not Ready: {conditions}"
        time.sleep(5)


@pytest.fixture(scope="module")
def post(kube, isvc):
    """POST a JSON body to a ready predictor pod through a kubernetes port-forward."""
    from kubernetes.stream import portforward

    core = kube.CoreV1Api()
    pods = core.list_namespaced_pod(
        NAMESPACE, label_selector=f"serving.kserve.io/inferenceservice={isvc['metadata']['name']}"
    ).items
    ready = [
        p.metadata.name
        for p in pods
        if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]
    assert ready, "no ready predictor pod"

    def _post(path: str, body: bytes) -> tuple[int, bytes]:
        forward = portforward(
            core.connect_get_namespaced_pod_portforward, ready[0], NAMESPACE, ports="8080"
        )
        connection = http.client.HTTPConnection("localhost", 8080, timeout=30)
        connection.sock = forward.socket(8080)
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()

    return _post


@pytest.mark.parametrize(
    "entry",
    json.loads((ROOT / "examples" / "index.json").read_text()),
    ids=lambda entry: entry["file"],
)
def test_example_gets_its_documented_status(post, entry: dict) -> None:
    if entry["protocol"] == "v2":
        path = f"/v2/models/{MODEL_NAME}/infer"
    else:
        path = f"/v1/models/{MODEL_NAME}:{entry.get('verb', 'predict')}"
    status, body = post(path, (ROOT / "examples" / entry["file"]).read_bytes())
    assert status == entry["status"], body[:300]
    if status == 200 and entry["protocol"] == "v1" and "labels" in entry:
        assert [p["label"] for p in json.loads(body)["predictions"]] == entry["labels"]


def test_exactly_one_hpa_scales_the_predictor(kube, isvc) -> None:
    hpas = kube.AutoscalingV2Api().list_namespaced_horizontal_pod_autoscaler(NAMESPACE).items
    targets = [h.spec.scale_target_ref.name for h in hpas]
    assert targets == [f"{isvc['metadata']['name']}-predictor"]
