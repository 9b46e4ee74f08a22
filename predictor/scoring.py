"""Probability of malignant from the folded logistic regression: ``sigmoid(x @ w + b)``.

Training folds the StandardScaler + LogisticRegression pipeline into one weight vector and
bias, ``w = coef / scale`` and ``b = intercept - sum(coef * mean / scale)``, and stores them in
``linear_model.json``. Scoring needs nothing but numpy: no scikit-learn, SciPy or unpickling
in the serving process, and no per-call input checks (the predictor has validated every value).
Other classifiers are scored by their pipeline (``predictor.pipeline_scoring``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sigmoid(log_odds: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for any input.

    ``exp`` is only ever taken of ``-|z|``, so it never overflows: for ``z >= 0`` this is
    ``1 / (1 + exp(-z))`` (SciPy's ``expit`` formula), for ``z < 0`` the same value written as
    ``exp(z) / (1 + exp(z))``. Agrees with ``scipy.special.expit`` to a few ulp (tested).

    Args:
        log_odds: Any float array.

    Returns:
        Probabilities in [0, 1], same shape.
    """
    decay = np.exp(-np.abs(log_odds))
    return np.where(log_odds >= 0, 1.0 / (1.0 + decay), decay / (1.0 + decay))


@dataclass(frozen=True, eq=False)
class LinearScorer:
    """Scaler and logistic regression folded into one affine map plus a sigmoid."""

    weights: np.ndarray
    bias: float
    # Kept for explanations: contribution_i = coef_i * (x_i - mean_i) / scale_i.
    coef: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    intercept: float

    kind = "linear"

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights + self.bias

    def probability_malignant(self, features: np.ndarray) -> np.ndarray:
        return sigmoid(self.log_odds(features))
