"""The knobs that change a trained model, and the accepted training labels; no heavy imports.

The command line builds its help and defaults from these without importing scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

LOGISTIC_REGRESSION = "logistic_regression"
RANDOM_FOREST = "random_forest"
CLASSIFIERS = (LOGISTIC_REGRESSION, RANDOM_FOREST)

DIAGNOSIS_COLUMN = "diagnosis"
# Cell values of the diagnosis column (compared case-insensitively) to labels, 1 = malignant.
DIAGNOSIS_VALUES = {"m": 1, "malignant": 1, "b": 0, "benign": 0}


@dataclass(frozen=True)
class TrainingConfig:
    """Every knob that changes the trained model; recorded in the artifact."""

    seed: int = 42
    test_size: float = 0.2
    cv_folds: int = 5
    target_sensitivity: float = 0.98
    classifier: str = LOGISTIC_REGRESSION
    regularization: float = 1.0
    # Fraction of the training rows set aside, never fitted on, to calibrate prediction sets.
    calibration_size: float = 0.25
    # Probability that a prediction set holds the true label, for each class.
    coverage: float = 0.95


def accepted_diagnoses() -> str:
    """The diagnosis labels a CSV may use, for messages: ``M, malignant, B or benign, in any
    case``."""
    labels = [label if len(label) > 1 else label.upper() for label in DIAGNOSIS_VALUES]
    return f"{', '.join(labels[:-1])} or {labels[-1]}, in any case"
