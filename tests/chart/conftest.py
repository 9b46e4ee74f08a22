"""Render charts/breast-cancer offline with Helm's own engine (helm-python-sdk) for the value
sets the chart tests share, and parse the manifests into objects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "charts" / "breast-cancer"
RELEASE = "breast-cancer"
NAMESPACE = "ml"
# Oldest Kubernetes that KServe 0.20+ supports; Chart.yaml's kubeVersion says the same.
KUBE_VERSION = "1.32.0"

S3_VALUES = {
    "uri": "s3://models/breast-cancer",
    "endpoint": "minio.minio.svc:9000",
    "useHttps": False,
    "secretName": "s3-credentials",
}

BATCH_VALUES = {
    "enabled": True,
    "input": "in/cases.csv",
    "output": "scores/run-1",
    "dataClaim": "batch-data",
    "shards": 4,
    "parallelism": 2,
}

AUTH_VALUES = {"enabled": True, "allowedSubjects": ["system:serviceaccount:clinic:*"]}

# Value sets every render-level test runs against (name -> values passed like `-f`).
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "s3": {"storage": {"type": "s3", "s3": S3_VALUES}},
    "training-disabled": {"training": {"enabled": False}},
    "external-hpa": {
        "autoscaling": {
            "mode": "external",
            "minReplicas": 2,
            "maxReplicas": 6,
            "targetCPUUtilization": 65,
        }
    },
    "custom-names": {
        "fullnameOverride": "tumour-prod",
        "model": {"name": "tumour-classifier"},
        "storage": {"pvc": {"path": "models/tumour", "storageClassName": "nfs-rwx"}},
    },
    "fixed-replicas": {"autoscaling": {"enabled": False}, "replicaCount": 2},
    "knative": {"deploymentMode": "Knative"},
    "network-policy-peers": {
        "storage": {"type": "s3", "s3": S3_VALUES},
        "networkPolicy": {
            "ingress": {
                "podSelector": {"matchLabels": {"role": "client"}},
                "namespaces": ["monitoring"],
                "extraFrom": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
            },
            "training": {
                "dnsTo": [{"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}],
                "s3To": [{"ipBlock": {"cidr": "192.168.10.0/24"}}],
            },
        },
    },
    "existing-claim": {
        "storage": {"pvc": {"existingClaim": "shared-models"}},
        "training": {"skipIfPresent": True, "args": ["--seed", "7"]},
    },
    "batch": {"batch": BATCH_VALUES},
    "auth": {"auth": AUTH_VALUES},
    "batch-s3": {
        "storage": {"type": "s3", "s3": S3_VALUES},
        "batch": {"enabled": True, "input": "s3://data/in/cases.csv", "output": "s3://data/out/"},
    },
}


@dataclass
class Rendered:
    """One `helm template` run: parsed objects plus the raw NOTES.txt."""

    objects: list[dict[str, Any]]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert len(found) == 1, f"expected one {kind}, got {len(found)}"
        return found[0]

    def isvc(self) -> dict[str, Any]:
        return self.one("InferenceService")

    def predictor(self) -> dict[str, Any]:
        return self.isvc()["spec"]["predictor"]

    def predictor_container(self) -> dict[str, Any]:
        return self.predictor()["containers"][0]

    def job(self) -> dict[str, Any]:
        """The training Job."""
        return self.component("Job", "training")

    def batch_job(self) -> dict[str, Any]:
        return self.component("Job", "batch")

    def component(self, kind: str, component: str) -> dict[str, Any]:
        found = [
            obj
            for obj in self.of_kind(kind)
            if obj["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        assert len(found) == 1, f"expected one {component} {kind}, got {len(found)}"
        return found[0]

    def test_pod(self) -> dict[str, Any]:
        return self.one("Pod")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge override into a copy of base, like Helm coalesces -f files."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm.Chart):
    """Render the chart like `helm install` would (is_install) and parse every document."""

    def _render(
        values: dict[str, Any] | None = None, *, name: str = RELEASE, revision: int = 1
    ) -> Rendered:
        manifests = chart.render(
            values or {}, name=name, namespace=NAMESPACE, revision=revision, is_install=True
        )
        objects, notes = [], ""
        for path, text in sorted(manifests.items()):
            if path.endswith("NOTES.txt"):
                notes = text
                continue
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return Rendered(objects, notes)

    return _render


@pytest.fixture(scope="session")
def rendered_sets(render) -> dict[str, Rendered]:
    return {name: render(values) for name, values in VALUE_SETS.items()}


@pytest.fixture(params=sorted(VALUE_SETS))
def value_set(request: pytest.FixtureRequest, rendered_sets: dict[str, Rendered]) -> Rendered:
    """Each value set's rendering in turn."""
    return rendered_sets[request.param]
