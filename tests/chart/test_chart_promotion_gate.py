"""The training Job runs the promotion gate with the chart's values, and a refusal fails it."""

from __future__ import annotations

import dataclasses

import yaml

from tests.chart.conftest import CHART_DIR
from tests.chart.test_chart_versions import job_args
from training.__main__ import build_parser as training_parser
from training.gate import GatePolicy
from training.run import EXIT_DATA_ERROR, EXIT_REFUSED, gate_policy

# values.yaml key -> GatePolicy field
GATE_VALUES = {
    "minRocAuc": "min_roc_auc",
    "maxSensitivityShortfall": "max_sensitivity_shortfall",
    "minSpecificity": "min_specificity",
    "championRocAucTolerance": "champion_roc_auc_tolerance",
    "championSensitivityTolerance": "champion_sensitivity_tolerance",
}


def test_values_cover_every_setting_of_the_gate_with_the_clis_defaults() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["training"]["promotionGate"]
    assert set(GATE_VALUES.values()) == {f.name for f in dataclasses.fields(GatePolicy)}
    assert {key: values[key] for key in GATE_VALUES} == {
        key: getattr(GatePolicy(), field) for key, field in GATE_VALUES.items()
    }
    assert values["skip"] is False


def test_the_job_runs_the_gate_with_the_defaults(render) -> None:
    options = training_parser().parse_args(job_args(render()))
    assert gate_policy(options) == GatePolicy()
    assert options.skip_promotion_gate is False


def test_overrides_reach_the_job(render) -> None:
    overrides = {"minRocAuc": 0.99, "championSensitivityTolerance": 0, "skip": True}
    rendered = render({"training": {"promotionGate": overrides}})
    options = training_parser().parse_args(job_args(rendered))
    assert gate_policy(options) == GatePolicy(min_roc_auc=0.99, champion_sensitivity_tolerance=0)
    assert options.skip_promotion_gate is True


def test_a_refusal_or_bad_data_fails_the_job_without_a_retry(render) -> None:
    spec = render().job()["spec"]
    container = spec["template"]["spec"]["containers"][0]["name"]
    (rule,) = spec["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob"
    assert rule["onExitCodes"] == {
        "containerName": container,
        "operator": "In",
        "values": [EXIT_DATA_ERROR, EXIT_REFUSED],
    }
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # what podFailurePolicy needs
