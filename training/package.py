"""Turn a training result into the artifact's files (bytes in memory, SHA256SUMS last)."""

from __future__ import annotations

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
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME, dump_reference
from predictor.linear_model import LINEAR_MODEL_FILENAME, dump_linear_model
from predictor.manifest import MANIFEST_FILENAME, format_manifest
from predictor.pipeline_scoring import build_scorer
from predictor.prediction_sets import METADATA_KEY
from predictor.scoring import LinearScorer
from training.data import FEATURE_NAMES, Dataset
from training.train import TrainingConfig, TrainingResult

RECORDED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "kserve")
# The promotion gate's decision and numbers (training/gate.py), hashed like every file.
PROMOTION_FILENAME = "promotion.json"


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
) -> dict:
    """Everything the predictor and a reviewer need to know about the model."""
    metadata = {
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
            "calibration_size": config.calibration_size,
            "coverage": config.coverage,
        },
    }
    if result.calibration is not None:
        metadata[METADATA_KEY] = result.calibration.to_metadata()
    return metadata


def serialize_model(result: TrainingResult) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(result.pipeline, buffer)
    return buffer.getvalue()


def serialize_linear_model(result: TrainingResult) -> bytes | None:
    """``linear_model.json`` when the pipeline folds exactly into ``w·x + b``, else None.

    The fold must reproduce ``predict_proba`` on a grid spanning (and exceeding) the training
    range, the same check the predictor applies to artifacts that lack this file.
    """
    scorer = build_scorer(result.pipeline, result.feature_min, result.feature_max)
    if not isinstance(scorer, LinearScorer):
        return None
    return dump_linear_model(scorer, FEATURE_NAMES)


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
    """Build the version name and the ordered files; ``SHA256SUMS`` of all others is last.

    Returns:
        (version, {filename: content}) in upload order.
    """
    created_at = created_at or datetime.now(UTC)
    version = version or new_version(created_at)
    metadata = build_metadata(
        result=result,
        dataset=dataset,
        config=config,
        model_name=model_name,
        version=version,
        created_at=created_at,
    )
    files = {MODEL_FILENAME: serialize_model(result)}
    linear_model = serialize_linear_model(result)
    if linear_model is not None:
        files[LINEAR_MODEL_FILENAME] = linear_model
    if result.drift_reference is not None:
        files[DRIFT_REFERENCE_FILENAME] = dump_reference(result.drift_reference)
    files.update(extra_files or {})
    files[METADATA_FILENAME] = json.dumps(metadata, indent=2).encode() + b"\n"
    files[MANIFEST_FILENAME] = format_manifest(files)
    return version, files
