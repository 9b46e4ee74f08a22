"""Linters over the deployment files (actionlint, shellcheck, hadolint) and the invariants the
workflows, the kind script and the Dockerfile must keep."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import KUBE_VERSION, ROOT

BIN_DIR = Path(sys.executable).parent
WORKFLOWS = ROOT / ".github" / "workflows"
E2E_SCRIPT = ROOT / "k8s" / "e2e-kind.sh"
CHECKS_SCRIPT = ROOT / "k8s" / "e2e.sh"
LOCAL_CLUSTER = ROOT / "k8s" / "local-cluster.sh"


def tool(name: str) -> str:
    """A linter from the dev environment (uv sync installs all three)."""
    found = BIN_DIR / name
    path = str(found) if found.exists() else shutil.which(name)
    assert path, f"{name} is missing: run `uv sync --frozen`"
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # actionlint finds shellcheck on PATH and then lints every `run:` block with it.
    environ = {**os.environ, "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=environ, check=False)


def shell_scripts() -> list[Path]:
    """Every *.sh file and every file with a sh/bash shebang that git would see."""
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard")
    if listed.returncode == 0:
        candidates = [ROOT / line for line in listed.stdout.splitlines()]
    else:  # not a git checkout: walk the tree
        candidates = [p for p in ROOT.rglob("*") if not {".venv", ".git"} & set(p.parts)]
    scripts = []
    for path in candidates:
        if not path.is_file():
            continue
        if path.suffix == ".sh":
            scripts.append(path)
            continue
        with path.open("rb") as handle:
            first = handle.readline()
        if re.match(rb"#!\s*(/usr)?/bin/(env\s+)?(ba)?sh\b", first):
            scripts.append(path)
    return sorted(set(scripts))


def test_workflows_pass_actionlint() -> None:
    result = run(tool("actionlint"), "-no-color")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    result = run(tool("shellcheck"), "--severity=style", str(script))
    assert result.returncode == 0, result.stdout + result.stderr


def test_kind_script_is_found_by_the_shellcheck_sweep() -> None:
    assert E2E_SCRIPT in shell_scripts()


def test_dockerfile_passes_hadolint_without_any_finding() -> None:
    result = run(tool("hadolint"), "--failure-threshold", "style", "Dockerfile")
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout


def test_dockerfile_builds_the_contracted_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) == 2
    assert "uv sync --frozen --no-dev --no-editable" in dockerfile
    assert "--extra plots" not in dockerfile  # training runs without the plots; serving never
    assert re.search(r"^USER 1000(:1000)?$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "predictor"]' in dockerfile
    assert "PATH=/app/.venv/bin:$PATH" in dockerfile


def test_dockerignore_keeps_the_context_to_what_is_copied() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied.update(part.rstrip("/") for part in line.split()[1:-1])
    assert allowed == copied


def test_ci_workflow_runs_ci_script_and_builds_the_image() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "bash .ci/run" in runs
    assert "hadolint" in runs
    assert any(step.get("uses", "").startswith("docker/build-push-action") for step in steps)


def test_e2e_workflow_runs_the_kind_script_and_uploads_logs_on_failure() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "e2e-kind.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(step.get("run") == "bash k8s/e2e-kind.sh" for step in steps)
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "failure()"


def test_kind_script_is_linear_pinned_and_runs_the_shared_checks() -> None:
    script = E2E_SCRIPT.read_text()
    assert "set -euo pipefail" in script
    assert 'KSERVE_VERSION="${KSERVE_VERSION:-v0.20.0}"' in script
    assert re.search(r'CERT_MANAGER_VERSION="\$\{CERT_MANAGER_VERSION:-v\d+\.\d+\.\d+\}"', script)
    for needle in (
        "oci://ghcr.io/kserve/charts/kserve-crd",
        "oci://ghcr.io/kserve/charts/kserve-resources",
        "kserve.controller.deploymentMode=Standard",
        "kind load docker-image",
        'KEEP_CLUSTER" != "1"',
        "trap on_exit EXIT",
        "bash k8s/e2e.sh",
        "kube-prometheus-stack",
        "podMonitorSelectorNilUsesHelmValues=false",
        "ruleSelectorNilUsesHelmValues=false",
    ):
        assert needle in script, needle


def test_e2e_checks_cover_the_deployment_contract() -> None:
    script = CHECKS_SCRIPT.read_text()
    assert "set -euo pipefail" in script
    for needle in (
        "helm upgrade --install",
        "--for=condition=Ready",
        "port-forward",
        "examples/index.json",
        "helm test",
        "InferenceGRPCClient",
        "training.enabled=false",
        "replicaCount=2",
        "delete pod",
        "averageUtilization",
        "storage.type=s3",
        "helm rollback",
        "training.skipIfPresent=true",
        "training.promotionGate.minRocAuc=1",
        "check promotion-gate check_promotion_gate",
        "networkPolicy.ingress.namespaces",
        "helm uninstall",
        "metrics.podMonitor.enabled=true",
        "metrics.prometheusRule.enabled=true",
        "k8s/monitoring.py dashboard",
        "--scale-areas 1.6",
        'ALERTS{alertname=\\"BreastCancerFeatureDrift\\", alertstate=\\"firing\\"',
        'ALERTS{alertname=\\"BreastCancerPredictorNotReady\\"',
        'echo "e2e: $CHECKS_PASSED/$CHECKS_RUN checks passed"',
    ):
        assert needle in script, needle


def test_image_tag_of_make_image_is_the_chart_default() -> None:
    chart = yaml.safe_load((ROOT / "charts" / "breast-cancer" / "Chart.yaml").read_text())
    values = yaml.safe_load((ROOT / "charts" / "breast-cancer" / "values.yaml").read_text())
    assert values["image"]["tag"] == ""  # the chart then uses its appVersion
    made = run("make", "--no-print-directory", "-n", "image")
    assert made.returncode == 0, made.stderr
    expected = f"{values['image']['repository']}:{chart['appVersion']}"
    assert f"docker build --tag {expected} ." in made.stdout


def test_local_cluster_stays_on_its_bridge_and_cleans_up() -> None:
    script = LOCAL_CLUSTER.read_text()
    for needle in (
        'ip route replace "$SERVICE_CIDR" dev "$BRIDGE"',
        "remove_owned_iptables",
        "restore_host_state",
        "stop_daemon",
        "go build -trimpath",
        "-s -w",
    ):
        assert needle in script, needle
    # up prints only the export lines on stdout; everything else goes to stderr.
    assert re.search(r"^log\(\) \{ printf .* >&2; \}$", script, re.MULTILINE)


def test_kind_cluster_runs_the_oldest_supported_kubernetes() -> None:
    config = yaml.safe_load((ROOT / "k8s" / "kind-config.yaml").read_text())
    assert (config["apiVersion"], config["kind"]) == ("kind.x-k8s.io/v1alpha4", "Cluster")
    images = [node["image"] for node in config["nodes"]]
    minor = ".".join(KUBE_VERSION.split(".")[:2])
    assert all(image.startswith(f"kindest/node:v{minor}.") for image in images)
