"""The objects agree with each other: storage, names, probes, hooks and autoscaling."""

from __future__ import annotations

import helm_python as helm
import pytest

from predictor.serving.routes import route_of
from predictor.settings import Settings
from tests.chart.conftest import CHART_DIR, NAMESPACE, ROOT, S3_VALUES, VALUE_SETS, Rendered

PVC_SETS = [name for name, values in VALUE_SETS.items() if "s3" not in values.get("storage", {})]
TRAINING_SETS = [
    name for name, values in VALUE_SETS.items() if values.get("training", {}).get("enabled", True)
]
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"


def env(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def hook_weight(obj: dict) -> int:
    return int(obj["metadata"]["annotations"]["helm.sh/hook-weight"])


@pytest.mark.parametrize("name", PVC_SETS)
def test_training_job_writes_the_claim_and_path_the_predictor_reads(
    name: str, rendered_sets: dict[str, Rendered]
) -> None:
    rendered = rendered_sets[name]
    storage_uri = env(rendered.predictor_container())["STORAGE_URI"]["value"]
    assert storage_uri.startswith("pvc://")
    claim, path = storage_uri.removeprefix("pvc://").split("/", 1)
    if name not in TRAINING_SETS:
        assert rendered.of_kind("Job") == []
        return
    pod = rendered.job()["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (container,) = pod["containers"]
    mounts = [m for m in container["volumeMounts"] if "persistentVolumeClaim" in volumes[m["name"]]]
    assert len(mounts) == 1 and "subPath" not in mounts[0]
    assert volumes[mounts[0]["name"]]["persistentVolumeClaim"]["claimName"] == claim
    # KServe mounts the pinned version directory: the one the Job writes under --output.
    served = f"{flag(container['args'], '--output')}/{flag(container['args'], '--version')}"
    assert served == f"{mounts[0]['mountPath']}/{path}"


def test_predictor_gets_model_dir_mnt_models_and_its_flags(rendered_sets) -> None:
    container = rendered_sets["defaults"].predictor_container()
    assert container["name"] == "kserve-container"
    args = container["args"]
    assert flag(args, "--model_name") == "breast-cancer"
    assert flag(args, "--model_dir") == "/mnt/models"
    assert flag(args, "--http_port") == "8080"
    assert flag(args, "--grpc_port") == "8081"
    assert flag(args, "--workers") == "1"
    assert flag(args, "--max_instances") == "10000"
    assert flag(args, "--drift_window") == "1000"
    # The chart's budget is the server's own default.
    budget = Settings.model_fields["max_inflight_instances"].default
    assert flag(args, "--max_inflight_instances") == str(budget) == "40000"
    assert container["ports"] == [
        {"name": "http1", "containerPort": 8080, "protocol": "TCP"},
        {"name": "grpc", "containerPort": 8081, "protocol": "TCP"},
    ]


def test_grpc_port_is_declared_so_kserve_exposes_it_in_standard_mode_only(rendered_sets) -> None:
    # KServe's Standard-mode Service maps the first container port to 80 and every other one
    # to its own number, with appProtocol h2c when the name contains "grpc"; Knative allows
    # a single container port.
    standard = rendered_sets["defaults"].predictor_container()["ports"]
    assert [(p["name"], p["containerPort"]) for p in standard] == [("http1", 8080), ("grpc", 8081)]
    assert "grpc" in standard[1]["name"]
    knative = rendered_sets["knative"].predictor_container()["ports"]
    assert [p["name"] for p in knative] == ["http1"]


def test_probe_paths_and_model_name_follow_values(rendered_sets) -> None:
    rendered = rendered_sets["custom-names"]
    container = rendered.predictor_container()
    assert flag(container["args"], "--model_name") == "tumour-classifier"
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/v1/models/tumour-classifier",
        "port": 8080,
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    job_args = rendered.job()["spec"]["template"]["spec"]["containers"][0]["args"]
    assert flag(job_args, "--model-name") == "tumour-classifier"


@pytest.mark.parametrize("name", ["defaults", "custom-names"])
def test_the_readiness_probe_is_a_readiness_route_of_the_server(name, rendered_sets) -> None:
    """The drain answers 503 on the server's readiness routes: the chart must probe one."""
    container = rendered_sets[name].predictor_container()
    route = route_of(container["readinessProbe"]["httpGet"]["path"])
    assert route.readiness and route.model == flag(container["args"], "--model_name")
    assert not route_of(container["livenessProbe"]["httpGet"]["path"]).readiness


def test_startup_probe_allows_time_for_model_load(rendered_sets) -> None:
    probe = rendered_sets["defaults"].predictor_container()["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 120


def test_custom_names_reach_every_object(rendered_sets) -> None:
    rendered = rendered_sets["custom-names"]
    assert rendered.isvc()["metadata"]["name"] == "tumour-prod"
    assert rendered.one("PersistentVolumeClaim")["metadata"]["name"] == "tumour-prod-models"
    assert rendered.one("PersistentVolumeClaim")["spec"]["storageClassName"] == "nfs-rwx"
    assert rendered.predictor()["serviceAccountName"] == "tumour-prod"
    storage_uri = env(rendered.predictor_container())["STORAGE_URI"]["value"]
    assert storage_uri == "pvc://tumour-prod-models/models/tumour/rev-1"
    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"]["serving.kserve.io/inferenceservice"] == (
        "tumour-prod"
    )


def test_long_release_names_leave_room_for_kserve_suffix(render) -> None:
    rendered = render(name="a" * 53)
    isvc_name = rendered.isvc()["metadata"]["name"]
    assert len(isvc_name) <= 53
    assert len(f"{isvc_name}-predictor") <= 63


def test_pvc_hook_runs_before_training_job(rendered_sets) -> None:
    rendered = rendered_sets["defaults"]
    pvc, job = rendered.one("PersistentVolumeClaim"), rendered.job()
    for obj in (pvc, job):
        assert obj["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hook_weight(pvc) < hook_weight(job)


def test_pvc_survives_uninstall_and_upgrades(rendered_sets) -> None:
    annotations = rendered_sets["defaults"].one("PersistentVolumeClaim")["metadata"]["annotations"]
    assert annotations["helm.sh/resource-policy"] == "keep"
    # The default policy, before-hook-creation, would delete the claim on every upgrade.
    assert "before-hook-creation" not in annotations["helm.sh/hook-delete-policy"]


def test_training_job_limits_come_from_values(rendered_sets) -> None:
    job = rendered_sets["defaults"].job()
    assert job["spec"]["backoffLimit"] == 1
    assert job["spec"]["activeDeadlineSeconds"] == 900
    assert job["spec"]["ttlSecondsAfterFinished"] == 86400
    assert job["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_existing_claim_is_used_and_not_created(rendered_sets) -> None:
    rendered = rendered_sets["existing-claim"]
    assert rendered.of_kind("PersistentVolumeClaim") == []
    assert env(rendered.predictor_container())["STORAGE_URI"]["value"].startswith(
        "pvc://shared-models/"
    )
    args = rendered.job()["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2:] == ["--seed", "7"]


def test_s3_variant_shares_the_uri_and_passes_the_secret(rendered_sets) -> None:
    rendered = rendered_sets["s3"]
    assert rendered.of_kind("PersistentVolumeClaim") == []
    assert env(rendered.predictor_container())["STORAGE_URI"]["value"] == (
        f"{S3_VALUES['uri']}/rev-1/"
    )
    container = rendered.job()["spec"]["template"]["spec"]["containers"][0]
    assert flag(container["args"], "--output") == S3_VALUES["uri"]
    assert "volumeMounts" in container and all(
        m["mountPath"] == "/tmp" for m in container["volumeMounts"]
    )
    job_env = env(container)
    assert job_env["AWS_ENDPOINT_URL"]["value"] == "http://minio.minio.svc:9000"
    assert job_env["AWS_DEFAULT_REGION"]["value"] == "us-east-1"
    for name, key in (
        # The key names KServe's shipped inferenceservice-config makes its storage initializer
        # read (credentials.s3.s3AccessKeyIDName / s3SecretAccessKeyName): one Secret serves both.
        ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    ):
        assert job_env[name]["valueFrom"]["secretKeyRef"] == {"name": "s3-credentials", "key": key}
    account = rendered.one("ServiceAccount")
    assert rendered.predictor()["serviceAccountName"] == account["metadata"]["name"]
    assert account["secrets"] == [{"name": "s3-credentials"}]
    assert account["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio.minio.svc:9000",
        "serving.kserve.io/s3-usehttps": "0",
        "serving.kserve.io/s3-verifyssl": "1",
        "serving.kserve.io/s3-region": "us-east-1",
    }


def test_kserve_mode_sets_kserve_hpa_fields_and_renders_no_hpa(rendered_sets) -> None:
    rendered = rendered_sets["defaults"]
    predictor = rendered.predictor()
    assert rendered.isvc()["metadata"]["annotations"][AUTOSCALER_CLASS] == "hpa"
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 3)
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("cpu", 80)
    assert rendered.of_kind("HorizontalPodAutoscaler") == []


def test_external_mode_renders_one_hpa_and_tells_kserve_to_stay_out(rendered_sets) -> None:
    rendered = rendered_sets["external-hpa"]
    isvc = rendered.isvc()
    assert isvc["metadata"]["annotations"][AUTOSCALER_CLASS] == "external"
    predictor = rendered.predictor()
    assert not {"minReplicas", "maxReplicas", "scaleMetric", "scaleTarget"} & predictor.keys()
    hpa = rendered.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    predictor_deployment = f"{isvc['metadata']['name']}-predictor"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": predictor_deployment,
    }
    # KServe reconciles an HPA named like the Deployment even in external mode.
    assert hpa["metadata"]["name"] != predictor_deployment
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 65}


def test_fixed_replicas_use_autoscaler_class_none(rendered_sets) -> None:
    rendered = rendered_sets["fixed-replicas"]
    predictor = rendered.predictor()
    assert rendered.isvc()["metadata"]["annotations"][AUTOSCALER_CLASS] == "none"
    assert predictor["minReplicas"] == predictor["maxReplicas"] == 2
    assert "scaleMetric" not in predictor
    assert rendered.of_kind("HorizontalPodAutoscaler") == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, True),
        ({"autoscaling": {"maxReplicas": 1}}, False),
        ({"autoscaling": {"enabled": False}}, False),
        ({"autoscaling": {"enabled": False}, "replicaCount": 3}, True),
        ({"podDisruptionBudget": {"enabled": False}}, False),
    ],
)
def test_pdb_only_when_more_than_one_pod_can_run(render, values: dict, expected: bool) -> None:
    pdbs = render(values).of_kind("PodDisruptionBudget")
    assert bool(pdbs) is expected
    if pdbs:
        assert pdbs[0]["spec"] == {
            "maxUnavailable": 1,
            "selector": {
                "matchLabels": {
                    "serving.kserve.io/inferenceservice": "breast-cancer",
                    "component": "predictor",
                }
            },
        }


def test_graceful_shutdown_is_consistent(rendered_sets) -> None:
    predictor = rendered_sets["defaults"].predictor()
    command = predictor["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert int(command[1]) < predictor["terminationGracePeriodSeconds"]


def test_knative_mode_uses_knative_hpa_class_and_no_prestop(rendered_sets) -> None:
    rendered = rendered_sets["knative"]
    annotations = rendered.isvc()["metadata"]["annotations"]
    assert annotations["serving.kserve.io/deploymentMode"] == "Knative"
    assert AUTOSCALER_CLASS not in annotations
    assert annotations["autoscaling.knative.dev/class"] == "hpa.autoscaling.knative.dev"
    assert "lifecycle" not in rendered.predictor_container()


def test_standard_mode_is_the_default(rendered_sets) -> None:
    annotations = rendered_sets["defaults"].isvc()["metadata"]["annotations"]
    assert annotations["serving.kserve.io/deploymentMode"] == "Standard"


def pod_template(render, values: dict, revision: int) -> tuple:
    """What KServe copies into the predictor Deployment's pod template that the chart varies."""
    predictor = render(values, revision=revision).predictor()
    storage_uri = env(predictor["containers"][0])["STORAGE_URI"]["value"]
    return storage_uri, predictor.get("annotations")


@pytest.mark.parametrize(
    "values", [{}, {"model": {"version": "golden"}}], ids=["own-version", "fixed-version"]
)
def test_retraining_rolls_the_predictor(render, values: dict) -> None:
    """A new version directory, or a new annotation when a fixed version is retrained."""
    assert pod_template(render, values, 1) != pod_template(render, values, 2)


@pytest.mark.parametrize(
    "values",
    [
        {"training": {"enabled": False}},
        {"training": {"skipIfPresent": True}, "model": {"version": "golden"}},
    ],
    ids=["no-training", "kept-version"],
)
def test_an_upgrade_without_retraining_leaves_the_pods_alone(render, values: dict) -> None:
    assert pod_template(render, values, 1) == pod_template(render, values, 2)


def test_notes_show_port_forward_and_curl(rendered_sets) -> None:
    notes = rendered_sets["defaults"].notes
    assert f"kubectl -n {NAMESPACE} port-forward svc/breast-cancer-predictor 8080:80" in notes
    assert "http://localhost:8080/v1/models/breast-cancer:predict" in notes
    assert '"instances"' in notes
    assert "helm test breast-cancer" in notes


def test_helm_test_pod_posts_the_example_request(rendered_sets) -> None:
    pod = rendered_sets["defaults"].test_pod()
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container_env = env(pod["spec"]["containers"][0])
    assert container_env["PREDICT_URL"]["value"] == (
        f"http://breast-cancer-predictor.{NAMESPACE}.svc.cluster.local"
        "/v1/models/breast-cancer:predict"
    )
    assert container_env["PAYLOAD_FILE"]["value"] == "/app/examples/valid_request.json"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY examples/ examples/" in dockerfile
    assert "!examples/" in (ROOT / ".dockerignore").read_text()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"autoscaling": {"minReplicas": 4, "maxReplicas": 2}}, "must not exceed"),
        (
            {"deploymentMode": "Knative", "autoscaling": {"mode": "external"}},
            "needs deploymentMode=Standard",
        ),
    ],
)
def test_inconsistent_values_fail_the_render(values: dict, message: str) -> None:
    with helm.Chart.load(CHART_DIR) as chart, pytest.raises(helm.HelmError, match=message):
        chart.render(values, name="breast-cancer", namespace=NAMESPACE)


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_chart_flags_are_accepted_by_the_real_clis(
    name: str, rendered_sets: dict[str, Rendered]
) -> None:
    from predictor.batch.__main__ import parse as batch_settings
    from predictor.cli import parse as predictor_command_line
    from training.__main__ import build_parser as training_parser

    rendered = rendered_sets[name]
    served = predictor_command_line(rendered.predictor_container()["args"]).settings
    assert (served.model_name, str(served.model_dir)) == (
        VALUE_SETS[name].get("model", {}).get("name", "breast-cancer"),
        "/mnt/models",
    )
    for job in rendered.of_kind("Job"):
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        if job["metadata"]["labels"]["app.kubernetes.io/component"] == "batch":
            model_dir, options = batch_settings(args, {"JOB_COMPLETION_INDEX": "0"})
            assert model_dir == flag(args, "--model_dir") and options.shards > 0
            continue
        assert training_parser().parse_args(args).output == flag(args, "--output")
