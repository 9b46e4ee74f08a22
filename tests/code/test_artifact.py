"""The predictor reads no file of an artifact before its sha256 matched SHA256SUMS."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest

from predictor.artifact import (
    LATEST_FILENAME,
    METADATA_FILENAME,
    MODEL_FILENAME,
    ArtifactError,
    resolve_version_dir,
)
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME
from predictor.linear_model import LINEAR_MODEL_FILENAME
from predictor.loader import load_artifact
from predictor.manifest import MANIFEST_FILENAME, format_manifest, parse_manifest
from predictor.pipeline_scoring import PipelineScorer
from predictor.scoring import LinearScorer
from tests.artifact_edits import MaliciousPickle, edit_json, rewrite_listed
from training.__main__ import main as training_main
from training.card import CARD_FILENAME
from training.package import PROMOTION_FILENAME


@pytest.fixture
def copy(trained_dir: Path, tmp_path: Path) -> Path:
    destination = tmp_path / "models"
    shutil.copytree(trained_dir, destination)
    return destination


@pytest.fixture(scope="module")
def forest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact of a classifier that does not fold into w·x + b."""
    output = tmp_path_factory.mktemp("forest")
    arguments = ["--classifier", "random_forest", "--cv-folds", "2", "--no-plots"]
    assert training_main(["--output", str(output), *arguments]) == 0
    return output


def version_dir(directory: Path) -> Path:
    return resolve_version_dir(directory)


def test_loads_the_version_latest_names(copy: Path) -> None:
    version = (copy / LATEST_FILENAME).read_text().strip()
    assert load_artifact(copy).version == version
    assert load_artifact(copy / version).version == version


def test_a_linear_artifact_is_served_from_its_json_and_lists_every_file(copy: Path) -> None:
    artifact = load_artifact(copy)
    assert isinstance(artifact.scorer, LinearScorer)
    assert artifact.scorer_file == LINEAR_MODEL_FILENAME
    listed = parse_manifest((artifact.directory / MANIFEST_FILENAME).read_bytes())
    others = {p.name for p in artifact.directory.iterdir()} - {MANIFEST_FILENAME}
    assert set(listed) == others
    assert {
        METADATA_FILENAME,
        MODEL_FILENAME,
        LINEAR_MODEL_FILENAME,
        DRIFT_REFERENCE_FILENAME,
        CARD_FILENAME,
    } <= others
    assert PROMOTION_FILENAME in others  # the gate's record is hashed like every file


def test_sha256sum_checks_the_manifest_by_hand(copy: Path) -> None:
    """SHA256SUMS is coreutils' format: the standard tool verifies an artifact."""
    completed = subprocess.run(
        ["sha256sum", "--check", "--strict", MANIFEST_FILENAME],
        cwd=version_dir(copy),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{METADATA_FILENAME}: OK" in completed.stdout


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: shutil.rmtree(d), "directory does not exist"),
        (lambda d: (d / LATEST_FILENAME).unlink(), "no LATEST file"),
        (lambda d: (d / LATEST_FILENAME).write_text("../etc\n"), "names no valid version"),
        (lambda d: (d / LATEST_FILENAME).write_text("gone\n"), "points to 'gone'"),
        (lambda d: (version_dir(d) / MODEL_FILENAME).unlink(), "model.joblib is missing"),
        (
            lambda d: (version_dir(d) / LINEAR_MODEL_FILENAME).unlink(),
            "linear_model.json is missing",
        ),
        (lambda d: (version_dir(d) / MANIFEST_FILENAME).unlink(), "SHA256SUMS is missing"),
        (
            lambda d: (version_dir(d) / MANIFEST_FILENAME).write_text("not a manifest\n"),
            "SHA256SUMS: line 1 is not",
        ),
    ],
    ids=[
        "no dir",
        "no LATEST",
        "LATEST escapes",
        "LATEST dangling",
        "no model",
        "no linear model",
        "no manifest",
        "bad manifest",
    ],
)
def test_refuses_incomplete_artifacts(copy: Path, breakage, message: str) -> None:
    breakage(copy)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(copy)


@pytest.mark.parametrize(
    "name",
    [
        METADATA_FILENAME,
        LINEAR_MODEL_FILENAME,
        MODEL_FILENAME,
        DRIFT_REFERENCE_FILENAME,
        CARD_FILENAME,
    ],
)
def test_refuses_a_one_byte_change_in_any_listed_file(copy: Path, name: str) -> None:
    path = version_dir(copy) / name
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ArtifactError, match=f"{name}: its sha256 .* does not match SHA256SUMS"):
        load_artifact(copy)


@pytest.mark.parametrize(
    "change",
    [
        lambda metadata: {"threshold": 0.9},
        lambda metadata: {"feature_names": swap_first_two(metadata["feature_names"])},
    ],
    ids=["threshold", "feature order"],
)
def test_refuses_edited_metadata(copy: Path, change) -> None:
    path = version_dir(copy) / METADATA_FILENAME
    edit_json(path, **change(json.loads(path.read_text())))
    with pytest.raises(ArtifactError, match=r"metadata\.json: its sha256"):
        load_artifact(copy)


def swap_first_two(names: list[str]) -> list[str]:
    return [names[1], names[0], *names[2:]]


@pytest.mark.parametrize("artifact_dir", ["copy", "forest_dir"], ids=["linear", "forest"])
def test_refuses_a_malicious_pickle_without_unpickling_it(
    request: pytest.FixtureRequest, artifact_dir: str, tmp_path: Path
) -> None:
    source = request.getfixturevalue(artifact_dir)
    destination = tmp_path / "tampered"
    shutil.copytree(source, destination)
    marker = tmp_path / "pwned"
    (version_dir(destination) / MODEL_FILENAME).write_bytes(pickle.dumps(MaliciousPickle(marker)))
    with pytest.raises(ArtifactError, match="changed after training"):
        load_artifact(destination)
    assert not marker.exists()


def test_a_non_linear_classifier_is_unpickled_after_its_hash_matched(forest_dir: Path) -> None:
    artifact = load_artifact(forest_dir)
    assert isinstance(artifact.scorer, PipelineScorer)
    assert artifact.scorer_file == MODEL_FILENAME
    assert not (artifact.directory / LINEAR_MODEL_FILENAME).exists()
    assert artifact.scorer.probability_malignant([[15.0] * 30]).shape == (1,)


def test_refuses_unknown_format_version_even_when_consistently_rewritten(copy: Path) -> None:
    directory = version_dir(copy)
    metadata = json.loads((directory / METADATA_FILENAME).read_text())
    rewrite_listed(
        directory, METADATA_FILENAME, json.dumps({**metadata, "format_version": 99}).encode()
    )
    with pytest.raises(ArtifactError, match=r"format_version 99; this predictor reads 1 .* and 2"):
        load_artifact(copy)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[]", "expected a JSON object, got list"),
        (b"{", "not JSON"),
        (b"{}", "lacks format_version"),
    ],
    ids=["list", "truncated", "empty object"],
)
def test_refuses_consistently_rewritten_metadata_that_is_not_metadata(
    copy: Path, content: bytes, message: str
) -> None:
    rewrite_listed(version_dir(copy), METADATA_FILENAME, content)
    with pytest.raises(ArtifactError, match=f"cannot use .*metadata.json: {message}"):
        load_artifact(copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: {**d, "feature_names": d["feature_names"][::-1]}, "its feature_names differ"),
        (lambda d: {**d, "weights": d["weights"][:-1]}, "weights must be a list of 30"),
        (lambda d: {**d, "bias": True}, "bias must hold finite numbers"),
        (lambda d: {**d, "scale": [0.0] * 30}, "scale must be positive"),
        (lambda d: {k: v for k, v in d.items() if k != "coef"}, "lacks coef"),
    ],
    ids=["feature order", "short weights", "boolean bias", "zero scale", "no coef"],
)
def test_refuses_a_linear_model_that_does_not_fit_its_metadata(
    copy: Path, change, message: str
) -> None:
    """Even with a matching SHA256SUMS line, a malformed linear model is never served."""
    directory = version_dir(copy)
    document = json.loads((directory / LINEAR_MODEL_FILENAME).read_text())
    rewrite_listed(directory, LINEAR_MODEL_FILENAME, json.dumps(change(document)).encode())
    with pytest.raises(ArtifactError, match=f"cannot use .*linear_model.json: {message}"):
        load_artifact(copy)


def test_refuses_a_drift_reference_that_does_not_fit_its_metadata(copy: Path) -> None:
    """Even with a matching SHA256SUMS line: the artifact is inconsistent, so not served."""
    directory = version_dir(copy)
    document = json.loads((directory / DRIFT_REFERENCE_FILENAME).read_text())
    document["features"] = document["features"][::-1]
    rewrite_listed(directory, DRIFT_REFERENCE_FILENAME, json.dumps(document).encode())
    with pytest.raises(ArtifactError, match=r"cannot use .*drift_reference\.json: its features"):
        load_artifact(copy)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "lists no file"),
        (b"abc  metadata.json\n", "line 1 is not"),
        (b"%s  ../LATEST\n" % (b"0" * 64), "line 1 is not"),
        (b"%s  .hidden\n" % (b"0" * 64), "line 1 is not"),
        (b"%s  a\n%s  a\n" % (b"0" * 64, b"1" * 64), "line 2 lists a a second time"),
    ],
    ids=["empty", "short digest", "path", "hidden", "twice"],
)
def test_manifest_rejects_malformed_lines(content: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_manifest(content)


def test_manifest_round_trips() -> None:
    files = {"b.json": b"{}", "a.joblib": b"\x80\x04"}
    manifest = format_manifest(files)
    assert manifest.decode().splitlines()[0].endswith("  a.joblib")
    assert set(parse_manifest(manifest)) == set(files)
