"""Fixture chain: tmp dir -> trained artifact -> loaded model -> running predictor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from predictor.artifact import MODEL_FILENAME, verify_artifact
from predictor.loader import Artifact, load_artifact
from predictor.model import BreastCancerModel
from predictor.pipeline_scoring import unpickle
from predictor.settings import Settings
from tests.support import MODEL_NAME, RunningServer, running_predictor
from training.__main__ import main as training_main


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained once per session by the real CLI on the bundled data."""
    output = tmp_path_factory.mktemp("models")
    assert training_main(["--output", str(output), "--no-plots"]) == 0
    return output


@pytest.fixture(scope="session")
def artifact(trained_dir: Path) -> Artifact:
    return load_artifact(trained_dir)


@pytest.fixture(scope="session")
def pipeline(trained_dir: Path) -> Any:
    """The artifact's scikit-learn pipeline (``model.joblib``): the reference for every scorer."""
    return unpickle(verify_artifact(trained_dir).contents[MODEL_FILENAME])


@pytest.fixture
def model(trained_dir: Path) -> BreastCancerModel:
    loaded = BreastCancerModel(MODEL_NAME, trained_dir, Settings(max_instances=100))
    loaded.load()
    return loaded


@pytest.fixture(scope="session")
def server(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    with running_predictor(
        trained_dir, tmp_path_factory.mktemp("logs"), "--max_instances", "100"
    ) as running:
        yield running
