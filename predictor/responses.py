"""Response bodies: V1 JSON predictions and V2 (Open Inference Protocol) tensors."""

from __future__ import annotations

import functools
import uuid

import numpy as np
import orjson
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse, RequestedOutput

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL
from predictor.labels import (
    LABEL_OUTPUT,
    PROBABILITY_OUTPUT,
    SMALL_BATCH,
    Probabilities,
    as_list,
    decide_labels,
)
from predictor.validation import json_type

V2_OUTPUTS = (PROBABILITY_OUTPUT, LABEL_OUTPUT)
# The Open Inference Protocol's binary tensor extension (REST): all outputs, or one output.
BINARY_ALL_OUTPUTS = "binary_data_output"
BINARY_OUTPUT = "binary_data"
# What fastapi's ORJSONResponse renders with: bodies serialised here are byte-identical.
ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
# v1_json's prediction objects, split around the probability (keys in v1_body's order).
_PREDICTION_HEADS = np.array(
    [
        orjson.dumps({"label": label, PROBABILITY_OUTPUT: 0})[:-2]
        for label in (NEGATIVE_LABEL, POSITIVE_LABEL)
    ],
    dtype=object,
)
_NEGATIVE_HEAD, _POSITIVE_HEAD = _PREDICTION_HEADS.tolist()
_PREDICTION_TAIL = b',"warnings":[]}'
_OPENING = b'{"predictions":['


def v1_body(
    probabilities: Probabilities,
    threshold: float,
    model_name: str,
    model_version: str,
    warnings: list[list[dict]] | None = None,
) -> dict:
    labels = decide_labels(probabilities, threshold)
    no_warnings: list = []
    predictions = [
        {"label": label, PROBABILITY_OUTPUT: probability, "warnings": no_warnings}
        for label, probability in zip(labels, as_list(probabilities), strict=True)
    ]
    if warnings is not None:
        for prediction, instance_warnings in zip(predictions, warnings, strict=True):
            prediction["warnings"] = instance_warnings
    return envelope("predictions", predictions, threshold, model_name, model_version)


def v1_json(
    probabilities: Probabilities, threshold: float, model_name: str, model_version: str
) -> bytes:
    """``orjson.dumps(v1_body(...), option=ORJSON_OPTIONS)`` without warnings, built faster.

    The same bytes (the probabilities go through the same orjson float formatting), but no
    dict per prediction: each is the label's fixed head, the formatted probability and a
    fixed tail, joined at C level inside the envelope's bytes (made once per model version).
    """
    values = as_list(probabilities)
    rest = _envelope_rest(threshold, model_name, model_version)
    numbers = orjson.dumps(values)[1:-1].split(b",")
    if len(values) <= SMALL_BATCH:
        heads = [_POSITIVE_HEAD if value >= threshold else _NEGATIVE_HEAD for value in values]
    else:
        positives = (np.asarray(probabilities) >= threshold).view(np.uint8)
        heads = _PREDICTION_HEADS[positives].tolist()
    predictions = (_PREDICTION_TAIL + b",").join(map(b"".join, zip(heads, numbers, strict=True)))
    return _OPENING + predictions + _PREDICTION_TAIL + rest


class OnePrediction:
    """``v1_json`` of one instance for one model version: its fixed parts joined once.

    The same bytes as ``v1_json([probability], threshold, model_name, model_version)``.
    """

    __slots__ = ("_negative", "_positive", "_tail", "threshold")

    def __init__(self, threshold: float, model_name: str, model_version: str):
        self.threshold = threshold
        self._negative = _OPENING + _NEGATIVE_HEAD
        self._positive = _OPENING + _POSITIVE_HEAD
        self._tail = _PREDICTION_TAIL + _envelope_rest(threshold, model_name, model_version)

    def json(self, probability: float) -> bytes:
        head = self._positive if probability >= self.threshold else self._negative
        return b"".join((head, orjson.dumps(probability), self._tail))


@functools.lru_cache(maxsize=8)
def _envelope_rest(threshold: float, model_name: str, model_version: str) -> bytes:
    """What follows the predictions: ``],"model_name":...}``."""
    rest = orjson.dumps(
        envelope("predictions", [], threshold, model_name, model_version), option=ORJSON_OPTIONS
    )
    return rest[len(_OPENING) :]


def envelope(key: str, items: list, threshold: float, model_name: str, model_version: str) -> dict:
    return {
        key: items,
        "model_name": model_name,
        "model_version": model_version,
        "threshold": threshold,
    }


def v2_response(
    request: InferRequest,
    probabilities: Probabilities,
    threshold: float,
    model_name: str,
    model_version: str,
    warnings: list[list[dict]] | None = None,
) -> InferResponse:
    """The requested outputs, in the encoding the request asked for.

    gRPC: raw output contents when the inputs came raw (what NVIDIA's tritonclient sends and
    decodes), typed contents otherwise. REST: JSON ``data``, or the binary tensor extension
    for outputs asked for with ``"binary_data": true`` (or all, with the request parameter
    ``"binary_data_output": true``, which an output's own ``binary_data`` overrides).
    """
    count = [len(probabilities)]
    outputs = {
        PROBABILITY_OUTPUT: InferOutput(PROBABILITY_OUTPUT, count, "FP64", as_list(probabilities)),
        LABEL_OUTPUT: InferOutput(
            LABEL_OUTPUT, count, "BYTES", decide_labels(probabilities, threshold)
        ),
    }
    wanted = requested_outputs(request)
    return InferResponse(
        response_id=request.id or str(uuid.uuid4()),
        model_name=model_name,
        model_version=model_version,
        infer_outputs=[outputs[name] for name in wanted],
        from_grpc=request.from_grpc,
        parameters=_warning_parameters(warnings),
        use_binary_outputs=request.use_binary_outputs,
        requested_outputs=None if request.from_grpc else _rest_encodings(request, wanted),
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


def _rest_encodings(request: InferRequest, wanted: list[str]) -> list[RequestedOutput]:
    """Each wanted output with an explicit ``binary_data`` flag, as KServe's ``to_rest`` reads.

    KServe 0.21 takes an output's own flag only, so an output named without one would come
    back as JSON despite ``binary_data_output: true``; here the request's flag is its default.
    """
    default = _flag(request.parameters, BINARY_ALL_OUTPUTS, "request parameter")
    own = {output.name: output.parameters for output in request.request_outputs or ()}
    return [
        RequestedOutput(
            name, {BINARY_OUTPUT: _flag(own.get(name), BINARY_OUTPUT, f"output {name!r}", default)}
        )
        for name in wanted
    ]


def _flag(parameters: dict | None, key: str, where: str, default: bool = False) -> bool:
    value = (parameters or {}).get(key, default)
    if type(value) is not bool:
        raise InvalidInput(f'{where} "{key}" must be true or false, got {json_type(value)}')
    return value
