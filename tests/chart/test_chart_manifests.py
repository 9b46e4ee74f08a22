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
    assert render_manifests.on_disk() == render_manifests.render(), "stale: run `make manifests`"


def kinds_of(files: dict[str, str], stage: str) -> list[str]:
    names = sorted(n for n in files if n.startswith(f"{stage}/") and n.split("/")[1][0].isdigit())
    return [yaml.safe_load(files[name])["kind"] for name in names]


def test_training_and_serving_are_separate_steps_without_helm_metadata() -> None:
    # The InferenceService must not start before the Job wrote the model, and kubectl apply -k
    # cannot wait for a Job: training and serving are two kustomizations.
    files = render_manifests.render()
    assert kinds_of(files, "train") == ["PersistentVolumeClaim", "NetworkPolicy", "Job"]
    assert kinds_of(files, "serve") == [
        "ServiceAccount",
        "InferenceService",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ]
    objects = [yaml.safe_load(text) for name, text in files.items() if "kustomization" not in name]
    assert "Pod" not in [obj["kind"] for obj in objects]  # the helm test pod needs Helm
    assert "helm.sh" not in json.dumps(objects)
    for obj in objects:
        if obj["kind"] != "InferenceService":
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_each_kustomization_lists_every_manifest_of_its_step() -> None:
    files = render_manifests.render()
    for stage in ("train", "serve"):
        kustomization = yaml.safe_load(files[f"{stage}/kustomization.yaml"])
        listed = sorted(
            n.split("/")[1] for n in files if n.startswith(f"{stage}/") and "kustomization" not in n
        )
        assert kustomization["resources"] == listed


def test_readmes_apply_the_steps_in_order_with_a_wait_between() -> None:
    for readme in (ROOT / "k8s" / "README.md", ROOT / "README.md"):
        text = readme.read_text()
        train = text.index("kubectl apply -k k8s/manifests/train")
        wait = text.index("kubectl wait --for=condition=complete job/breast-cancer-train")
        serve = text.index("kubectl apply -k k8s/manifests/serve")
        assert train < wait < serve, readme
