"""The KServe model: load a verified artifact, validate every input, score, answer V1/V2."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kserve import Model
from kserve.protocol.infer_type import InferRequest, InferResponse

from predictor.artifact import Artifact, load_artifact
from predictor.responses import LABEL_OUTPUT, PROBABILITY_OUTPUT, v1_body, v2_response
from predictor.scoring import build_scorer
from predictor.validation import FeatureValidator

logger = logging.getLogger(__name__)
V2_INPUT_NAME = "features"


@dataclass(frozen=True)
class ValidatedBatch:
    """Features proven finite and well-shaped, and the V2 request they came from (if any)."""

    features: np.ndarray
    v2_request: InferRequest | None = None


class BreastCancerModel(Model):
    """Serves the breast-cancer artifact over KServe V1, V2 REST and V2 gRPC."""

    def __init__(self, name: str, model_dir: str | Path, max_instances: int):
        super().__init__(name)
        self.model_dir = Path(model_dir)
        self.max_instances = max_instances
        self.artifact: Artifact | None = None

    def load(self) -> bool:
        """Verify and load the artifact; raises ArtifactError, leaving ``ready`` False."""
        artifact = load_artifact(self.model_dir)
        metadata = artifact.metadata
        ranges = metadata["feature_ranges"]
        self.scorer = build_scorer(
            artifact.pipeline,
            [ranges[name]["min"] for name in artifact.feature_names],
            [ranges[name]["max"] for name in artifact.feature_names],
        )
        self.validator = FeatureValidator(artifact.feature_names, self.max_instances)
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
        artifact = self.artifact
        if payload.v2_request is None:
            return v1_body(probabilities, artifact.threshold, self.name, artifact.version)
        return v2_response(
            payload.v2_request, probabilities, artifact.threshold, self.name, artifact.version
        )

    def get_input_types(self) -> list[dict]:
        return [
            {
                "name": V2_INPUT_NAME,
                "datatype": "FP64",
                "shape": [-1, len(self.validator.feature_names)],
            }
        ]

    def get_output_types(self) -> list[dict]:
        return [
            {"name": PROBABILITY_OUTPUT, "datatype": "FP64", "shape": [-1]},
            {"name": LABEL_OUTPUT, "datatype": "BYTES", "shape": [-1]},
        ]
