"""Artifacts written before SHA256SUMS and linear_model.json still load, via the pickle path."""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from predictor.artifact import METADATA_FILENAME, MODEL_FILENAME, ArtifactError, resolve_version_dir
from predictor.loader import Artifact, load_artifact
from predictor.scoring import LinearScorer
from tests.artifact_edits import MaliciousPickle, edit_json, make_legacy
from training.data import load_bundled


@pytest.fixture
def legacy(trained_dir: Path, tmp_path: Path) -> Path:
    destination = tmp_path / "legacy"
    shutil.copytree(trained_dir, destination)
    make_legacy(resolve_version_dir(destination))
    return destination


def test_loads_with_one_info_line_and_scores_like_the_linear_file(
    legacy: Path, artifact: Artifact, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="predictor"):
        old = load_artifact(legacy)
    notes = [r for r in caplog.records if "predates linear_model.json" in r.getMessage()]
    assert [r.levelno for r in notes] == [logging.INFO]
    assert old.scorer_file == MODEL_FILENAME and old.manifest_sha256 is None
    assert old.drift_reference is None  # no drift figures: see test_artifact_serving.py
    # The fold at load is the one training wrote into linear_model.json: same bits.
    assert isinstance(old.scorer, LinearScorer)
    features = load_bundled().features
    np.testing.assert_array_equal(
        old.scorer.probability_malignant(features), artifact.scorer.probability_malignant(features)
    )


def test_refuses_a_tampered_pickle_without_unpickling_it(legacy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (resolve_version_dir(legacy) / MODEL_FILENAME).write_bytes(
        pickle.dumps(MaliciousPickle(marker))
    )
    with pytest.raises(ArtifactError, match=r"does not match metadata\.json"):
        load_artifact(legacy)
    assert not marker.exists()


def test_refuses_legacy_metadata_without_the_model_hash(legacy: Path) -> None:
    edit_json(resolve_version_dir(legacy) / METADATA_FILENAME, model_file=None)
    with pytest.raises(ArtifactError, match=r"lacks model_file for model\.joblib"):
        load_artifact(legacy)
