"""Load a verified artifact's scorer: ``linear_model.json`` when it has one, else the pickle.

Only the pickle path imports scikit-learn, SciPy and joblib (``predictor.pipeline_scoring``),
so a linear artifact is served by a process that never loads them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from predictor.artifact import (
    LEGACY_FORMAT_VERSION,
    METADATA_FILENAME,
    MODEL_FILENAME,
    RETRAIN,
    ArtifactError,
    verify_artifact,
)
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME, DriftReference, load_reference
from predictor.linear_model import LINEAR_MODEL_FILENAME, load_linear_model
from predictor.manifest import MANIFEST_FILENAME
from predictor.prediction_sets import PredictionSets
from predictor.scoring import LinearScorer

if TYPE_CHECKING:
    from predictor.pipeline_scoring import PipelineScorer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Artifact:
    """A verified artifact: its metadata and the scorer read from its model file."""

    directory: Path
    metadata: dict[str, Any]
    scorer: LinearScorer | PipelineScorer
    scorer_file: str
    # sha256 of SHA256SUMS, to compare with what training printed; None for format_version 1.
    manifest_sha256: str | None
    # The calibrated prediction-set cut points; None for an artifact trained without them.
    prediction_sets: PredictionSets | None = None
    # The training distribution for drift figures; None for artifacts trained before it.
    drift_reference: DriftReference | None = None

    @property
    def feature_names(self) -> list[str]:
        return self.metadata["feature_names"]

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    @property
    def version(self) -> str:
        return self.metadata["version"]

    @property
    def feature_min(self) -> list[float]:
        return feature_bounds(self.metadata)[0]

    @property
    def feature_max(self) -> list[float]:
        return feature_bounds(self.metadata)[1]


def feature_bounds(metadata: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Training min and max of each feature, in feature order."""
    ranges = metadata["feature_ranges"]
    names = metadata["feature_names"]
    return [ranges[n]["min"] for n in names], [ranges[n]["max"] for n in names]


def load_artifact(model_dir: str | Path) -> Artifact:
    """Resolve, verify and load an artifact.

    Args:
        model_dir: Training output directory or a version directory.

    Returns:
        The verified artifact and its scorer: from ``linear_model.json`` when the version has
        one, else from the unpickled ``model.joblib``.

    Raises:
        ArtifactError: With one actionable sentence saying what is wrong and how to fix it.
    """
    files = verify_artifact(model_dir)
    metadata = files.metadata
    if LINEAR_MODEL_FILENAME in files.contents:
        content = files.contents[LINEAR_MODEL_FILENAME]
        try:
            scorer = load_linear_model(content, metadata["feature_names"])
        except ValueError as error:
            path = files.directory / LINEAR_MODEL_FILENAME
            raise ArtifactError(f"cannot use {path}: {error}; {RETRAIN}") from error
        scorer_file = LINEAR_MODEL_FILENAME
    else:
        if files.manifest_sha256 is None:
            logger.info(
                "%s predates %s and %s (format_version %d): model.joblib is unpickled after its "
                "sha256 matched metadata.json, which nothing checks; retrain to serve without "
                "unpickling",
                files.directory,
                LINEAR_MODEL_FILENAME,
                MANIFEST_FILENAME,
                LEGACY_FORMAT_VERSION,
            )
        scorer = _scorer_from_pickle(files.contents[MODEL_FILENAME], metadata)
        scorer_file = MODEL_FILENAME
    try:
        prediction_sets = PredictionSets.from_metadata(metadata)
    except ValueError as error:
        path = files.directory / METADATA_FILENAME
        raise ArtifactError(f"cannot use {path}: {error}; {RETRAIN}") from error
    reference = None
    if DRIFT_REFERENCE_FILENAME in files.contents:
        try:
            reference = load_reference(
                files.contents[DRIFT_REFERENCE_FILENAME], metadata["feature_names"]
            )
        except ValueError as error:
            path = files.directory / DRIFT_REFERENCE_FILENAME
            raise ArtifactError(f"cannot use {path}: {error}; {RETRAIN}") from error
    return Artifact(
        files.directory,
        metadata,
        scorer,
        scorer_file,
        files.manifest_sha256,
        prediction_sets,
        reference,
    )


def _scorer_from_pickle(content: bytes, metadata: dict[str, Any]) -> LinearScorer | PipelineScorer:
    # Imported here, not at the top: scikit-learn, SciPy and joblib take seconds to import
    # and a linear artifact never needs them.
    from predictor.pipeline_scoring import build_scorer, unpickle

    # Unpickling runs code: these bytes have already matched their recorded sha256.
    return build_scorer(unpickle(content), *feature_bounds(metadata))
