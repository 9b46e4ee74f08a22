"""The chart's alerts evaluated by promtool against the unit tests in tests/chart/alerts/.

promtool runs when it is built (`make test-alerts` builds it into .cache/promtool/, or
$PROMTOOL names one); the coverage checks run always."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.chart import promtool
from tests.chart.conftest import ROOT
from tests.chart.promql import rule_queries

LOCAL_CLUSTER = ROOT / "k8s" / "local-cluster.sh"


@pytest.fixture(scope="module")
def binary() -> Path:
    found = promtool.installed()
    if found is None:
        pytest.skip(f"promtool not built: `make test-alerts` builds it into {promtool.TOOLS_DIR}")
    return found


def alert_names() -> set[str]:
    return {name for name, _ in rule_queries({"spec": promtool.rule_groups()})}


def unit_cases() -> dict[str, dict[str, int]]:
    """Per alert, how many unit-test evaluations expect it firing and how many silent."""
    cases: dict[str, dict[str, int]] = {}
    for path in promtool.unit_test_files():
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "silent"
                counts = cases.setdefault(case["alertname"], {"firing": 0, "silent": 0})
                counts[kind] += 1
    return cases


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    cases = unit_cases()
    assert set(cases) == alert_names()
    assert {name: c for name, c in cases.items() if not (c["firing"] and c["silent"])} == {}


def test_unit_tests_load_the_rendered_rule_file() -> None:
    for path in promtool.unit_test_files():
        assert yaml.safe_load(path.read_text())["rule_files"] == [promtool.RULE_FILE], path.name


def test_promtool_passes_the_rules_and_their_unit_tests(binary: Path, tmp_path: Path) -> None:
    check, test = promtool.run(binary, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in check.stdout + check.stderr
    assert test.stdout.count("SUCCESS") == len(promtool.unit_test_files()), test.stdout


@pytest.mark.parametrize(
    ("values", "alert"),
    [
        ({"driftPsi": 0.4}, "BreastCancerFeatureDrift"),
        ({"sensitivityMinCases": 400}, "BreastCancerLiveSensitivityLow"),
        ({"modelMaxAgeDays": 190}, "BreastCancerModelStale"),
        ({"errorRatio": 0.2}, "BreastCancerPredictorErrors"),
    ],
)
def test_the_unit_tests_catch_a_changed_threshold(
    binary: Path, tmp_path: Path, values: dict, alert: str
) -> None:
    rendered = {"metrics": {"prometheusRule": {"enabled": True, **values}}}
    _, test = promtool.run(binary, tmp_path, rendered)
    assert test.returncode == 1
    # promtool names the alert whose expected firing did not happen.
    assert re.search(rf"alertname: {alert}\b", test.stdout + test.stderr), test.stderr


def test_promtool_is_the_version_the_cluster_builds_prometheus_from() -> None:
    script = LOCAL_CLUSTER.read_text()
    pattern = r'^PROMETHEUS_VERSION="\$\{PROMETHEUS_VERSION:-(v[0-9.]+)\}"'
    (pinned,) = re.findall(pattern, script, re.MULTILINE)
    assert pinned == promtool.VERSION
    assert promtool.prometheus_version() == "3.16.0"
