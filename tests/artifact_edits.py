"""Edits to a copy of a real artifact: what corruption, tampering or an older training leaves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from predictor.artifact import (
    LEGACY_FORMAT_VERSION,
    METADATA_FILENAME,
    MODEL_FILENAME,
    resolve_version_dir,
)
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME
from predictor.linear_model import LINEAR_MODEL_FILENAME
from predictor.manifest import MANIFEST_FILENAME, format_manifest, parse_manifest, sha256_hex
from predictor.prediction_sets import METADATA_KEY
from training.package import PROMOTION_FILENAME


def edit_json(path: Path, **changes) -> None:
    """Change top-level keys of a JSON file in place (no hash is updated)."""
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document, indent=2))


def rewrite_listed(version_dir: Path, name: str, content: bytes) -> None:
    """Replace a file and its SHA256SUMS line: a change made by someone who can write both."""
    (version_dir / name).write_bytes(content)
    listed = parse_manifest((version_dir / MANIFEST_FILENAME).read_bytes())
    files = {n: (version_dir / n).read_bytes() for n in listed}
    (version_dir / MANIFEST_FILENAME).write_bytes(format_manifest(files))


def without_prediction_sets(metadata: dict) -> dict:
    """metadata.json as training wrote it before prediction sets: no cut points, no figures."""
    metadata = {key: value for key, value in metadata.items() if key != METADATA_KEY}
    metrics = {key: value for key, value in metadata["metrics"].items() if key != METADATA_KEY}
    return {**metadata, "metrics": metrics}


def copy_without_prediction_sets(source: Path, destination: Path) -> Path:
    """A copy of an artifact whose version is as training wrote it before prediction sets
    (SHA256SUMS consistent)."""
    shutil.copytree(source, destination)
    version_dir = resolve_version_dir(destination)
    metadata = json.loads((version_dir / METADATA_FILENAME).read_text())
    rewrite_listed(
        version_dir, METADATA_FILENAME, json.dumps(without_prediction_sets(metadata)).encode()
    )
    return destination


def drop_listed(version_dir: Path, name: str) -> None:
    """Remove a file and its SHA256SUMS line: a version written before that file existed."""
    (version_dir / name).unlink()
    listed = parse_manifest((version_dir / MANIFEST_FILENAME).read_bytes())
    files = {n: (version_dir / n).read_bytes() for n in listed if n != name}
    (version_dir / MANIFEST_FILENAME).write_bytes(format_manifest(files))


def make_legacy(version_dir: Path) -> None:
    """Turn a version into what training wrote before SHA256SUMS, linear_model.json and
    drift_reference.json.

    That format recorded the model's sha256 in metadata.json and nothing else (and had no
    prediction sets).
    """
    (version_dir / MANIFEST_FILENAME).unlink()
    (version_dir / LINEAR_MODEL_FILENAME).unlink()
    (version_dir / PROMOTION_FILENAME).unlink(missing_ok=True)
    metadata_path = version_dir / METADATA_FILENAME
    metadata_path.write_text(
        json.dumps(without_prediction_sets(json.loads(metadata_path.read_text())))
    )
    (version_dir / DRIFT_REFERENCE_FILENAME).unlink()
    model = (version_dir / MODEL_FILENAME).read_bytes()
    model_file = {"name": MODEL_FILENAME, "sha256": sha256_hex(model), "bytes": len(model)}
    edit_json(
        version_dir / METADATA_FILENAME,
        format_version=LEGACY_FORMAT_VERSION,
        model_file=model_file,
    )


class MaliciousPickle:
    """Unpickling this creates ``marker``: proof that a pickle was (or was not) loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))
