"""Response bodies: V1 JSON predictions and V2 (Open Inference Protocol) tensors."""

from __future__ import annotations

import uuid

import numpy as np
import orjson
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL

PROBABILITY_OUTPUT = "probability_malignant"
LABEL_OUTPUT = "label"
V2_OUTPUTS = (PROBABILITY_OUTPUT, LABEL_OUTPUT)


def decide_labels(probabilities: np.ndarray, threshold: float) -> list[str]:
    """Malignant when the probability reaches the artifact's threshold."""
    return np.where(probabilities >= threshold, POSITIVE_LABEL, NEGATIVE_LABEL).tolist()


def v1_body(
    probabilities: np.ndarray,
    threshold: float,
    model_name: str,
    model_version: str,
    warnings: list[list[dict]] | None = None,
) -> dict:
    labels = decide_labels(probabilities, threshold)
    no_warnings: list = []
    predictions = [
        {"label": label, PROBABILITY_OUTPUT: probability, "warnings": no_warnings}
        for label, probability in zip(labels, probabilities.tolist(), strict=True)
    ]
    if warnings is not None:
        for prediction, instance_warnings in zip(predictions, warnings, strict=True):
            prediction["warnings"] = instance_warnings
    return envelope("predictions", predictions, threshold, model_name, model_version)


def envelope(key: str, items: list, threshold: float, model_name: str, model_version: str) -> dict:
    return {
        key: items,
        "model_name": model_name,
        "model_version": model_version,
        "threshold": threshold,
    }


def v2_response(
    request: InferRequest,
    probabilities: np.ndarray,
    threshold: float,
    model_name: str,
    model_version: str,
    warnings: list[list[dict]] | None = None,
) -> InferResponse:
    count = [int(probabilities.shape[0])]
    outputs = {
        PROBABILITY_OUTPUT: InferOutput(PROBABILITY_OUTPUT, count, "FP64", probabilities.tolist()),
        LABEL_OUTPUT: InferOutput(
            LABEL_OUTPUT, count, "BYTES", decide_labels(probabilities, threshold)
        ),
    }
    return InferResponse(
        response_id=request.id or str(uuid.uuid4()),
        model_name=model_name,
        model_version=model_version,
        infer_outputs=[outputs[name] for name in requested_outputs(request)],
        from_grpc=request.from_grpc,
        parameters=_warning_parameters(warnings),
    )


def _warning_parameters(warnings: list[list[dict]] | None) -> dict | None:
    """V2 tensors cannot carry per-instance notes: they go in the response parameters."""
    if warnings is None:
        return None
    flagged = {str(i): w for i, w in enumerate(warnings) if w}
    return {"out_of_range": orjson.dumps(flagged).decode()}


def requested_outputs(request: InferRequest) -> list[str]:
    """The outputs a V2 request asked for (all of them when it names none)."""
    if not request.request_outputs:
        return list(V2_OUTPUTS)
    names = [output.name for output in request.request_outputs]
    unknown = [name for name in names if name not in V2_OUTPUTS]
    if unknown:
        raise InvalidInput(f"unknown output(s) {unknown}; this model offers {list(V2_OUTPUTS)}")
    return names
