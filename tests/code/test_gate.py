"""The promotion gate's decision: floors, champion tolerances, skipping, and what it records."""

from __future__ import annotations

import json

import pytest

from training.gate import CHAMPION_METRICS, GATE_METRICS, Champion, GatePolicy, Scores, decide

GOOD = Scores(roc_auc=0.995, sensitivity=0.976, specificity=0.944)
POLICY = GatePolicy()
TARGET = 0.98


def test_a_good_first_model_passes_the_floors_alone() -> None:
    decision = decide(GOOD, None, POLICY, TARGET)
    assert decision.passed and decision.promoted
    assert [(c.metric, c.against) for c in decision.checks] == [
        (metric, "floor") for metric in GATE_METRICS
    ]
    assert decision.reasons() == "every check passed"
    assert "no champion" in decision.champion_note()


@pytest.mark.parametrize(
    ("metric", "value", "floor"),
    [("roc_auc", 0.94, 0.95), ("sensitivity", 0.87, 0.88), ("specificity", 0.49, 0.50)],
)
def test_each_floor_refuses_naming_the_metric_and_both_values(
    metric: str, value: float, floor: float
) -> None:
    challenger = Scores(**{**GOOD.__dict__, metric: value})
    decision = decide(challenger, None, POLICY, TARGET)
    assert not decision.promoted
    assert [c.metric for c in decision.failed] == [metric]
    assert decision.reasons() == f"{metric} {value:.4f} is below the floor {floor:.4f}"


def test_the_sensitivity_floor_follows_the_target() -> None:
    at = Scores(**{**GOOD.__dict__, "sensitivity": 0.90})
    below = Scores(**{**GOOD.__dict__, "sensitivity": 0.899})
    assert decide(at, None, POLICY, 1.0).passed  # floor 1.0 - 0.1, met exactly
    assert not decide(below, None, POLICY, 1.0).passed
    assert decide(below, None, POLICY, 0.98).passed  # floor 0.88
    assert not decide(below, None, GatePolicy(max_sensitivity_shortfall=0.05), 0.98).passed


@pytest.mark.parametrize("metric", CHAMPION_METRICS)
def test_the_champion_bounds_how_much_worse_a_challenger_may_be(metric: str) -> None:
    tolerance = POLICY.tolerance(metric)
    champion = Champion("rev-1", scores=GOOD)
    just_within = Scores(**{**GOOD.__dict__, metric: getattr(GOOD, metric) - tolerance})
    beyond = Scores(**{**GOOD.__dict__, metric: getattr(GOOD, metric) - tolerance - 0.001})
    assert decide(just_within, champion, POLICY, TARGET).passed
    refused = decide(beyond, champion, POLICY, TARGET)
    assert [(c.metric, c.against) for c in refused.failed] == [(metric, "champion")]
    assert "champion rev-1's" in refused.reasons()
    assert f"{getattr(GOOD, metric):.4f}" in refused.reasons()


def test_a_champion_that_cannot_be_compared_leaves_the_floors_to_decide() -> None:
    broken = Champion("rev-1", not_comparable="its feature schema differs")
    decision = decide(GOOD, broken, POLICY, TARGET)
    assert decision.passed
    assert all(check.against == "floor" for check in decision.checks)
    assert "rev-1 cannot be compared (its feature schema differs)" in decision.champion_note()


def test_skipping_promotes_and_keeps_the_failed_checks_on_record() -> None:
    bad = Scores(roc_auc=0.5, sensitivity=0.98, specificity=0.02)
    decision = decide(bad, Champion("rev-1", scores=GOOD), POLICY, TARGET, skip=True)
    assert decision.promoted and not decision.passed
    record = json.loads(json.dumps(decision.to_json()))
    assert record["promoted"] and record["gate_skipped"] and not record["passed"]
    assert record["champion"] == {
        "version": "rev-1",
        "comparable": True,
        "scores": GOOD.__dict__,
        "not_comparable": None,
    }
    failed = {(c["metric"], c["against"]) for c in record["checks"] if not c["passed"]}
    assert failed == {("roc_auc", "floor"), ("specificity", "floor"), ("roc_auc", "champion")}
    assert record["policy"] == POLICY.__dict__


def test_zero_turns_a_floor_off() -> None:
    awful = Scores(roc_auc=0.0, sensitivity=0.0, specificity=0.0)
    off = GatePolicy(min_roc_auc=0, max_sensitivity_shortfall=1, min_specificity=0)
    assert decide(awful, None, off, TARGET).passed
