"""Prediction sets on unseen rows: the coverage they promise, and MAPIE's on the same splits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from mapie.classification import SplitConformalClassifier

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL
from predictor.prediction_sets import PredictionSets
from predictor.responses import AnswerContext, v1_body
from training.conformal import calibrate, conformal_rank, rows_needed, set_report
from training.study import seen_and_unseen, study
from training.train import TrainingConfig, split_rows, train

SPLITS = 8
MEASURED_COVERAGE_FLOOR = 0.94  # 0.95 promised, less finite-sample noise
MAX_MEAN_SET_SIZE = 1.25


@pytest.fixture(scope="module")
def figures() -> dict:
    return study(TrainingConfig.target_sensitivity, SPLITS)


def test_sets_keep_their_coverage_over_random_splits(figures: dict) -> None:
    assert figures["set_coverage"] >= MEASURED_COVERAGE_FLOOR
    assert figures["set_coverage_malignant"] >= MEASURED_COVERAGE_FLOOR
    assert figures["set_mean_set_size"] <= MAX_MEAN_SET_SIZE
    assert figures["one_label_contradictions"] == 0


def test_a_one_label_set_is_always_the_served_label() -> None:
    """Every probability on a fine grid, with cut points on both sides of the threshold."""
    grid = np.linspace(0.0, 1.0, 10_001)
    for cuts in [(0.9, 0.3), (0.1, 0.6), (0.0, 1.0), (1.0, 0.0)]:
        sets = PredictionSets(0.95, *cuts, threshold=0.2)
        body = v1_body(grid, AnswerContext(0.2, "m", "v", sets))
        for prediction in body["predictions"]:
            labels_in = prediction["prediction_set"]
            assert labels_in in (
                [NEGATIVE_LABEL],
                [POSITIVE_LABEL],
                [NEGATIVE_LABEL, POSITIVE_LABEL],
            )
            assert prediction["label"] in labels_in


def test_cut_points_are_the_conformal_order_statistics() -> None:
    """19 rows per class at 0.95: rank 19 of 19, the most extreme row of each class."""
    assert conformal_rank(19, 0.95) == 19 and rows_needed(0.95) == 19
    malignant = np.linspace(0.50, 0.95, 19)
    benign = np.linspace(0.05, 0.40, 19)
    labels = np.r_[np.ones(19), np.zeros(19)]
    calibration = calibrate(labels, np.r_[malignant, benign], 0.95)
    assert calibration.malignant_if_at_least == malignant.min()
    assert calibration.benign_if_at_most == benign.max()
    # One row fewer: no rank is high enough, so the class is always in the set.
    fewer = calibrate(labels[1:], np.r_[malignant[1:], benign], 0.95)
    assert fewer.malignant_if_at_least == 0.0 and fewer.rows["malignant"] == 18


def mapie_class_conditional(pipeline, rows, unseen: np.ndarray, coverage: float) -> np.ndarray:
    """Class-conditional split conformal with MAPIE: one SplitConformalClassifier per class,
    conformalized on that class's calibration rows; column c says whether c is in the set."""
    x_calibration, y_calibration = rows.calibration
    membership = np.zeros((len(unseen), 2), dtype=bool)
    for label in (0, 1):
        mapie = SplitConformalClassifier(
            estimator=pipeline, confidence_level=coverage, conformity_score="lac", prefit=True
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "conformalization dataset has less labels"
            mapie.conformalize(
                x_calibration[y_calibration == label], y_calibration[y_calibration == label]
            )
            membership[:, label] = mapie.predict_set(unseen)[1][:, label, 0]
    return membership


def test_sets_are_mapies_on_the_same_splits() -> None:
    """The conformal sets equal MAPIE 1.x's, row for row, on every split the study uses, and
    so do the coverage figures of the served sets (conformal set joined with the label)."""
    config = TrainingConfig()
    for seen, unseen_x, unseen_y in seen_and_unseen(SPLITS):
        result = train(seen, config)
        probabilities = result.pipeline.predict_proba(unseen_x)[:, 1]
        ours = result.calibration
        theirs = mapie_class_conditional(result.pipeline, split_rows(seen, config), unseen_x, 0.95)
        np.testing.assert_array_equal(theirs[:, 1], probabilities >= ours.malignant_if_at_least)
        np.testing.assert_array_equal(theirs[:, 0], probabilities <= ours.benign_if_at_most)
        served = probabilities >= result.threshold
        mapie_sets = theirs | np.c_[~served, served]
        covered = mapie_sets[np.arange(len(unseen_y)), unseen_y]
        report = set_report(unseen_y, probabilities, ours.prediction_sets(result.threshold))
        assert report["coverage"] == covered.mean()
        assert report["coverage_malignant"] == covered[unseen_y == 1].mean()
        assert report["two_label_share"] == mapie_sets.all(axis=1).mean()
