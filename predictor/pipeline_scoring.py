"""The pickle path: score with the unpickled scikit-learn pipeline, or the fold it proves exact.

Imported only for artifacts that need ``model.joblib``: non-linear classifiers, and artifacts
written before ``linear_model.json`` existed. Importing scikit-learn, SciPy and joblib costs
seconds of start-up that a linear artifact never pays. Training uses the same fold to write
``linear_model.json``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from predictor.scoring import LinearScorer

FOLD_TOLERANCE = 1e-12
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


def unpickle(content: bytes) -> Any:
    """Unpickle ``model.joblib`` from bytes whose sha256 the caller has already checked.

    Loading from the verified bytes, not the path, leaves no window in which the file could be
    swapped between the hash check and the unpickling.
    """
    return joblib.load(io.BytesIO(content))


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
    intercept = float(classifier.intercept_[0])
    return LinearScorer(
        weights=coef / scale,
        bias=float(intercept - np.sum(coef * mean / scale)),
        coef=coef,
        mean=np.asarray(mean, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        intercept=intercept,
    )


def check_grid(low: np.ndarray, high: np.ndarray, rows: int = CHECK_GRID_ROWS) -> np.ndarray:
    """Rows spanning each feature's training range, plus points beyond both ends."""
    steps = np.linspace(-0.5, 1.5, rows)[:, None]
    grid = low + steps * (high - low)
    # Interleave features so rows mix low and high values, not just the diagonal.
    rng = np.random.default_rng(0)
    return np.vstack([grid, rng.permuted(grid, axis=0)])


def build_scorer(
    pipeline: Any, feature_min: list[float], feature_max: list[float]
) -> LinearScorer | PipelineScorer:
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
