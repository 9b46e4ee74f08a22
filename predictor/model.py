"""The KServe model: load a verified artifact, validate every input, score, answer V1/V2."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from kserve.protocol.infer_type import InferRequest, InferResponse

from predictor import audit
from predictor.explain import explain_linear, unavailable
from predictor.feedback import record_feedback, start_counting
from predictor.loader import Artifact, load_artifact
from predictor.metrics import model_metrics, record_loaded_model
from predictor.monitoring import start_monitoring
from predictor.pipeline import SynchronousModel
from predictor.prediction_sets import PREDICTION_SET, PredictionSets
from predictor.ranges import RangeChecker
from predictor.responses import (
    LABEL_OUTPUT,
    ORJSON_OPTIONS,
    PROBABILITY_OUTPUT,
    AnswerContext,
    OnePrediction,
    Probabilities,
    envelope,
    v1_body,
    v1_json,
    v2_response,
)
from predictor.scoring import LinearScorer
from predictor.settings import Settings
from predictor.sliced_answer import answer_in_slices
from predictor.sliced_v2_answer import answer_v2_in_slices
from predictor.validation import FeatureValidator

logger = logging.getLogger(__name__)
V2_INPUT_NAME = "features"
# The name served when neither the settings nor the artifact give one.
DEFAULT_MODEL_NAME = "breast-cancer"
# Where the image keeps the reference model it trains at build time (see the Dockerfile).
BUNDLED_MODEL_DIR = Path("/app/reference-model")
BUNDLED_MODEL_NOTE = (
    "serving the reference model bundled in this image (trained at build time from "
    "scikit-learn's WDBC data, seed 42); to serve your own, mount it and pass its directory: "
    'docker run -v "$PWD/models:/mnt/models:ro" -p 8080:8080 IMAGE --model_dir /mnt/models'
)


@dataclass(slots=True)
class ValidatedBatch:
    """Features proven finite and well-shaped, and the V2 request they came from (if any).

    ``features`` is a float64 matrix of shape (N, n_features), or, for a V1 request of one
    instance (the common case), that instance's values as Python floats: for 30 values
    numpy's per-call overhead costs more than the arithmetic.
    """

    features: np.ndarray | Sequence[float]
    v2_request: InferRequest | None = None

    @property
    def count(self) -> int:
        """How many instances the request carried."""
        return self.features.shape[0] if isinstance(self.features, np.ndarray) else 1

    @property
    def matrix(self) -> np.ndarray:
        """The features as a float64 matrix, whichever form they arrived in."""
        if isinstance(self.features, np.ndarray):
            return self.features
        return np.array([self.features], dtype=np.float64)


class BreastCancerModel(SynchronousModel):
    """Serves the breast-cancer artifact over KServe V1, V2 REST and V2 gRPC."""

    def __init__(self, name: str | None, model_dir: str | Path, settings: Settings | None = None):
        """``name`` None: serve under the name the artifact records (known once loaded)."""
        super().__init__(name or DEFAULT_MODEL_NAME)
        self.name_given = name is not None
        self.model_dir = Path(model_dir)
        self.settings = settings or Settings()
        self.artifact: Artifact | None = None
        # The artifact's threshold, version and prediction sets under the served name: what
        # every answer states besides its per-instance values (set with the artifact).
        self.answer_context: AnswerContext | None = None
        self._drift = None  # the drift window, once loaded from an artifact that has one
        # A subclass's own predict must be called: predict_json stands in for this one only.
        self._default_predict = type(self).predict is BreastCancerModel.predict

    def load(self) -> bool:
        """Verify and load the artifact; raises ArtifactError, leaving ``ready`` False."""
        artifact = load_artifact(self.model_dir)
        self._take_name_of(artifact)
        names = artifact.feature_names
        self.scorer = artifact.scorer
        self.validator = FeatureValidator(names, self.settings.max_instances)
        self.ranges = RangeChecker(
            names, artifact.feature_min, artifact.feature_max, self.settings.range_margin
        )
        self.artifact = artifact
        self.answer_context = AnswerContext(
            artifact.threshold, self.name, artifact.version, artifact.prediction_sets
        )
        self._one_prediction = OnePrediction(self.answer_context)
        logger.info(
            "loaded model %s version %s from %s (%s scorer from %s, threshold %.4f, "
            "prediction sets %s, SHA256SUMS sha256 %s)",
            self.name,
            artifact.version,
            artifact.directory,
            self.scorer.kind,
            artifact.scorer_file,
            artifact.threshold,
            _describe_sets(artifact.prediction_sets),
            artifact.manifest_sha256 or "none: format_version 1",
        )
        if BUNDLED_MODEL_DIR in (artifact.directory, artifact.directory.parent):
            logger.info("%s", BUNDLED_MODEL_NOTE)
        record_loaded_model(self.name, artifact.version)
        settings = self.settings
        self.monitoring = start_monitoring(
            artifact, settings.drift_window, settings.drift_min_instances
        )
        self._drift = self.monitoring.window
        start_counting(artifact.version)
        # The readiness probe (GET /v1/models/<name>) turns 200 only from here on.
        self.ready = True
        return self.ready

    def _take_name_of(self, artifact: Artifact) -> None:
        """Serve under the artifact's name unless one was given; say so when they differ."""
        recorded = artifact.metadata.get("model_name")
        if not recorded or recorded == self.name:
            return
        if self.name_given:
            logger.warning(
                "serving as %r (--model_name or MODEL_NAME) a model trained as %r: clients "
                "must use /v1/models/%s", self.name, recorded, self.name,
            )  # fmt: skip
        else:
            self.name = recorded

    def preprocess(self, payload, headers: dict[str, str] | None = None) -> ValidatedBatch:
        if isinstance(payload, InferRequest):
            features = self.validator.v2(payload)
            if isinstance(features, np.ndarray) and features.shape[0] == 1:
                # One instance goes the Python-float way, as a V1 one does (ValidatedBatch).
                features = features[0].tolist()
            batch = ValidatedBatch(features, payload)
        else:
            features = self.validator.v1_features(payload)
            batch = ValidatedBatch(features)
        # Valid requests only: invalid ones raised.
        instances = features.shape[0] if type(features) is np.ndarray else 1
        model_metrics(self.name).instances.observe(instances)
        return batch

    def validate(self, payload):
        """Nothing left to check: ``preprocess`` has validated every value (KServe's
        ``validate`` looks for a misplaced ``instances`` in dict payloads, and costs a
        context-variable lookup per request)."""
        return payload

    def predict(
        self, payload: ValidatedBatch, headers: dict[str, str] | None = None
    ) -> dict | InferResponse:
        probabilities, warnings = self._score(payload)
        if payload.v2_request is None:
            return v1_body(probabilities, self.answer_context, warnings)
        return v2_response(payload.v2_request, probabilities, self.answer_context, warnings)

    def predict_json(self, payload: ValidatedBatch) -> bytes | None:
        """``predict`` for a V1 request, already serialised: orjson's bytes of its dict."""
        if not self._default_predict or payload.v2_request is not None:
            return None
        features = payload.features
        if type(features) is not np.ndarray and self.ranges.contains(features):
            # One instance in range, the usual request: no warnings to build.
            probability = self.scorer.probability_of_one(features)
            if self._drift is not None:
                self._drift.observe_one(features, probability)
            context = self.answer_context
            audit.note_scores(context.model_version, [probability], context.threshold)
            return self._one_prediction.json(probability)
        probabilities, warnings = self._score(payload)
        if warnings is None:
            return v1_json(probabilities, self.answer_context)
        body = v1_body(probabilities, self.answer_context, warnings)
        return orjson.dumps(body, option=ORJSON_OPTIONS)

    async def answer_in_slices(self, payload, size: int) -> bytes | None:
        """A V1 or plain V2 JSON prediction of more than ``size`` instances worked on in
        slices that yield the event loop (:mod:`predictor.sliced_answer`,
        :mod:`predictor.sliced_v2_answer`): the bytes answered in one go; None for any other
        request, or when a subclass has its own ``predict``."""
        if not self._default_predict:
            return None
        if isinstance(payload, InferRequest):
            return await answer_v2_in_slices(self, payload, size)
        return await answer_in_slices(self, payload, size)

    def score(self, features: np.ndarray) -> tuple[Probabilities, list[list[dict]] | None]:
        """Probabilities and out-of-range warnings of validated instances (see ``_score``)."""
        return self._score(ValidatedBatch(features))

    def _score(self, payload: ValidatedBatch) -> tuple[Probabilities, list[list[dict]] | None]:
        """Probabilities and out-of-range warnings (None when every value is in range); the
        instances are noted in the drift window and, when audited, their labels."""
        features = payload.features
        context = self.answer_context
        if isinstance(features, np.ndarray):
            probabilities = self.scorer.probability_malignant(features)
            if self._drift is not None:
                self._drift.observe_batch(features, probabilities)
            audit.note_scores(context.model_version, probabilities, context.threshold)
            return probabilities, self.ranges.warnings(features)
        probabilities = [self.scorer.probability_of_one(features)]
        if self._drift is not None:
            self._drift.observe_one(features, probabilities[0])
        audit.note_scores(context.model_version, probabilities, context.threshold)
        if self.ranges.contains(features):
            return probabilities, None
        return probabilities, self.ranges.warnings(payload.matrix)

    def explain(self, payload: ValidatedBatch, headers: dict[str, str] | None = None) -> dict:
        """Exact log-odds contributions (V1 ``:explain``); 501 for non-linear models."""
        if not isinstance(self.scorer, LinearScorer):
            raise unavailable(self.artifact.metadata.get("classifier", self.scorer.kind))
        artifact = self.artifact
        explanations = explain_linear(
            self.scorer,
            payload.matrix,
            artifact.feature_names,
            artifact.threshold,
            self.settings.explain_top_k,
        )
        warnings = self.ranges.warnings(payload.matrix)
        for index, explanation in enumerate(explanations):
            explanation["warnings"] = warnings[index] if warnings else []
        audit.note_labels(artifact.version, (item["label"] for item in explanations))
        return envelope("explanations", explanations, self.answer_context)

    def feedback(self, payload) -> dict:
        """Confirmed outcomes of earlier cases (``:feedback``), scored and counted.

        ``payload``: the request body, ``{"instances": [...], "outcomes": [...]}``, decoded or
        as bytes; the instances are validated as ``:predict``'s. Raises InvalidInput (400).
        """
        context = self.answer_context
        answer = record_feedback(payload, self.validator, self.scorer, context)
        audit.note_labels(context.model_version, (item["predicted"] for item in answer["feedback"]))
        return answer

    def get_input_types(self) -> list[dict]:
        width = len(self.validator.feature_names)
        return [{"name": V2_INPUT_NAME, "datatype": "FP64", "shape": [-1, width]}]

    def get_output_types(self) -> list[dict]:
        outputs = [
            {"name": PROBABILITY_OUTPUT, "datatype": "FP64", "shape": [-1]},
            {"name": LABEL_OUTPUT, "datatype": "BYTES", "shape": [-1]},
        ]
        if self.artifact is not None and self.artifact.prediction_sets is not None:
            # One element per instance: the set's labels joined by commas.
            outputs.append({"name": PREDICTION_SET, "datatype": "BYTES", "shape": [-1]})
        return outputs


def _describe_sets(sets: PredictionSets | None) -> str:
    if sets is None:
        return "none (trained before prediction sets)"
    return (
        f"at coverage {sets.coverage} (malignant from {sets.malignant_if_at_least:.4f}, "
        f"benign up to {sets.benign_if_at_most:.4f})"
    )
