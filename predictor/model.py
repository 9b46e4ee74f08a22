"""The KServe model: load a verified artifact, validate every input, score, answer V1/V2."""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from cloudevents.sdk.converters.util import has_binary_headers
from kserve import Model
from kserve.logging import trace_logger
from kserve.metrics import (
    EXPLAIN_HIST_TIME,
    POST_HIST_TIME,
    PRE_HIST_TIME,
    PREDICT_HIST_TIME,
    get_labels,
)
from kserve.model import InferenceVerb
from kserve.protocol.infer_type import InferRequest, InferResponse

from predictor.explain import explain_linear, unavailable
from predictor.loader import Artifact, load_artifact
from predictor.ranges import RangeChecker
from predictor.responses import (
    LABEL_OUTPUT,
    ORJSON_OPTIONS,
    PROBABILITY_OUTPUT,
    envelope,
    v1_body,
    v1_json,
    v2_response,
)
from predictor.scoring import LinearScorer
from predictor.validation import FeatureValidator

logger = logging.getLogger(__name__)
V2_INPUT_NAME = "features"
JSON_CONTENT_TYPE = "application/json"
CLOUDEVENT_JSON = "application/cloudevents+json"


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
        self._histograms = stage_histograms(name)
        self._default_postprocess = type(self).postprocess is Model.postprocess
        self._default_predict = type(self).predict is BreastCancerModel.predict
        # The lean __call__ below assumes synchronous handlers; anything else takes KServe's.
        self._lean_call = not any(
            inspect.iscoroutinefunction(getattr(self, handler))
            for handler in ("preprocess", "predict", "explain")
        )

    def __getstate__(self) -> dict:
        # --workers > 1 pickles the model to each worker: metric children hold locks and
        # belong to one process's registry, so each process resolves its own.
        state = dict(self.__dict__)
        state.pop("_histograms", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._histograms = stage_histograms(self.name)

    def load(self) -> bool:
        """Verify and load the artifact; raises ArtifactError, leaving ``ready`` False."""
        artifact = load_artifact(self.model_dir)
        names = artifact.feature_names
        self.scorer = artifact.scorer
        self.validator = FeatureValidator(names, self.options.max_instances)
        self.ranges = RangeChecker(
            names, artifact.feature_min, artifact.feature_max, self.options.range_margin
        )
        self.artifact = artifact
        logger.info(
            "loaded model %s version %s from %s (%s scorer from %s, threshold %.4f, "
            "SHA256SUMS sha256 %s)",
            self.name,
            artifact.version,
            artifact.directory,
            self.scorer.kind,
            artifact.scorer_file,
            artifact.threshold,
            artifact.manifest_sha256 or "none: format_version 1",
        )
        # The readiness probe (GET /v1/models/<name>) turns 200 only from here on.
        self.ready = True
        return self.ready

    async def __call__(
        self,
        body,
        headers: dict[str, str] | None = None,
        verb: InferenceVerb = InferenceVerb.PREDICT,
    ):
        """KServe's ``Model.__call__`` pipeline, minus its per-request overhead.

        Same steps, histograms and latency trace line as ``kserve.Model.__call__``, with the
        histogram children cached and no coroutine introspection (our handlers are sync).
        A V1 prediction is returned serialised (``_predict_v1_json``: the bytes fastapi's
        ORJSONResponse would render from ``predict``'s dict) with its content type, so the
        endpoint sends it without building that deprecated response class. Cloudevent
        requests keep the dict (KServe re-wraps it); V2 keeps the InferResponse.
        """
        if not self._lean_call or self.required_response_headers:
            return await super().__call__(body, headers, verb)
        histograms = self._histograms
        clock = time.perf_counter
        # try/finally: like KServe's histogram timers, a failing stage is still observed.
        start = clock()
        try:
            payload = self.preprocess(body, headers)
        finally:
            preprocessed = clock()
            histograms["preprocess"].observe(preprocessed - start)
        payload = self.validate(payload)
        if verb is InferenceVerb.PREDICT:
            stage = "predict"
        elif verb is InferenceVerb.EXPLAIN:
            stage = "explain"
        else:
            raise NotImplementedError
        middle = clock()
        try:
            if stage == "explain":
                response = self.explain(payload, headers)
            elif (
                self._default_predict
                and self._default_postprocess
                and isinstance(payload, ValidatedBatch)
                and payload.v2_request is None
                and not _is_cloudevent(headers)
            ):
                response = self._predict_v1_json(payload)
            else:
                response = self.predict(payload, headers)
        finally:
            end = clock()
            histograms[stage].observe(end - middle)
        try:
            if not self._default_postprocess:
                response = await self.postprocess(response, headers)
        finally:
            finish = clock()
            histograms["postprocess"].observe(finish - end)
        if self.enable_latency_logging is True:
            request_id = headers.get("x-request-id", "N.A.") if headers else "N.A."
            preprocess_ms = round((preprocessed - start) * 1000, 9)
            stage_ms = round((end - middle) * 1000, 9)
            trace_logger.info(
                f"requestId: {request_id}, preprocess_ms: {preprocess_ms}, "
                f"explain_ms: {stage_ms if stage == 'explain' else 0}, "
                f"predict_ms: {stage_ms if stage == 'predict' else 0}, "
                f"postprocess_ms: {round((finish - end) * 1000, 9)}"
            )
        if stage == "predict" and not _is_cloudevent(headers):
            if type(response) is dict:
                response = orjson.dumps(response, option=ORJSON_OPTIONS)
            if type(response) is bytes:
                return response, {"content-type": JSON_CONTENT_TYPE}
        return response, {}

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

    def _predict_v1_json(self, payload: ValidatedBatch) -> bytes:
        """``predict`` for a V1 request, already serialised: orjson's bytes of its dict."""
        probabilities = self.scorer.probability_malignant(payload.features)
        warnings = self.ranges.warnings(payload.features)
        artifact = self.artifact
        if warnings is None:
            return v1_json(probabilities, artifact.threshold, self.name, artifact.version)
        body = v1_body(probabilities, artifact.threshold, self.name, artifact.version, warnings)
        return orjson.dumps(body, option=ORJSON_OPTIONS)

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


def stage_histograms(model_name: str) -> dict:
    """KServe's per-stage latency histograms for this model, resolved once (not per request)."""
    labels = get_labels(model_name)
    return {
        "preprocess": PRE_HIST_TIME.labels(**labels),
        "predict": PREDICT_HIST_TIME.labels(**labels),
        "explain": EXPLAIN_HIST_TIME.labels(**labels),
        "postprocess": POST_HIST_TIME.labels(**labels),
    }


def _is_cloudevent(headers: dict[str, str] | None) -> bool:
    """Requests KServe answers with a cloudevent: their response must stay a dict."""
    if not headers:
        return False
    return has_binary_headers(headers) or headers.get("content-type", "") == CLOUDEVENT_JSON
