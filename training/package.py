"""Turn a training result into the artifact's files (bytes in memory, metadata last)."""

from __future__ import annotations

import hashlib
import io
import json
import platform
import secrets
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata

import joblib

from predictor.artifact import (
    ARTIFACT_FORMAT_VERSION,
    CLASS_LABELS,
    METADATA_FILENAME,
    MODEL_FILENAME,
    POSITIVE_LABEL,
)
from training.data import FEATURE_NAMES, Dataset
from training.train import TrainingConfig, TrainingResult

RECORDED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "kserve")


def new_version(created_at: datetime) -> str:
    """A sortable, unique version name such as ``20261127T101500Z-3f9a1c``."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_metadata(
    *,
    result: TrainingResult,
    dataset: Dataset,
    config: TrainingConfig,
    model_name: str,
    version: str,
    created_at: datetime,
    model_bytes: bytes,
) -> dict:
    """Everything the predictor and a reviewer need to know about the model."""
    return {
        "format_version": ARTIFACT_FORMAT_VERSION,
        "model_name": model_name,
        "version": version,
        "created_at": created_at.isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "classifier": config.classifier,
        "feature_names": list(FEATURE_NAMES),
        "feature_ranges": {
            name: {"min": low, "max": high}
            for name, low, high in zip(
                FEATURE_NAMES, result.feature_min, result.feature_max, strict=True
            )
        },
        "class_labels": list(CLASS_LABELS),
        "positive_label": POSITIVE_LABEL,
        "threshold": result.threshold,
        "target_sensitivity": config.target_sensitivity,
        "metrics": result.metrics,
        "training_data": {
            "source": dataset.source,
            "rows": len(dataset.labels),
            "class_counts": dataset.class_counts,
            "fingerprint_sha256": dataset.fingerprint,
        },
        "training_config": {
            "seed": config.seed,
            "test_size": config.test_size,
            "cv_folds": config.cv_folds,
            "regularization": config.regularization,
        },
        "model_file": {
            "name": MODEL_FILENAME,
            "sha256": hashlib.sha256(model_bytes).hexdigest(),
            "bytes": len(model_bytes),
        },
    }


def serialize_model(result: TrainingResult) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(result.pipeline, buffer)
    return buffer.getvalue()


def build_files(
    *,
    result: TrainingResult,
    dataset: Dataset,
    config: TrainingConfig,
    model_name: str,
    extra_files: dict[str, bytes] | None = None,
    version: str | None = None,
    created_at: datetime | None = None,
) -> tuple[str, dict[str, bytes]]:
    """Build the version name and the ordered files; ``metadata.json`` is always last.

    Returns:
        (version, {filename: content}) in upload order.
    """
    created_at = created_at or datetime.now(UTC)
    version = version or new_version(created_at)
    model_bytes = serialize_model(result)
    metadata = build_metadata(
        result=result,
        dataset=dataset,
        config=config,
        model_name=model_name,
        version=version,
        created_at=created_at,
        model_bytes=model_bytes,
    )
    files = {MODEL_FILENAME: model_bytes, **(extra_files or {})}
    files[METADATA_FILENAME] = json.dumps(metadata, indent=2).encode() + b"\n"
    return version, files
