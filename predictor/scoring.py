"""Probability of malignant for a feature matrix.

For the default StandardScaler + LogisticRegression pipeline the whole model folds into one
weight vector and bias: ``sigmoid(x @ w + b)`` with ``w = coef / scale`` and
``b = intercept - sum(coef * mean / scale)``. That skips scikit-learn's per-call input
checks (the predictor has already validated every value). The folded form is used only if it
reproduces the pipeline's probabilities to ``FOLD_TOLERANCE`` on a grid spanning the training
range; any other model is scored by the pipeline itself.
"""

from __future__ import annotations

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

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights + self.bias

    def probability_malignant(self, features: np.ndarray) -> np.ndarray:
        return expit(self.log_odds(features))


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
        training-range grid, else a PipelineScorer.
    """
    folded = fold_linear(pipeline)
    if folded is None:
        return PipelineScorer(pipeline)
    grid = check_grid(np.asarray(feature_min), np.asarray(feature_max))
    expected = pipeline.predict_proba(grid)[:, 1]
    if np.max(np.abs(folded.probability_malignant(grid) - expected)) > FOLD_TOLERANCE:
        return PipelineScorer(pipeline)
    return folded
