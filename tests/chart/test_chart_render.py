"""Every value set renders, lints clean and yields objects valid for Kubernetes and KServe."""

from __future__ import annotations

import helm_python as helm
import kubernetes_validate
import pytest

from tests.chart.conftest import CHART_DIR, KUBE_VERSION, VALUE_SETS, Rendered
from tests.chart.models import build, problems

STANDARD_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)
# PodSpec fields of the predictor that are also PodSpec fields (the rest are KServe's).
POD_FIELDS = (
    "containers",
    "volumes",
    "securityContext",
    "serviceAccountName",
    "terminationGracePeriodSeconds",
    "imagePullSecrets",
    "nodeSelector",
    "tolerations",
    "affinity",
)


def pod_specs(rendered: Rendered) -> list[tuple[str, dict]]:
    """(where, pod spec) for the predictor, the training Job and the helm test pod."""
    specs = [("predictor", rendered.predictor())]
    specs += [("job", job["spec"]["template"]["spec"]) for job in rendered.of_kind("Job")]
    specs += [("test pod", pod["spec"]) for pod in rendered.of_kind("Pod")]
    return specs


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_is_clean(name: str) -> None:
    report = helm.lint(CHART_DIR, VALUE_SETS[name], strict=True, kube_version=f"v{KUBE_VERSION}")
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and serious == [], report


def test_objects_are_valid_kubernetes(value_set: Rendered) -> None:
    for obj in value_set.objects:
        if obj["kind"] == "InferenceService":
            continue  # a CRD: checked against kserve's models below
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_inferenceservice_has_only_known_kserve_fields(value_set: Rendered) -> None:
    isvc = value_set.isvc()
    assert problems(isvc, "V1beta1InferenceService") == []
    assert build(isvc, "V1beta1InferenceService").spec.predictor.containers[0].name == (
        "kserve-container"
    )


def test_predictor_pod_fields_are_a_valid_pod_spec(value_set: Rendered) -> None:
    predictor = value_set.predictor()
    spec = {key: predictor[key] for key in POD_FIELDS if key in predictor}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"}, "spec": spec}
    kubernetes_validate.validate(pod, KUBE_VERSION, strict=True)


def test_every_container_is_a_strict_v1container(value_set: Rendered) -> None:
    for where, spec in pod_specs(value_set):
        for container in spec["containers"]:
            assert problems(container, "V1Container", where) == []
            build(container, "V1Container")


def test_pods_run_locked_down(value_set: Rendered) -> None:
    for where, spec in pod_specs(value_set):
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, where
        assert pod_security["runAsUser"] == 1000, where
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}, where
        tmp_volumes = [v["name"] for v in spec["volumes"] if "emptyDir" in v]
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{where}: /tmp is not an emptyDir"


def test_objects_carry_the_standard_labels(value_set: Rendered) -> None:
    for obj in value_set.objects:
        labels = obj["metadata"]["labels"]
        assert all(key in labels for key in STANDARD_LABELS), obj["metadata"]["name"]


def test_cpu_requests_are_always_set(value_set: Rendered) -> None:
    for where, spec in pod_specs(value_set):
        for container in spec["containers"]:
            assert container["resources"]["requests"]["cpu"], where
