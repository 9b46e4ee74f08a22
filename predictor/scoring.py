"""Probability of malignant from the folded logistic regression: ``sigmoid(x @ w + b)``.

Training folds the StandardScaler + LogisticRegression pipeline into one weight vector and
bias, ``w = coef / scale`` and ``b = intercept - sum(coef * mean / scale)``, and stores them in
``linear_model.json``. Scoring needs nothing but numpy: no scikit-learn, SciPy or unpickling
in the serving process, and no per-call input checks (the predictor has validated every value).
Other classifiers are scored by their pipeline (``predictor.pipeline_scoring``).

One instance is scored in Python floats (``probability_of_one``): for 30 values numpy's
per-call overhead costs more than the arithmetic. Its sum is exactly rounded (``math.fsum``),
so it can differ from numpy's BLAS dot in the last bit (about 1e-15 in the probability; BLAS
itself rounds a row alone and the same row inside a batch differently); tests hold it to the
pipeline's ``predict_proba`` on the whole dataset as tightly as the batch path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import mul

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
    _weight_list: list[float] = field(init=False, repr=False)

    kind = "linear"

    def __post_init__(self) -> None:
        # Frozen dataclass: the one attribute derived at construction is set through object.
        object.__setattr__(self, "_weight_list", self.weights.tolist())

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights + self.bias

    def probability_malignant(self, features: np.ndarray) -> np.ndarray:
        return sigmoid(self.log_odds(features))

    def probability_of_one(self, values: Sequence[float]) -> float:
        """``probability_malignant`` of one instance, in Python floats."""
        try:
            log_odds = math.fsum(map(mul, values, self._weight_list)) + self.bias
        except (OverflowError, ValueError):
            # A sum beyond float64, or infinite products of both signs: numpy's answer (1.0, 0.0
            # or nan) is the one the batch path gives.
            return float(self.probability_malignant(np.array([values], dtype=np.float64))[0])
        # The same two branches as ``sigmoid``, so exp never overflows.
        if log_odds >= 0:
            return 1.0 / (1.0 + math.exp(-log_odds))
        decay = math.exp(log_odds)
        return decay / (1.0 + decay)
