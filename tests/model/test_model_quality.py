"""Model behaviour: quality floors on unseen rows, determinism, threshold and scorer fidelity."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from predictor.linear_model import LINEAR_MODEL_FILENAME
from predictor.loader import Artifact, load_artifact
from predictor.pipeline_scoring import (
    FOLD_TOLERANCE,
    PipelineScorer,
    build_scorer,
    check_grid,
    fold_linear,
)
from predictor.responses import decide_labels
from predictor.scoring import LinearScorer
from training.__main__ import main as training_main
from training.data import DIAGNOSIS_COLUMN, FEATURE_NAMES, load_bundled
from training.evaluate import select_threshold
from training.train import RANDOM_FOREST, TrainingConfig, train

AUC_FLOOR = 0.99
SENSITIVITY_FLOOR = 0.97


def test_default_run_meets_floors_on_holdout(artifact: Artifact) -> None:
    holdout = artifact.metadata["metrics"]["holdout"]
    assert holdout["roc_auc"] >= AUC_FLOOR
    assert holdout["sensitivity"] >= 0.95
    assert holdout["specificity"] >= 0.9
    out_of_fold = artifact.metadata["metrics"]["cross_validation"]["out_of_fold"]
    assert out_of_fold["sensitivity"] >= artifact.metadata["target_sensitivity"]


def test_metadata_names_labels_and_records_provenance(artifact: Artifact) -> None:
    metadata = artifact.metadata
    assert metadata["class_labels"] == ["benign", "malignant"]
    assert metadata["positive_label"] == "malignant"
    assert metadata["feature_names"] == list(FEATURE_NAMES)
    assert set(metadata["feature_ranges"]) == set(FEATURE_NAMES)
    assert len(metadata["training_data"]["fingerprint_sha256"]) == 64
    assert metadata["libraries"]["scikit-learn"]


def test_same_data_and_seed_give_identical_metrics_and_predictions() -> None:
    data = load_bundled()
    first = train(data, TrainingConfig(seed=7))
    second = train(data, TrainingConfig(seed=7))
    assert first.metrics == second.metrics
    assert first.threshold == second.threshold
    np.testing.assert_array_equal(
        first.pipeline.predict_proba(data.features), second.pipeline.predict_proba(data.features)
    )


def test_malignant_cases_score_higher_than_benign(artifact: Artifact) -> None:
    data = load_bundled()
    probabilities = artifact.scorer.probability_malignant(data.features)
    assert (
        probabilities[data.labels == 1].mean() > 0.8 > 0.2 > probabilities[data.labels == 0].mean()
    )


@pytest.mark.parametrize("target", [0.9, 0.95, 0.98, 1.0])
def test_threshold_is_highest_reaching_target(target: float) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    probabilities = np.clip(labels * 0.4 + rng.random(500) * 0.6, 0, 1)
    threshold = select_threshold(labels, probabilities, target)
    sensitivity = np.mean(probabilities[labels == 1] >= threshold)
    assert sensitivity >= target
    higher = np.nextafter(threshold, 1.0)
    assert np.mean(probabilities[labels == 1] >= higher) < target


def test_served_linear_model_reproduces_the_pipeline_on_the_whole_dataset(
    artifact: Artifact, pipeline
) -> None:
    """What the predictor serves (linear_model.json, no scikit-learn) is predict_proba."""
    assert isinstance(artifact.scorer, LinearScorer)
    assert artifact.scorer_file == LINEAR_MODEL_FILENAME
    features = load_bundled().features
    served = artifact.scorer.probability_malignant(features)
    assert np.max(np.abs(served - pipeline.predict_proba(features)[:, 1])) <= 1e-12


def test_linear_model_holds_training_fold_bit_for_bit(artifact: Artifact, pipeline) -> None:
    """The JSON round trip loses nothing: the served arrays equal the fold of the pipeline."""
    folded = fold_linear(pipeline)
    for name in ("weights", "coef", "mean", "scale"):
        np.testing.assert_array_equal(getattr(artifact.scorer, name), getattr(folded, name))
    assert (artifact.scorer.bias, artifact.scorer.intercept) == (folded.bias, folded.intercept)


def test_linear_scorer_reproduces_the_pipeline_beyond_the_training_range(
    artifact: Artifact, pipeline
) -> None:
    grid = check_grid(np.array(artifact.feature_min), np.array(artifact.feature_max))
    expected = pipeline.predict_proba(grid)[:, 1]
    served = artifact.scorer.probability_malignant(grid)
    assert np.max(np.abs(served - expected)) <= FOLD_TOLERANCE


def test_other_classifiers_fall_back_to_the_pipeline() -> None:
    data = load_bundled()
    result = train(data, TrainingConfig(classifier=RANDOM_FOREST, cv_folds=3))
    scorer = build_scorer(result.pipeline, result.feature_min, result.feature_max)
    assert isinstance(scorer, PipelineScorer)
    assert result.metrics["holdout"]["roc_auc"] >= 0.98


def test_model_trained_on_csv_generalises_to_unseen_rows(tmp_path: Path) -> None:
    """One fixed split: with ~53 unseen malignant rows one miss costs 1.9 points of
    sensitivity, so the floor is checked on a fixed split; the spread over many splits is
    measured by ``python -m training.study`` and reported in training/README.md."""
    data = load_bundled()
    seen_x, unseen_x, seen_y, unseen_y = train_test_split(
        data.features, data.labels, test_size=0.25, stratify=data.labels, random_state=0
    )
    csv_path = tmp_path / "train.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FEATURE_NAMES, DIAGNOSIS_COLUMN])
        for features, label in zip(seen_x, seen_y, strict=True):
            writer.writerow([*features, "M" if label else "B"])
    output = tmp_path / "models"
    assert training_main(["--output", str(output), "--data", str(csv_path), "--no-plots"]) == 0
    artifact = load_artifact(output)
    probabilities = artifact.scorer.probability_malignant(unseen_x)
    labels = np.array(decide_labels(probabilities, artifact.threshold)) == "malignant"
    assert roc_auc_score(unseen_y, probabilities) >= AUC_FLOOR
    assert labels[unseen_y == 1].mean() >= SENSITIVITY_FLOOR
