"""The predictor loads only an artifact whose model file matches the recorded sha256."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from predictor.artifact import (
    LATEST_FILENAME,
    METADATA_FILENAME,
    MODEL_FILENAME,
    ArtifactError,
    load_artifact,
    resolve_version_dir,
)


@pytest.fixture
def copy(trained_dir: Path, tmp_path: Path) -> Path:
    destination = tmp_path / "models"
    shutil.copytree(trained_dir, destination)
    return destination


def model_file(directory: Path) -> Path:
    return resolve_version_dir(directory) / MODEL_FILENAME


def test_loads_the_version_latest_names(copy: Path) -> None:
    version = (copy / LATEST_FILENAME).read_text().strip()
    assert load_artifact(copy).version == version
    assert load_artifact(copy / version).version == version


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: shutil.rmtree(d), "directory does not exist"),
        (lambda d: (d / LATEST_FILENAME).unlink(), "no LATEST file"),
        (lambda d: (d / LATEST_FILENAME).write_text("../etc\n"), "names no valid version"),
        (lambda d: (d / LATEST_FILENAME).write_text("gone\n"), "points to 'gone'"),
        (lambda d: model_file(d).unlink(), "is missing"),
        (lambda d: (resolve_version_dir(d) / METADATA_FILENAME).write_text("{"), "cannot read"),
    ],
    ids=["no dir", "no LATEST", "LATEST escapes", "LATEST dangling", "no model", "bad metadata"],
)
def test_refuses_incomplete_artifacts(copy: Path, breakage, message: str) -> None:
    breakage(copy)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(copy)


def test_refuses_a_one_byte_change(copy: Path) -> None:
    path = model_file(copy)
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ArtifactError, match="does not match metadata"):
        load_artifact(copy)


class Payload:
    """A pickle that would create a file when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_refuses_a_malicious_pickle_without_unpickling_it(copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    model_file(copy).write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ArtifactError, match="tampered"):
        load_artifact(copy)
    assert not marker.exists()


def test_refuses_unknown_format_version(copy: Path) -> None:
    path = resolve_version_dir(copy) / METADATA_FILENAME
    metadata = json.loads(path.read_text())
    metadata["format_version"] = 99
    path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="format_version 99"):
        load_artifact(copy)
