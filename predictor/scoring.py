"""Probability of malignant for a feature matrix.

For the default StandardScaler + LogisticRegression pipeline the whole model folds into one
weight vector and bias: ``sigmoid(x @ w + b)`` with ``w = coef / scale`` and
``b = intercept - sum(coef * mean / scale)``. That skips scikit-learn's per-call input
checks (the predictor has already validated every value). The folded form is used only if it
reproduces the pipeline's probabilities to ``FOLD_TOLERANCE`` on a grid spanning the training
range; any other model is scored by the pipeline itself.

One instance is scored in Python floats (``probability_of_one``): for 30 values numpy's
per-call overhead costs more than the arithmetic. Its sum is exactly rounded
(``math.fsum``), so it can differ from numpy's BLAS dot in the last bit (about 1e-15 in the
probability; BLAS itself rounds a row alone and the same row inside a batch differently).
It is held to the same ``FOLD_TOLERANCE`` on the same grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import mul
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

FOLD_TOLERANCE = 1e-9
CHECK_GRID_ROWS = 64


class PipelineScorer:
    """Scores with the scikit-learn pipeline (any classifier exposing predict_proba)."""

    kind = "pipeline"

    def __init__(self, pipeline: Any):
        self.pipeline = pipeline

    def probability_malignant(self, features: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(features)[:, 1]

    def probability_of_one(self, values: Sequence[float]) -> float:
        return float(self.probability_malignant(np.array([values], dtype=np.float64))[0])


class LinearScorer:
    """Scaler and logistic regression folded into one affine map plus a sigmoid."""

    kind = "linear"

    def __init__(self, weights: np.ndarray, bias: float, coef: np.ndarray, mean, scale):
        self.weights = weights
        self.bias = bias
        # Kept for explanations: contribution_i = coef_i * (x_i - mean_i) / scale_i.
        self.coef = coef
        self.mean = mean
        self.scale = scale
        self._weight_list = weights.tolist()

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights + self.bias

    def probability_malignant(self, features: np.ndarray) -> np.ndarray:
        return expit(self.log_odds(features))

    def probability_of_one(self, values: Sequence[float]) -> float:
        """``probability_malignant`` of one instance, in Python floats."""
        try:
            log_odds = math.fsum(map(mul, values, self._weight_list)) + self.bias
            return 1.0 / (1.0 + math.exp(-log_odds))  # expit's formula, the same libm exp
        except (OverflowError, ValueError):
            # exp beyond float64 (log-odds below about -709), or infinite products of both
            # signs: numpy's answer (0.0, or nan) is the one the batch path gives.
            return float(self.probability_malignant(np.array([values], dtype=np.float64))[0])


def fold_linear(pipeline: Any) -> LinearScorer | None:
    """Fold a StandardScaler + binary LogisticRegression pipeline; None for anything else."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    scaler, classifier = pipeline.steps[0][1], pipeline.steps[1][1]
    if not isinstance(scaler, StandardScaler) or not isinstance(classifier, LogisticRegression):
        return None
    if classifier.coef_.shape[0] != 1 or list(classifier.classes_) != [0, 1]:
        return None
    n_features = classifier.coef_.shape[1]
    mean = scaler.mean_ if scaler.with_mean else np.zeros(n_features)
    scale = scaler.scale_ if scaler.with_std else np.ones(n_features)
    coef = classifier.coef_[0].astype(np.float64)
    weights = coef / scale
    bias = float(classifier.intercept_[0] - np.sum(coef * mean / scale))
    return LinearScorer(weights, bias, coef, np.asarray(mean), np.asarray(scale))


def check_grid(low: np.ndarray, high: np.ndarray, rows: int = CHECK_GRID_ROWS) -> np.ndarray:
    """Rows spanning each feature's training range, plus points beyond both ends."""
    steps = np.linspace(-0.5, 1.5, rows)[:, None]
    grid = low + steps * (high - low)
    # Interleave features so rows mix low and high values, not just the diagonal.
    rng = np.random.default_rng(0)
    return np.vstack([grid, rng.permuted(grid, axis=0)])


def build_scorer(pipeline: Any, feature_min: list[float], feature_max: list[float]):
    """Pick the fastest scorer that provably matches the pipeline.

    Returns:
        A LinearScorer when the fold reproduces ``predict_proba`` to FOLD_TOLERANCE on the
        training-range grid (a batch, and row by row), else a PipelineScorer.
    """
    folded = fold_linear(pipeline)
    if folded is None:
        return PipelineScorer(pipeline)
    grid = check_grid(np.asarray(feature_min), np.asarray(feature_max))
    expected = pipeline.predict_proba(grid)[:, 1]
    one_by_one = np.array([folded.probability_of_one(row) for row in grid.tolist()])
    for probabilities in (folded.probability_malignant(grid), one_by_one):
        if np.max(np.abs(probabilities - expected)) > FOLD_TOLERANCE:
            return PipelineScorer(pipeline)
    return folded
