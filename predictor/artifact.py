"""The on-disk model artifact: its layout, and reading its files only after their hashes match.

Layout written by ``python -m training --output DEST`` (locally, on a PVC or under an
``s3://`` prefix that KServe's storage initializer copies to ``/mnt/models``)::

    DEST/LATEST                       one line: the name of the current version directory
    DEST/<version>/linear_model.json  the folded logistic regression (linear classifiers only)
    DEST/<version>/model.joblib       the fitted scikit-learn pipeline (a pickle)
    DEST/<version>/metadata.json      features, ranges, labels, threshold, metrics
    DEST/<version>/drift_reference.json  each feature's training deciles and shares (PSI)
    DEST/<version>/model_card.md      intended use, metrics with intervals (plus *.png plots)
    DEST/<version>/SHA256SUMS         the sha256 of every other file of the version

Every file that ``SHA256SUMS`` lists is checked before any of them is parsed; what is built
from the verified files is ``predictor.loader``'s concern.

Artifacts of ``format_version`` 1 (no ``SHA256SUMS`` nor ``linear_model.json``) still load:
``metadata.json`` records the sha256 of ``model.joblib``, which is checked against it; only
``metadata.json`` itself is unchecked in that format.

``LATEST`` is replaced atomically and written last, so a crash while training never leaves a
pointer to a half-written version. ``model_dir`` may also point at a version directory itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from predictor.manifest import MANIFEST_FILENAME, parse_manifest, sha256_hex

MODEL_FILENAME = "model.joblib"
METADATA_FILENAME = "metadata.json"
LATEST_FILENAME = "LATEST"
ARTIFACT_FORMAT_VERSION = 2
# No SHA256SUMS nor linear_model.json; metadata.json holds model_file.sha256.
LEGACY_FORMAT_VERSION = 1
REQUIRED_METADATA = ("version", "feature_names", "feature_ranges", "threshold")
POSITIVE_LABEL = "malignant"
NEGATIVE_LABEL = "benign"
# Encoded classes of the stored pipeline: index 1 is the positive class (malignant).
CLASS_LABELS = (NEGATIVE_LABEL, POSITIVE_LABEL)
RETRAIN = "retrain the model"


# Exit code of a command that refuses to start without a usable artifact (``python -m
# predictor``, ``python -m predictor.batch``), as argparse exits 2 on a bad flag.
EXIT_NO_MODEL = 2


class ArtifactError(Exception):
    """The artifact is missing, incomplete or fails its integrity check; never serve it."""


def resolve_version_dir(model_dir: Path) -> Path:
    """Find the version directory to load under ``model_dir``.

    Args:
        model_dir: A training output directory (with ``LATEST``) or a version directory.

    Returns:
        The directory holding ``metadata.json`` and the model files.

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


@dataclass(frozen=True)
class VerifiedFiles:
    """The contents of every file of a version whose sha256 is recorded, each checked."""

    directory: Path
    metadata: dict[str, Any]
    contents: dict[str, bytes]
    manifest_sha256: str | None


def verify_artifact(model_dir: str | Path) -> VerifiedFiles:
    """Resolve the current version and check every recorded hash; nothing is unpickled.

    Format 2: every file listed in ``SHA256SUMS``, which must list ``metadata.json`` and
    ``model.joblib``. Format 1: ``model.joblib`` against the sha256 in ``metadata.json``.

    Raises:
        ArtifactError: One sentence naming the file that is missing or failed its hash.
    """
    directory = resolve_version_dir(Path(model_dir))
    manifest_path = directory / MANIFEST_FILENAME
    if not manifest_path.is_file():
        return _verify_legacy(directory)
    manifest = _read(manifest_path)
    try:
        expected = parse_manifest(manifest)
    except ValueError as error:
        raise ArtifactError(f"cannot read {manifest_path}: {error}; {RETRAIN}") from error
    for required in (METADATA_FILENAME, MODEL_FILENAME):
        if required not in expected:
            raise ArtifactError(f"{manifest_path} does not list {required}; {RETRAIN}")
    contents = {
        name: _read_verified(directory / name, digest, manifest_path)
        for name, digest in expected.items()
    }
    metadata = _parse_metadata(contents[METADATA_FILENAME], directory / METADATA_FILENAME)
    _require_format(metadata, ARTIFACT_FORMAT_VERSION, directory / METADATA_FILENAME)
    return VerifiedFiles(directory, metadata, contents, sha256_hex(manifest))


def _verify_legacy(directory: Path) -> VerifiedFiles:
    metadata_path = directory / METADATA_FILENAME
    metadata = _parse_metadata(_read(metadata_path), metadata_path)
    if metadata.get("format_version") == ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(
            f"{directory / MANIFEST_FILENAME} is missing: a format_version "
            f"{ARTIFACT_FORMAT_VERSION} artifact is only loaded after every file matched it; "
            f"{RETRAIN}"
        )
    _require_format(metadata, LEGACY_FORMAT_VERSION, metadata_path)
    model_file = metadata.get("model_file")
    if not isinstance(model_file, dict) or model_file.get("name") != MODEL_FILENAME:
        raise ArtifactError(f"{metadata_path} lacks model_file for {MODEL_FILENAME}; {RETRAIN}")
    content = _read_verified(directory / MODEL_FILENAME, model_file.get("sha256"), metadata_path)
    return VerifiedFiles(directory, metadata, {MODEL_FILENAME: content}, None)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as error:
        raise ArtifactError(f"{path} is missing; {RETRAIN}") from error
    except OSError as error:
        raise ArtifactError(f"cannot read {path}: {error}") from error


def _read_verified(path: Path, expected: str | None, recorded_in: Path) -> bytes:
    """The file's bytes, only if their sha256 is the one ``recorded_in`` holds."""
    content = _read(path)
    actual = sha256_hex(content)
    if actual != expected:
        raise ArtifactError(
            f"refusing to load {path}: its sha256 {actual} does not match {recorded_in.name} "
            f"({expected}): the file was corrupted or changed after training; {RETRAIN}"
        )
    return content


def parse_json_object(content: bytes, required: Sequence[str]) -> dict[str, Any]:
    """A JSON document that is an object holding at least the ``required`` keys.

    Raises:
        ValueError: Not UTF-8 JSON, not an object, or keys missing (named).
    """
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    missing = [key for key in required if key not in document]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    return document


def _parse_metadata(content: bytes, path: Path) -> dict[str, Any]:
    try:
        return parse_json_object(content, ("format_version", *REQUIRED_METADATA))
    except ValueError as error:
        raise ArtifactError(f"cannot use {path}: {error}; {RETRAIN}") from error


def _require_format(metadata: dict[str, Any], expected: int, path: Path) -> None:
    if metadata["format_version"] != expected:
        raise ArtifactError(
            f"{path} has format_version {metadata['format_version']!r}; this predictor reads "
            f"{LEGACY_FORMAT_VERSION} (model hash in metadata.json) and "
            f"{ARTIFACT_FORMAT_VERSION} (with {MANIFEST_FILENAME}); retrain with the matching "
            f"training version"
        )
