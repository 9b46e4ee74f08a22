"""A big V2 JSON prediction worked on a slice of instances at a time, yielding in between.

The V2 twin of :mod:`predictor.sliced_answer`, for a request whose answer is plain JSON: one
FP64/FP32 tensor of ``[N, features]`` with its values as a list (no request parameters, no
outputs named, no raw bytes). In one go the model validates the whole tensor, builds KServe's
``InferResponse`` and the fast lane renders it (``to_rest``, pydantic, ``drop_nulls``); here:

* validation: the validator's V2 path on each slice of ``size`` instances (a request of the
  slice's rows); at the first slice it refuses, or whose first value is a list (the validator
  flattens a tensor of rows only when every item is one), the whole request goes through it,
  so a bad request gets exactly the 400 it gets in one go;
* scoring, out-of-range warnings and the drift window: one call over the whole matrix;
* the answer: the bytes the one-go path renders (``model_name``, ``model_version``, ``id``
  or a new uuid, the warnings' ``parameters``, then each output with its ``data``), each
  output's values serialised a slice at a time by orjson, which formats each value on its
  own, and joined by commas.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import numpy as np
import orjson
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest

from predictor.labels import LABEL_OUTPUT, PROBABILITY_OUTPUT, as_list, decide_labels
from predictor.prediction_sets import PREDICTION_SET
from predictor.responses import AnswerContext, warning_parameters
from predictor.sliced_answer import Clock, worked_in_slices
from predictor.validation import V2_DATATYPES

if TYPE_CHECKING:
    from predictor.model import BreastCancerModel


async def answer_v2_in_slices(
    model: BreastCancerModel, request: InferRequest, size: int
) -> bytes | None:
    """The bytes the one-go path answers for a plain V2 JSON request of more than ``size``
    instances, worked on ``size`` at a time; None for any other request (answer it whole).

    Raises:
        InvalidInput: as ``model.answer`` raises it.
    """
    tensor = _plain_tensor(request, model.validator.n_features)
    if tensor is None or not 0 < size < tensor.shape[0]:
        return None
    return await worked_in_slices(
        model,
        tensor.shape[0],
        lambda clock: _validated(model, request, tensor, size, clock),
        lambda probabilities, warnings, clock: _serialised(
            model.answer_context, request, probabilities, warnings, size, clock
        ),
    )


def _plain_tensor(request: InferRequest, features: int) -> InferInput | None:
    """The request's one tensor when its answer is plain JSON, or None."""
    if request.from_grpc or request.parameters or request.request_outputs:
        return None
    if len(request.inputs) != 1:
        return None
    tensor = request.inputs[0]
    shape = tensor.shape
    if (
        tensor.parameters
        or tensor.datatype not in V2_DATATYPES
        or type(shape) is not list
        or len(shape) != 2
        or any(type(dimension) is not int for dimension in shape)
        or shape[1] != features
        or type(tensor.data) is not list  # JSON values (raw bytes have none)
        or len(tensor.data) != shape[0] * features
    ):
        return None
    return tensor


async def _validated(
    model: BreastCancerModel, request: InferRequest, tensor: InferInput, size: int, clock: Clock
) -> np.ndarray:
    validator = model.validator
    rows, features = tensor.shape
    data = tensor.data
    parts = []
    for start in range(0, rows, size):
        count = min(size, rows - start)
        values = data[start * features : (start + count) * features]
        if type(values[0]) is list:  # rows, maybe: the whole request, as in one go
            return validator.v2(request)
        piece = InferInput(tensor.name, [count, features], tensor.datatype, values)
        part = InferRequest(request.model_name, [piece])
        try:
            matrix = validator.v2(part)
        except InvalidInput:  # the whole request names the problem, as in one go
            return validator.v2(request)
        # One instance comes as Python floats, converted as numpy converts them.
        parts.append(np.asarray(matrix, dtype=np.float64).reshape(count, features))
        await clock.pause()
    return np.concatenate(parts)


async def _serialised(
    context: AnswerContext,
    request: InferRequest,
    probabilities: np.ndarray,
    warnings: list[list[dict]] | None,
    size: int,
    clock: Clock,
) -> bytes:
    """The answer's bytes, each output's values serialised ``size`` at a time."""
    threshold, sets = context.threshold, context.prediction_sets
    outputs: dict[tuple[str, str], list[bytes]] = {
        (PROBABILITY_OUTPUT, "FP64"): [],
        (LABEL_OUTPUT, "BYTES"): [],
    }
    if sets is not None:
        outputs[(PREDICTION_SET, "BYTES")] = []
    for start in range(0, len(probabilities), size):
        part = probabilities[start : start + size]
        values = [as_list(part), decide_labels(part, threshold)]
        if sets is not None:
            values.append(sets.set_names(part))
        for pieces, items in zip(outputs.values(), values, strict=True):
            pieces.append(orjson.dumps(items)[1:-1])
        await clock.pause()
    shape = [len(probabilities)]
    tensors = [
        orjson.dumps({"name": name, "shape": shape, "datatype": datatype})[:-1]
        + b',"data":['
        + b",".join(pieces)
        + b"]}"
        for (name, datatype), pieces in outputs.items()
    ]
    return _envelope(context, request, warnings)[:-2] + b",".join(tensors) + b"]}"


def _envelope(
    context: AnswerContext, request: InferRequest, warnings: list[list[dict]] | None
) -> bytes:
    """The answer with no outputs, in the one-go path's key order."""
    document: dict = {"model_name": context.model_name, "model_version": context.model_version}
    document["id"] = request.id or str(uuid.uuid4())
    parameters = warning_parameters(warnings)
    if parameters is not None:
        document["parameters"] = parameters
    document["outputs"] = []
    return orjson.dumps(document)
