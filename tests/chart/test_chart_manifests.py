"""k8s/manifests/ is exactly the chart rendered with default values (no drift)."""

from __future__ import annotations

import importlib.util
import json

import kubernetes_validate
import yaml

from tests.chart.conftest import KUBE_VERSION, ROOT

SPEC = importlib.util.spec_from_file_location("render_manifests", ROOT / "k8s/render_manifests.py")
render_manifests = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(render_manifests)


def test_manifests_match_the_chart() -> None:
    on_disk = {p.name: p.read_text() for p in render_manifests.OUT_DIR.glob("*.yaml")}
    assert on_disk == render_manifests.render(), "stale: run `make manifests`"


def test_manifests_apply_in_a_working_order_without_helm_metadata() -> None:
    files = render_manifests.render()
    objects = [yaml.safe_load(files[name]) for name in sorted(files) if name[0].isdigit()]
    kinds = [obj["kind"] for obj in objects]
    assert kinds.index("PersistentVolumeClaim") < kinds.index("Job")
    assert kinds.index("Job") < kinds.index("InferenceService")
    assert "Pod" not in kinds  # the helm test pod needs Helm
    assert "helm.sh" not in json.dumps(objects)
    for obj in objects:
        if obj["kind"] != "InferenceService":
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    files = render_manifests.render()
    kustomization = yaml.safe_load(files["kustomization.yaml"])
    assert kustomization["resources"] == sorted(n for n in files if n != "kustomization.yaml")
