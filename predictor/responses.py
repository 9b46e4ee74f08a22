"""Response bodies: V1 JSON predictions and V2 (Open Inference Protocol) tensors."""

from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass

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
from predictor.prediction_sets import PREDICTION_SET, SETS, PredictionSets
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
# By prediction-set code (predictor.prediction_sets): the label's head, and the set and
# warnings that follow the probability.
_SET_HEADS = np.array([_PREDICTION_HEADS[code & 1] for code in range(len(SETS))], dtype=object)
_SET_TAILS = np.array(
    [b"," + orjson.dumps({PREDICTION_SET: labels, "warnings": []})[1:] for labels in SETS],
    dtype=object,
)


# eq=False: hashed by identity, which the envelope cache (_envelope_rest) does per answer at
# a third of the cost of hashing the four fields.
@dataclass(frozen=True, slots=True, eq=False)
class AnswerContext:
    """What every answer of one model version states besides its per-instance values.

    The model makes one when it loads an artifact; the answers read it, so a threshold, a
    name and a version always go together.
    """

    threshold: float
    model_name: str
    model_version: str
    # The artifact's calibrated cut points; None for an artifact trained without them.
    prediction_sets: PredictionSets | None = None


def v1_body(
    probabilities: Probabilities,
    context: AnswerContext,
    warnings: list[list[dict]] | None = None,
) -> dict:
    prediction_sets = context.prediction_sets
    labels = decide_labels(probabilities, context.threshold)
    no_warnings: list = []
    values = as_list(probabilities)
    if prediction_sets is None:
        predictions = [
            {"label": label, PROBABILITY_OUTPUT: probability, "warnings": no_warnings}
            for label, probability in zip(labels, values, strict=True)
        ]
    else:
        predictions = [
            {
                "label": label,
                PROBABILITY_OUTPUT: probability,
                PREDICTION_SET: labels_in_set,
                "warnings": no_warnings,
            }
            for label, probability, labels_in_set in zip(
                labels, values, prediction_sets.sets(probabilities), strict=True
            )
        ]
    if warnings is not None:
        for prediction, instance_warnings in zip(predictions, warnings, strict=True):
            prediction["warnings"] = instance_warnings
    return envelope("predictions", predictions, context)


def v1_json(probabilities: Probabilities, context: AnswerContext) -> bytes:
    """``orjson.dumps(v1_body(...), option=ORJSON_OPTIONS)`` without warnings, built faster.

    The same bytes (the probabilities go through the same orjson float formatting), but no
    dict per prediction: each is the label's fixed head, the formatted probability and a
    fixed tail (the prediction set's, when the artifact has them), joined at C level inside
    the envelope's bytes (made once per model version).
    """
    return v1_json_around(v1_predictions_json(probabilities, context), context)


def v1_predictions_json(probabilities: Probabilities, context: AnswerContext) -> bytes:
    """The predictions of ``v1_json``, comma-separated, without the envelope: the parts of
    consecutive slices of ``probabilities``, joined by commas, are the whole's."""
    threshold, prediction_sets = context.threshold, context.prediction_sets
    values = as_list(probabilities)
    numbers = orjson.dumps(values)[1:-1].split(b",")
    if prediction_sets is not None:
        if len(values) <= SMALL_BATCH:
            codes = [prediction_sets.code_of(value) for value in values]
        else:
            codes = prediction_sets.codes(probabilities)
        heads, tails = _SET_HEADS[codes].tolist(), _SET_TAILS[codes].tolist()
        return b",".join(map(b"".join, zip(heads, numbers, tails, strict=True)))
    if len(values) <= SMALL_BATCH:
        heads = [_POSITIVE_HEAD if value >= threshold else _NEGATIVE_HEAD for value in values]
    else:
        positives = (np.asarray(probabilities) >= threshold).view(np.uint8)
        heads = _PREDICTION_HEADS[positives].tolist()
    joined = (_PREDICTION_TAIL + b",").join(map(b"".join, zip(heads, numbers, strict=True)))
    return joined + _PREDICTION_TAIL


def v1_json_around(predictions: bytes, context: AnswerContext) -> bytes:
    """A V1 answer's bytes from its predictions already serialised, comma-separated."""
    return _OPENING + predictions + _envelope_rest(context)


class OnePrediction:
    """``v1_json`` of one instance for one model version: its fixed parts joined once.

    The same bytes as ``v1_json([probability], context)``: a head and a tail per
    prediction-set code (without sets, the label alone picks them).
    """

    __slots__ = ("_benign_if_at_most", "_heads", "_malignant_if_at_least", "_tails", "threshold")

    def __init__(self, context: AnswerContext):
        self.threshold = context.threshold
        prediction_sets = context.prediction_sets
        rest = _envelope_rest(context)
        self._heads = [_OPENING + head for head in _SET_HEADS.tolist()]
        if prediction_sets is None:
            # Codes 2 and 3 never come up: no probability is above inf or below -inf.
            self._malignant_if_at_least, self._benign_if_at_most = math.inf, -math.inf
            self._tails = [_PREDICTION_TAIL + rest] * len(SETS)
        else:
            self._malignant_if_at_least = prediction_sets.malignant_if_at_least
            self._benign_if_at_most = prediction_sets.benign_if_at_most
            self._tails = [tail + rest for tail in _SET_TAILS.tolist()]

    def json(self, probability: float) -> bytes:
        # PredictionSets.code_of, inlined: this runs once per single-instance request.
        if probability >= self.threshold:
            code = 3 if probability <= self._benign_if_at_most else 1
        else:
            code = 2 if probability >= self._malignant_if_at_least else 0
        return b"".join((self._heads[code], orjson.dumps(probability), self._tails[code]))


@functools.lru_cache(maxsize=8)
def _envelope_rest(context: AnswerContext) -> bytes:
    """What follows the predictions: ``],"model_name":...}``."""
    rest = orjson.dumps(envelope("predictions", [], context), option=ORJSON_OPTIONS)
    return rest[len(_OPENING) :]


def envelope(key: str, items: list, context: AnswerContext) -> dict:
    """``items`` under ``key``, with the model's name and version and the threshold."""
    return {
        key: items,
        "model_name": context.model_name,
        "model_version": context.model_version,
        "threshold": context.threshold,
    }


def v2_response(
    request: InferRequest,
    probabilities: Probabilities,
    context: AnswerContext,
    warnings: list[list[dict]] | None = None,
) -> InferResponse:
    """The requested outputs, in the encoding the request asked for.

    gRPC: raw output contents when the inputs came raw (what NVIDIA's tritonclient sends and
    decodes), typed contents otherwise. REST: JSON ``data``, or the binary tensor extension
    for outputs asked for with ``"binary_data": true`` (or all, with the request parameter
    ``"binary_data_output": true``, which an output's own ``binary_data`` overrides).
    ``prediction_set`` (BYTES, one comma-joined set per instance) is offered when the
    artifact has prediction sets.
    """
    count, prediction_sets = [len(probabilities)], context.prediction_sets
    outputs = {
        PROBABILITY_OUTPUT: InferOutput(PROBABILITY_OUTPUT, count, "FP64", as_list(probabilities)),
        LABEL_OUTPUT: InferOutput(
            LABEL_OUTPUT, count, "BYTES", decide_labels(probabilities, context.threshold)
        ),
    }
    if prediction_sets is not None:
        outputs[PREDICTION_SET] = InferOutput(
            PREDICTION_SET, count, "BYTES", prediction_sets.set_names(probabilities)
        )
    wanted = requested_outputs(request, tuple(outputs))
    return InferResponse(
        response_id=request.id or str(uuid.uuid4()),
        model_name=context.model_name,
        model_version=context.model_version,
        infer_outputs=[outputs[name] for name in wanted],
        from_grpc=request.from_grpc,
        parameters=warning_parameters(warnings),
        use_binary_outputs=request.use_binary_outputs,
        requested_outputs=None if request.from_grpc else _rest_encodings(request, wanted),
    )


def warning_parameters(warnings: list[list[dict]] | None) -> dict | None:
    """V2 tensors cannot carry per-instance notes: they go in the response parameters."""
    if warnings is None:
        return None
    flagged = {str(i): w for i, w in enumerate(warnings) if w}
    return {"out_of_range": orjson.dumps(flagged).decode()}


def requested_outputs(request: InferRequest, offered: tuple[str, ...] = V2_OUTPUTS) -> list[str]:
    """The outputs a V2 request asked for (all ``offered`` when it names none)."""
    if not request.request_outputs:
        return list(offered)
    names = [output.name for output in request.request_outputs]
    unknown = [name for name in names if name not in offered]
    if unknown:
        raise InvalidInput(f"unknown output(s) {unknown}; this model offers {list(offered)}")
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
