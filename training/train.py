"""Training as a plain function: data in; fitted pipeline, threshold, sets and metrics out.

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
from training.conformal import Calibration, calibrate, set_report
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
    # The hold-out rows themselves: the promotion gate scores the champion on them too.
    holdout_features: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)
    # Prediction-set cut points from the calibration rows (None: not calibrated).
    calibration: Calibration | None = None
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


@dataclass(frozen=True)
class Rows:
    """The parts of a dataset ``train`` uses, each (features, labels); stratified."""

    train: tuple[np.ndarray, np.ndarray]  # all but the hold-out: CV and threshold
    fit: tuple[np.ndarray, np.ndarray]  # the training rows the served model fits
    calibration: tuple[np.ndarray, np.ndarray]  # the training rows it never fits
    holdout: tuple[np.ndarray, np.ndarray]


def split_rows(dataset: Dataset, config: TrainingConfig) -> Rows:
    """Hold-out rows first (``test_size``), then calibration rows (``calibration_size`` of
    the rest); the same data and config always give the same parts."""
    x_train, x_holdout, y_train, y_holdout = train_test_split(
        dataset.features,
        dataset.labels,
        test_size=config.test_size,
        stratify=dataset.labels,
        random_state=config.seed,
    )
    x_fit, x_calibration, y_fit, y_calibration = train_test_split(
        x_train,
        y_train,
        test_size=config.calibration_size,
        stratify=y_train,
        random_state=config.seed,
    )
    return Rows(
        (x_train, y_train), (x_fit, y_fit), (x_calibration, y_calibration), (x_holdout, y_holdout)
    )


def train(
    dataset: Dataset,
    config: TrainingConfig,
    progress: Callable[[str], None] = lambda _message: None,
) -> TrainingResult:
    """Split, cross-validate, choose the threshold, fit, calibrate sets, evaluate on hold-out.

    The hold-out rows (``test_size``, stratified) are set aside first; the rest are the
    training rows. Cross-validation on all training rows gives the out-of-fold probabilities
    the threshold is chosen on (the fold models are never served). The served model is then
    fitted on the fit rows only: ``calibration_size`` of the training rows (stratified) are
    kept from it to calibrate its prediction sets. The hold-out rows evaluate both.

    Args:
        dataset: Features and labels (1 = malignant).
        config: Seed, split, folds, target sensitivity, classifier and set coverage.
        progress: Receives one human-readable line per step.

    Returns:
        The result; the same data and config always give the same metrics and predictions.
    """
    rows = split_rows(dataset, config)
    x_train, y_train = rows.train
    x_fit, y_fit = rows.fit
    x_calibration, y_calibration = rows.calibration
    x_holdout, y_holdout = rows.holdout
    progress(
        f"split: {len(y_fit)} fit rows, {len(y_calibration)} calibration rows (prediction sets; "
        f"never fitted), {len(y_holdout)} hold-out rows (stratified)"
    )
    pipeline = build_pipeline(config)
    out_of_fold, folds = _cross_validate(pipeline, x_train, y_train, config, progress)
    threshold = select_threshold(y_train, out_of_fold, config.target_sensitivity)
    progress(
        f"threshold {threshold:.4f}: highest giving out-of-fold sensitivity >= "
        f"{config.target_sensitivity} on training rows"
    )
    pipeline.fit(x_fit, y_fit)
    calibration = calibrate(
        y_calibration, pipeline.predict_proba(x_calibration)[:, 1], config.coverage
    )
    holdout_probabilities = pipeline.predict_proba(x_holdout)[:, 1]
    sets = set_report(y_holdout, holdout_probabilities, calibration.prediction_sets(threshold))
    progress(
        f"prediction sets at coverage {config.coverage}: malignant from p >= "
        f"{calibration.malignant_if_at_least:.4f}, benign up to p <= "
        f"{calibration.benign_if_at_most:.4f}; hold-out coverage {sets['coverage']:.3f} "
        f"(malignant {sets['coverage_malignant']:.3f}), two-label sets "
        f"{sets['two_label_share']:.1%}"
    )
    for label, rows in calibration.rows.items():
        if rows < calibration.rows_needed:
            progress(
                f"warning: {rows} {label} calibration rows are too few for coverage "
                f"{config.coverage} (at least {calibration.rows_needed}): every set holds {label}"
            )
    metrics = {
        "positive_label": "malignant",
        "threshold": threshold,
        "holdout": classification_metrics(y_holdout, holdout_probabilities, threshold),
        "cross_validation": {
            "folds": folds,
            "out_of_fold": classification_metrics(y_train, out_of_fold, threshold),
        },
        "prediction_sets": sets,
        "rows": {
            "train": len(y_train),
            "fit": len(y_fit),
            "calibration": len(y_calibration),
            "holdout": len(y_holdout),
        },
    }
    return TrainingResult(
        pipeline=pipeline,
        threshold=threshold,
        metrics=metrics,
        feature_min=[float(v) for v in x_fit.min(axis=0)],
        feature_max=[float(v) for v in x_fit.max(axis=0)],
        holdout_labels=y_holdout,
        holdout_probabilities=holdout_probabilities,
        out_of_fold_labels=y_train,
        out_of_fold_probabilities=out_of_fold,
        holdout_features=x_holdout,
        calibration=calibration,
        # The distribution of the rows the served model was fitted on (as its ranges).
        drift_reference=build_reference(x_fit, y_fit, FEATURE_NAMES),
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
