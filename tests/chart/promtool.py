"""The chart's alert rules under promtool: `promtool check rules` and `promtool test rules`.

`python -m tests.chart.promtool` (what `make test-alerts` runs) builds promtool from the
Prometheus Go module when it is not cached yet, renders the PrometheusRule with the chart's
default values (alerts on), writes its rule groups as a Prometheus rule file next to the unit
tests in ``tests/chart/alerts/`` (promtool's own format, which names that file), and runs both
commands. tests/chart/test_chart_alerts.py runs the same when promtool is there.

promtool is built with ``go install`` at :data:`VERSION` (Prometheus 3.x is versioned
v0.3xx.y as a Go module) with the same tags and flags as the cluster's Prometheus
(k8s/local-cluster.sh), so the Go build cache serves that build the packages they share. The
binary goes to the git-ignored ``.cache/promtool/<version>/``; modules and build cache stay in
Go's default locations. Exit 3 means promtool could not be built (the Go module proxy or the
toolchain failed), not that a rule is wrong.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from tests.chart.conftest import CHART_DIR, NAMESPACE, RELEASE, ROOT

MODULE = "github.com/prometheus/prometheus"
VERSION = "v0.316.0"  # Prometheus 3.16.0; the same as PROMETHEUS_VERSION in local-cluster.sh
# No service discovery is needed to test rules; file, http and static SD always stay in.
BUILD_TAGS = "remove_all_sd"
TOOLS_DIR = ROOT / ".cache" / "promtool" / VERSION
TESTS_DIR = Path(__file__).with_name("alerts")
RULE_FILE = "rules.yaml"  # the name the unit tests' rule_files refer to
# Rendered with the chart's defaults, alerts on: the unit tests check the default thresholds.
RULE_VALUES = {"metrics": {"prometheusRule": {"enabled": True}}}
UPSTREAM_FAILURE = 3


class BuildFailed(Exception):
    """promtool could not be built; the message carries the end of Go's output."""


def installed() -> Path | None:
    """The cached promtool, or $PROMTOOL when set, if it exists."""
    candidate = Path(os.environ.get("PROMTOOL", TOOLS_DIR / "promtool"))
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def build() -> Path:
    """``go install`` promtool into :data:`TOOLS_DIR` (seconds when the Go caches are warm)."""
    go = shutil.which("go")
    if go is None:
        raise BuildFailed("Go is not installed (promtool is built from its Go module)")
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        go, "install", "-trimpath", "-tags", BUILD_TAGS,
        "-ldflags", f"-s -w -X github.com/prometheus/common/version.Version={prometheus_version()}",
        f"{MODULE}/cmd/promtool@{VERSION}",
    ]  # fmt: skip
    environ = {**os.environ, "GOBIN": str(TOOLS_DIR), "CGO_ENABLED": "0"}
    done = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildFailed(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return TOOLS_DIR / "promtool"


def prometheus_version() -> str:
    """The Prometheus release of the module version: v0.316.0 -> 3.16.0."""
    minor, patch = VERSION.removeprefix("v0.").split(".")
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


def rule_groups(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chart's PrometheusRule ``spec`` (its ``groups``), which is a Prometheus rule file."""
    with helm.Chart.load(CHART_DIR) as chart:
        manifests = chart.render(
            values or RULE_VALUES, name=RELEASE, namespace=NAMESPACE, is_install=True
        )
    rule = yaml.safe_load(manifests[f"{RELEASE}/templates/prometheusrule.yaml"])
    return rule["spec"]


def unit_test_files() -> list[Path]:
    return sorted(TESTS_DIR.glob("*.test.yaml"))


def run(
    promtool: Path, workdir: Path, values: dict[str, Any] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Write the rule file (rendered with ``values``, by default :data:`RULE_VALUES`) and the
    unit tests to ``workdir``; check the rules, then test them if the check passed."""
    (workdir / RULE_FILE).write_text(yaml.safe_dump(rule_groups(values), sort_keys=False))
    tests = [shutil.copy(path, workdir / path.name) for path in unit_test_files()]
    results = []
    for args in (["check", "rules", RULE_FILE], ["test", "rules", *map(str, tests)]):
        done = subprocess.run(
            [str(promtool), *args], cwd=workdir, capture_output=True, text=True, check=False
        )
        results.append(done)
        if done.returncode != 0:
            break
    return results


def main() -> int:
    promtool = installed()
    if promtool is None:
        print(f"building promtool {VERSION} ({prometheus_version()}) into {TOOLS_DIR}")
        try:
            promtool = build()
        except BuildFailed as error:
            print(f"test-alerts SKIPPED: promtool could not be built: {error}", file=sys.stderr)
            return UPSTREAM_FAILURE
    with tempfile.TemporaryDirectory(prefix="alerts-") as workdir:
        for done in run(promtool, Path(workdir)):
            print(f"$ promtool {' '.join(done.args[1:])}")
            print(done.stdout + done.stderr, end="")
            if done.returncode != 0:
                return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
