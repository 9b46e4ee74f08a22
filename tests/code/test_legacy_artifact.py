"""Older artifacts still load: before SHA256SUMS (the pickle path), before prediction sets."""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest, RequestedOutput

from predictor.artifact import METADATA_FILENAME, MODEL_FILENAME, ArtifactError, resolve_version_dir
from predictor.loader import Artifact, load_artifact
from predictor.model import BreastCancerModel
from predictor.prediction_sets import METADATA_KEY, PREDICTION_SET
from predictor.responses import LABEL_OUTPUT, PROBABILITY_OUTPUT
from predictor.scoring import LinearScorer
from tests.artifact_edits import (
    MaliciousPickle,
    copy_without_prediction_sets,
    edit_json,
    make_legacy,
    rewrite_listed,
)
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


@pytest.fixture
def without_sets(trained_dir: Path, tmp_path: Path) -> Path:
    """A version as training wrote it before prediction sets (SHA256SUMS consistent)."""
    return copy_without_prediction_sets(trained_dir, tmp_path / "no-sets")


def test_an_artifact_without_prediction_sets_serves_without_them(without_sets: Path) -> None:
    model = BreastCancerModel("breast-cancer", without_sets)
    model.load()
    assert model.artifact.prediction_sets is None
    row = load_bundled().features[0].tolist()
    for instances in ([row], [row] * 20):
        body = orjson.loads(model.answer({"instances": instances})[0])
        assert all(set(p) == {"label", PROBABILITY_OUTPUT, "warnings"} for p in body["predictions"])
    assert [o["name"] for o in model.get_output_types()] == [PROBABILITY_OUTPUT, LABEL_OUTPUT]
    request = InferRequest(
        model_name="breast-cancer",
        infer_inputs=[InferInput("features", [1, 30], "FP64", row)],
        request_outputs=[RequestedOutput(PREDICTION_SET)],
    )
    with pytest.raises(InvalidInput, match=r"unknown output\(s\) \['prediction_set'\]"):
        model.answer(request)


@pytest.mark.parametrize(
    "recorded",
    [
        "0.95",
        {"coverage": 1.5, "malignant_if_at_least": 0.5, "benign_if_at_most": 0.5},
        {"coverage": 0.95, "malignant_if_at_least": float("nan"), "benign_if_at_most": 0.5},
        {"coverage": 0.95, "malignant_if_at_least": 0.5},
    ],
)
def test_malformed_prediction_sets_stop_the_load_naming_the_key(
    without_sets: Path, recorded
) -> None:
    version_dir = resolve_version_dir(without_sets)
    metadata = json.loads((version_dir / METADATA_FILENAME).read_text())
    metadata[METADATA_KEY] = recorded
    rewrite_listed(version_dir, METADATA_FILENAME, json.dumps(metadata).encode())
    with pytest.raises(ArtifactError, match=rf"cannot use .*metadata\.json: {METADATA_KEY}"):
        load_artifact(without_sets)
