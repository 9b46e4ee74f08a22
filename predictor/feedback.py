"""Confirmed outcomes (``:feedback``): earlier cases scored again and counted against the truth.

Pathology confirms a diagnosis days after the prediction. The client sends the case again
with its outcome; the served model scores it and ``breast_cancer_feedback_total{predicted,
actual, model_version}`` counts the pair, so live sensitivity and specificity are ratios of
counters. Nothing is stored (any replica can take the feedback of any case), and the cases do
not enter the drift window: they are old cases, not today's traffic.
"""

from __future__ import annotations

from typing import Any

from kserve.errors import InvalidInput

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL
from predictor.metrics import FEEDBACK
from predictor.problems import json_type
from predictor.responses import (
    PROBABILITY_OUTPUT,
    AnswerContext,
    as_list,
    decide_labels,
    envelope,
)
from predictor.scoring import LinearScorer
from predictor.validation import INSTANCES_KEY, FeatureValidator, decode_json

OUTCOMES_KEY = "outcomes"
OUTCOMES = (POSITIVE_LABEL, NEGATIVE_LABEL)
# (predicted, actual) -> the confusion-matrix cell, named as in the training metrics.
CELLS = {
    (POSITIVE_LABEL, POSITIVE_LABEL): "true_malignant",
    (NEGATIVE_LABEL, POSITIVE_LABEL): "false_benign",
    (POSITIVE_LABEL, NEGATIVE_LABEL): "false_malignant",
    (NEGATIVE_LABEL, NEGATIVE_LABEL): "true_benign",
}
EXPECTED = f'"{POSITIVE_LABEL}" or "{NEGATIVE_LABEL}"'


def outcomes_of(payload: dict[str, Any], instances: int) -> list[str]:
    """The ``outcomes`` of a body whose ``instances`` (``instances`` of them) were valid.

    Raises:
        InvalidInput: No ``outcomes``, not a list, not one per instance, or an entry that is
            not exactly ``"malignant"`` or ``"benign"`` (its index named).
    """
    if OUTCOMES_KEY not in payload:
        raise InvalidInput(
            f'request body has no "{OUTCOMES_KEY}" key; expected {{"{INSTANCES_KEY}": [...], '
            f'"{OUTCOMES_KEY}": [{EXPECTED}, ...]}}, one outcome per instance'
        )
    outcomes = payload[OUTCOMES_KEY]
    if not isinstance(outcomes, list):
        raise InvalidInput(
            f'"{OUTCOMES_KEY}" must be a list of {EXPECTED}, one per instance, '
            f"got {json_type(outcomes)}"
        )
    if len(outcomes) != instances:
        raise InvalidInput(
            f'"{OUTCOMES_KEY}" holds {len(outcomes)} outcome(s) for {instances} instance(s); '
            f"send one outcome per instance, in the same order"
        )
    for index, outcome in enumerate(outcomes):
        if type(outcome) is not str or outcome not in OUTCOMES:
            raise InvalidInput(f"outcome {index}: expected {EXPECTED}, got {json_type(outcome)}")
    return outcomes


def record_feedback(
    payload: Any,
    validator: FeatureValidator,
    scorer: LinearScorer | Any,
    context: AnswerContext,
) -> dict[str, Any]:
    """Validate the instances exactly as ``:predict`` does, then the outcomes; score and count.

    Returns:
        The answer: ``counted`` (instances counted), ``confusion`` (counts per cell:
        true_malignant, false_benign, false_malignant, true_benign), ``feedback`` (per
        instance: predicted, actual, probability_malignant) and the model's name, version
        and threshold (from ``context``; its version labels the counters).

    Raises:
        InvalidInput: Anything ``:predict`` refuses, or bad outcomes; nothing is counted then.
    """
    if isinstance(payload, bytes | bytearray | memoryview | str):
        payload = decode_json(payload)
    features = validator.v1(payload)  # refuses a body that is not an object first
    outcomes = outcomes_of(payload, features.shape[0])
    scored = scorer.probability_malignant(features)
    predicted = decide_labels(scored, context.threshold)
    probabilities = as_list(scored)
    confusion = dict.fromkeys(CELLS.values(), 0)
    for pair in zip(predicted, outcomes, strict=True):
        confusion[CELLS[pair]] += 1
    version = context.model_version
    for (guess, truth), cell in CELLS.items():
        if confusion[cell]:
            FEEDBACK.labels(predicted=guess, actual=truth, model_version=version).inc(
                confusion[cell]
            )
    items = [
        {"predicted": guess, "actual": truth, PROBABILITY_OUTPUT: probability}
        for guess, truth, probability in zip(predicted, outcomes, probabilities, strict=True)
    ]
    answer = envelope("feedback", items, context)
    return {"counted": len(items), "confusion": confusion, **answer}


def start_counting(model_version: str) -> None:
    """Show the four counters of this version at 0 before any feedback (rates need them)."""
    for guess, truth in CELLS:
        FEEDBACK.labels(predicted=guess, actual=truth, model_version=model_version)
