"""Training as a plain function: data in, fitted pipeline + threshold + honest metrics out.

Nothing here writes files; publishing the artifact happens at the edge (``run.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from predictor.drift_reference import DriftReference, build_reference
from training.config import CLASSIFIERS, LOGISTIC_REGRESSION, RANDOM_FOREST, TrainingConfig
from training.data import FEATURE_NAMES, Dataset
from training.evaluate import classification_metrics, select_threshold


@dataclass
class TrainingResult:
    """The refitted pipeline, its threshold and the metrics that justify it."""

    pipeline: Pipeline
    threshold: float
    metrics: dict
    feature_min: list[float]
    feature_max: list[float]
    holdout_labels: np.ndarray = field(repr=False)
    holdout_probabilities: np.ndarray = field(repr=False)
    # Training rows and their out-of-fold probabilities: the rows the threshold was chosen on.
    out_of_fold_labels: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    out_of_fold_probabilities: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    # The fitted rows' distribution per feature and malignant share, for drift at serving.
    drift_reference: DriftReference | None = field(default=None, repr=False)


def build_pipeline(config: TrainingConfig) -> Pipeline:
    """Scaling + classifier; class 1 of the fitted pipeline is malignant."""
    if config.classifier == LOGISTIC_REGRESSION:
        classifier = LogisticRegression(C=config.regularization, max_iter=10_000)
    elif config.classifier == RANDOM_FOREST:
        classifier = RandomForestClassifier(n_estimators=300, random_state=config.seed, n_jobs=1)
    else:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {config.classifier!r}")
    return Pipeline([("scaler", StandardScaler()), ("classifier", classifier)])


def train(
    dataset: Dataset,
    config: TrainingConfig,
    progress: Callable[[str], None] = lambda _message: None,
) -> TrainingResult:
    """Split, cross-validate, choose the threshold on training rows, refit, evaluate on hold-out.

    Args:
        dataset: Features and labels (1 = malignant).
        config: Seed, split, folds, target sensitivity and classifier.
        progress: Receives one human-readable line per step.

    Returns:
        The result; the same data and config always give the same metrics and predictions.
    """
    x_train, x_holdout, y_train, y_holdout = train_test_split(
        dataset.features,
        dataset.labels,
        test_size=config.test_size,
        stratify=dataset.labels,
        random_state=config.seed,
    )
    progress(f"split: {len(y_train)} training rows, {len(y_holdout)} hold-out rows (stratified)")
    pipeline = build_pipeline(config)
    out_of_fold, folds = _cross_validate(pipeline, x_train, y_train, config, progress)
    threshold = select_threshold(y_train, out_of_fold, config.target_sensitivity)
    progress(
        f"threshold {threshold:.4f}: highest giving out-of-fold sensitivity >= "
        f"{config.target_sensitivity} on training rows"
    )
    pipeline.fit(x_train, y_train)
    holdout_probabilities = pipeline.predict_proba(x_holdout)[:, 1]
    metrics = {
        "positive_label": "malignant",
        "threshold": threshold,
        "holdout": classification_metrics(y_holdout, holdout_probabilities, threshold),
        "cross_validation": {
            "folds": folds,
            "out_of_fold": classification_metrics(y_train, out_of_fold, threshold),
        },
        "rows": {"train": len(y_train), "holdout": len(y_holdout)},
    }
    return TrainingResult(
        pipeline=pipeline,
        threshold=threshold,
        metrics=metrics,
        feature_min=[float(v) for v in x_train.min(axis=0)],
        feature_max=[float(v) for v in x_train.max(axis=0)],
        holdout_labels=y_holdout,
        holdout_probabilities=holdout_probabilities,
        out_of_fold_labels=y_train,
        out_of_fold_probabilities=out_of_fold,
        drift_reference=build_reference(x_train, y_train, FEATURE_NAMES),
    )


def _cross_validate(
    pipeline: Pipeline,
    features: np.ndarray,
    labels: np.ndarray,
    config: TrainingConfig,
    progress: Callable[[str], None],
) -> tuple[np.ndarray, list[dict]]:
    splitter = StratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=config.seed)
    out_of_fold = np.empty(len(labels), dtype=np.float64)
    folds = []
    for number, (fit_rows, score_rows) in enumerate(splitter.split(features, labels), start=1):
        fold_model = clone(pipeline).fit(features[fit_rows], labels[fit_rows])
        out_of_fold[score_rows] = fold_model.predict_proba(features[score_rows])[:, 1]
        fold = classification_metrics(labels[score_rows], out_of_fold[score_rows], 0.5)
        folds.append({"fold": number, "roc_auc": fold["roc_auc"], "brier": fold["brier"]})
        progress(
            f"cv fold {number}/{config.cv_folds}: roc_auc {fold['roc_auc']:.4f} "
            f"brier {fold['brier']:.4f}"
        )
    return out_of_fold, folds
