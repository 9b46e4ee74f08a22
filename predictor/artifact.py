"""The on-disk model artifact: its layout, and loading it only after its integrity is proven.

Layout written by ``python -m training --output DEST`` (locally, on a PVC or under an
``s3://`` prefix that KServe's storage initializer copies to ``/mnt/models``)::

    DEST/LATEST                  one line: the name of the current version directory
    DEST/<version>/model.joblib  the fitted scikit-learn pipeline
    DEST/<version>/metadata.json features, ranges, labels, threshold, metrics, sha256 of the model

``LATEST`` is replaced atomically and written last, so a crash while training never leaves a
pointer to a half-written version. ``model_dir`` may also point at a version directory itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

MODEL_FILENAME = "model.joblib"
METADATA_FILENAME = "metadata.json"
LATEST_FILENAME = "LATEST"
ARTIFACT_FORMAT_VERSION = 1
POSITIVE_LABEL = "malignant"
NEGATIVE_LABEL = "benign"
# Encoded classes of the stored pipeline: index 1 is the positive class (malignant).
CLASS_LABELS = (NEGATIVE_LABEL, POSITIVE_LABEL)


class ArtifactError(Exception):
    """The artifact is missing, incomplete or fails its integrity check; never serve it."""


@dataclass(frozen=True)
class Artifact:
    """A verified artifact: the metadata and the unpickled pipeline."""

    directory: Path
    metadata: dict[str, Any]
    pipeline: Any

    @property
    def feature_names(self) -> list[str]:
        return self.metadata["feature_names"]

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    @property
    def version(self) -> str:
        return self.metadata["version"]


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_version_dir(model_dir: Path) -> Path:
    """Find the version directory to load under ``model_dir``.

    Args:
        model_dir: A training output directory (with ``LATEST``) or a version directory.

    Returns:
        The directory holding ``metadata.json`` and the model file.

    Raises:
        ArtifactError: Nothing loadable is there.
    """
    fix = f"run `python -m training --output {model_dir}` first"
    if not model_dir.is_dir():
        raise ArtifactError(f"no trained model in {model_dir} (directory does not exist): {fix}")
    if (model_dir / METADATA_FILENAME).is_file():
        return model_dir
    latest = model_dir / LATEST_FILENAME
    if not latest.is_file():
        raise ArtifactError(f"no trained model in {model_dir} (no {LATEST_FILENAME} file): {fix}")
    version = latest.read_text(encoding="utf-8").strip()
    if not version or "/" in version or version.startswith("."):
        raise ArtifactError(f"{latest} names no valid version directory ({version!r}): {fix}")
    version_dir = model_dir / version
    if not (version_dir / METADATA_FILENAME).is_file():
        raise ArtifactError(
            f"{latest} points to {version!r} but {version_dir / METADATA_FILENAME} "
            f"is missing: {fix}"
        )
    return version_dir


def read_metadata(version_dir: Path) -> dict[str, Any]:
    """Read and sanity-check ``metadata.json`` (no unpickling happens here)."""
    path = version_dir / METADATA_FILENAME
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"cannot read {path}: {error}; retrain the model") from error
    required = ("format_version", "version", "feature_names", "threshold", "model_file")
    missing = [key for key in required if key not in metadata]
    if missing:
        raise ArtifactError(f"{path} lacks {', '.join(missing)}; retrain the model")
    if metadata["format_version"] != ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has format_version {metadata['format_version']!r}, this predictor reads "
            f"{ARTIFACT_FORMAT_VERSION}; retrain with the matching training version"
        )
    return metadata


def verify_model_file(version_dir: Path, metadata: dict[str, Any]) -> Path:
    """Check the model file's sha256 against the metadata before anything unpickles it.

    Raises:
        ArtifactError: The file is missing or its hash differs (truncated, tampered, mixed).
    """
    model_file = metadata["model_file"]
    path = version_dir / model_file["name"]
    if path.name != model_file["name"] or not path.is_file():
        raise ArtifactError(f"model file {path} is missing; retrain the model")
    actual = sha256_of(path)
    if actual != model_file["sha256"]:
        raise ArtifactError(
            f"refusing to load {path}: sha256 {actual} does not match metadata "
            f"{model_file['sha256']} (file corrupted or tampered); retrain the model"
        )
    return path


def load_artifact(model_dir: str | Path) -> Artifact:
    """Resolve, verify and load an artifact.

    Args:
        model_dir: Training output directory or a version directory.

    Returns:
        The verified artifact with its unpickled pipeline.

    Raises:
        ArtifactError: With one actionable sentence saying what is wrong and how to fix it.
    """
    version_dir = resolve_version_dir(Path(model_dir))
    metadata = read_metadata(version_dir)
    model_path = verify_model_file(version_dir, metadata)
    # Unpickling runs code: it happens only after the hash above matched the metadata.
    pipeline = joblib.load(model_path)
    return Artifact(directory=version_dir, metadata=metadata, pipeline=pipeline)
