"""The real predictor process: what it loads for each kind of artifact, and what it refuses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest
from kserve import InferenceGRPCClient, InferInput, InferRequest

from predictor.artifact import METADATA_FILENAME, resolve_version_dir
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME
from predictor.prediction_sets import PREDICTION_SET
from predictor.serving.multiprocess_metrics import ENV
from tests.artifact_edits import drop_listed, edit_json, make_legacy
from tests.support import (
    MODEL_NAME,
    RunningServer,
    load_example,
    refuse_to_start,
    running_predictor,
)

# Both packages load compiled extensions at import, so a loaded package shows in the memory map.
SCIENTIFIC_LIBRARIES = re.compile(r"/(sklearn|scipy|scikit_learn\.libs|scipy\.libs)/")
LEGACY_LINE = "predates linear_model.json and SHA256SUMS"
NO_DRIFT_LINE = "has no drift_reference.json"
# Imported by training or by kserve, never needed to serve a linear artifact.
UNUSED_AT_SERVING = {"sklearn", "scipy", "joblib", "pandas", "kubernetes", "requests"}


def mapped_scientific_libraries(pid: int) -> set[str]:
    """Shared objects of scikit-learn or SciPy mapped into process ``pid``."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in lines if SCIENTIFIC_LIBRARIES.search(line)}


def predict(server: RunningServer, example: str) -> bytes:
    url = f"{server.base_url}/v1/models/{MODEL_NAME}:predict"
    response = httpx.post(url, json=load_example(example))
    assert response.status_code == 200, response.text
    return response.content


def test_linear_artifact_is_served_without_scikit_learn_or_scipy(server: RunningServer) -> None:
    predict(server, "valid_batch_request.json")
    assert mapped_scientific_libraries(server.process.pid) == set()
    assert "linear scorer from linear_model.json" in server.log()


def test_legacy_artifact_loads_through_the_verified_pickle_path_and_answers_the_same(
    trained_dir: Path, tmp_path: Path, server: RunningServer
) -> None:
    """An artifact as training wrote it before SHA256SUMS: one INFO line, same answers."""
    legacy = tmp_path / "legacy"
    shutil.copytree(trained_dir, legacy)
    make_legacy(resolve_version_dir(legacy))
    with running_predictor(legacy, tmp_path) as old:
        assert mapped_scientific_libraries(old.process.pid), "the pickle path loads scikit-learn"
        then = orjson.loads(predict(old, "valid_batch_request.json"))
        now = orjson.loads(predict(server, "valid_batch_request.json"))
        lines = [line for line in old.log().splitlines() if LEGACY_LINE in line]
        metrics = httpx.get(f"{old.base_url}/metrics").text
    assert len(lines) == 1 and " INFO " in lines[0], old.log()
    # That format has no prediction sets: the same answers without them.
    for prediction in now["predictions"]:
        assert prediction.pop(PREDICTION_SET)
    assert then == now
    assert "breast_cancer_feature_psi" not in metrics
    assert "breast_cancer_model_trained_timestamp_seconds " in metrics


def test_a_version_without_drift_reference_serves_without_drift_figures(
    trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained before drift_reference.json existed: served, with one INFO line saying what
    is missing (not one per worker); the model's other figures are still there."""
    older = tmp_path / "older"
    shutil.copytree(trained_dir, older)
    drop_listed(resolve_version_dir(older), DRIFT_REFERENCE_FILENAME)
    monkeypatch.setenv(ENV, str(tmp_path / "metrics"))
    with running_predictor(older, tmp_path, "--workers", "2") as server:
        predict(server, "valid_batch_request.json")
        metrics = httpx.get(f"{server.base_url}/metrics").text
        lines = [line for line in server.log().splitlines() if NO_DRIFT_LINE in line]
    assert len(lines) == 1 and " INFO " in lines[0], lines
    for absent in ("breast_cancer_feature_psi", "breast_cancer_drift_window_instances"):
        assert absent not in metrics
    for present in ("breast_cancer_model_target_sensitivity 0.98", "breast_cancer_feedback_total"):
        assert present in metrics


def imported_packages(log: str) -> set[str]:
    """Top-level packages named in ``-X importtime`` lines (PYTHONPROFILEIMPORTTIME=1)."""
    lines = (line for line in log.splitlines() if line.startswith("import time:"))
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines}


async def test_serving_every_protocol_imports_nothing_it_does_not_use(
    trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the process's whole life: start-up, then V1, :explain, V2 REST and gRPC."""
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    with running_predictor(trained_dir, tmp_path) as server:
        predict(server, "valid_request.json")
        url = f"{server.base_url}/v1/models/{MODEL_NAME}:explain"
        assert httpx.post(url, json=load_example("valid_request.json")).status_code == 200
        tensor = load_example("v2_infer_request.json")
        url = f"{server.base_url}/v2/models/{MODEL_NAME}/infer"
        assert httpx.post(url, json=tensor).status_code == 200
        shape = tensor["inputs"][0]["shape"]
        features = np.array(tensor["inputs"][0]["data"], dtype=np.float64).reshape(shape)
        infer_input = InferInput("features", shape, "FP64")
        infer_input.set_data_from_numpy(features, binary_data=False)
        client = InferenceGRPCClient(server.grpc_target, timeout=10)
        try:
            await client.infer(InferRequest(model_name=MODEL_NAME, infer_inputs=[infer_input]))
        finally:
            await client.close()
        log = server.log()
    assert "kserve" in imported_packages(log), "the import log must be there to check"
    assert imported_packages(log) & UNUSED_AT_SERVING == set()


@pytest.mark.parametrize("key", ["threshold", "feature_names"])
def test_startup_refuses_edited_metadata_naming_the_file(
    trained_dir: Path, tmp_path: Path, key: str
) -> None:
    copy = tmp_path / "models"
    shutil.copytree(trained_dir, copy)
    path = resolve_version_dir(copy) / METADATA_FILENAME
    metadata = json.loads(path.read_text())
    edited = metadata[key] / 2 if key == "threshold" else metadata[key][::-1]
    edit_json(path, **{key: edited})
    code, output, _ = refuse_to_start(copy)
    assert code == 2
    failures = [line for line in output.splitlines() if "sha256" in line]
    assert len(failures) == 1, output
    assert f"{path}: its sha256" in failures[0] and "does not match SHA256SUMS" in failures[0]
    assert "Uvicorn running" not in output
