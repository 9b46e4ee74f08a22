"""The KServe model: load a verified artifact, validate every input, score, answer V1/V2."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kserve import Model
from kserve.protocol.infer_type import InferRequest, InferResponse

from predictor.artifact import Artifact, load_artifact
from predictor.explain import explain_linear, unavailable
from predictor.ranges import RangeChecker
from predictor.responses import (
    LABEL_OUTPUT,
    PROBABILITY_OUTPUT,
    envelope,
    v1_body,
    v2_response,
)
from predictor.scoring import LinearScorer, build_scorer
from predictor.validation import FeatureValidator

logger = logging.getLogger(__name__)
V2_INPUT_NAME = "features"


@dataclass(frozen=True)
class ValidatedBatch:
    """Features proven finite and well-shaped, and the V2 request they came from (if any)."""

    features: np.ndarray
    v2_request: InferRequest | None = None


@dataclass(frozen=True)
class ModelOptions:
    """Serving options read once at start-up."""

    max_instances: int = 10_000
    explain_top_k: int = 30
    range_margin: float = 0.0


class BreastCancerModel(Model):
    """Serves the breast-cancer artifact over KServe V1, V2 REST and V2 gRPC."""

    def __init__(self, name: str, model_dir: str | Path, options: ModelOptions | None = None):
        super().__init__(name)
        self.model_dir = Path(model_dir)
        self.options = options or ModelOptions()
        self.artifact: Artifact | None = None

    def load(self) -> bool:
        """Verify and load the artifact; raises ArtifactError, leaving ``ready`` False."""
        artifact = load_artifact(self.model_dir)
        names = artifact.feature_names
        ranges = artifact.metadata["feature_ranges"]
        low = [ranges[name]["min"] for name in names]
        high = [ranges[name]["max"] for name in names]
        self.scorer = build_scorer(artifact.pipeline, low, high)
        self.validator = FeatureValidator(names, self.options.max_instances)
        self.ranges = RangeChecker(names, low, high, self.options.range_margin)
        self.artifact = artifact
        logger.info(
            "loaded model %s version %s from %s (%s scorer, threshold %.4f)",
            self.name,
            artifact.version,
            artifact.directory,
            self.scorer.kind,
            artifact.threshold,
        )
        # The readiness probe (GET /v1/models/<name>) turns 200 only from here on.
        self.ready = True
        return self.ready

    def preprocess(self, payload, headers: dict[str, str] | None = None) -> ValidatedBatch:
        if isinstance(payload, InferRequest):
            return ValidatedBatch(self.validator.v2(payload), payload)
        return ValidatedBatch(self.validator.v1(payload))

    def predict(
        self, payload: ValidatedBatch, headers: dict[str, str] | None = None
    ) -> dict | InferResponse:
        probabilities = self.scorer.probability_malignant(payload.features)
        warnings = self.ranges.warnings(payload.features)
        artifact = self.artifact
        if payload.v2_request is None:
            return v1_body(probabilities, artifact.threshold, self.name, artifact.version, warnings)
        return v2_response(
            payload.v2_request,
            probabilities,
            artifact.threshold,
            self.name,
            artifact.version,
            warnings,
        )

    def explain(self, payload: ValidatedBatch, headers: dict[str, str] | None = None) -> dict:
        """Exact log-odds contributions (V1 ``:explain``); 501 for non-linear models."""
        if not isinstance(self.scorer, LinearScorer):
            raise unavailable(self.artifact.metadata.get("classifier", self.scorer.kind))
        artifact = self.artifact
        explanations = explain_linear(
            self.scorer,
            payload.features,
            artifact.feature_names,
            artifact.threshold,
            self.options.explain_top_k,
        )
        warnings = self.ranges.warnings(payload.features)
        for index, explanation in enumerate(explanations):
            explanation["warnings"] = warnings[index] if warnings else []
        return envelope(
            "explanations", explanations, artifact.threshold, self.name, artifact.version
        )

    def get_input_types(self) -> list[dict]:
        width = len(self.validator.feature_names)
        return [{"name": V2_INPUT_NAME, "datatype": "FP64", "shape": [-1, width]}]

    def get_output_types(self) -> list[dict]:
        return [
            {"name": PROBABILITY_OUTPUT, "datatype": "FP64", "shape": [-1]},
            {"name": LABEL_OUTPUT, "datatype": "BYTES", "shape": [-1]},
        ]
