"""A big plain V2 JSON body read without pydantic, its numbers parsed a slice at a time.

KServe's V2 route parses the body whole, validates it into its pydantic ``InferenceRequest``
and copies that into an ``InferRequest``: for a 10,000-instance tensor (300,000 numbers) the
parse alone holds the event loop for about 6 ms. A *plain* body is read here instead:

* a JSON object whose keys are among ``id`` (a string) and ``inputs``; exactly one input with
  exactly ``name`` (a string), ``shape`` (two integers), ``datatype`` (``FP64`` or ``FP32``)
  and ``data``, a flat list of numbers; more than ``size`` instances (``shape[0]``);
* no backslash anywhere, so every ``"`` delimits a string and the one ``"data"`` in the body
  is the input's key; its list, up to the first ``]``, holds no quote, brace or bracket;
* the rest of the body (the data list left empty) is parsed as it is, so ``shape`` gives the
  instances before any number is parsed (:mod:`.admission` counts them), and then the list is
  cut at commas into pieces of about ``size`` instances, each parsed on its own (orjson
  parses each number on its own, so the pieces' numbers are the whole's).

The ``InferRequest`` built from them is the one ``InferRequest.from_inference_request``
builds for the body (pydantic leaves such a body's values as they are). Any piece that does
not parse, an empty one (a stray comma), or a body nested deeper than allowed sends the
whole body back to KServe's way (its depth check, its parse, its errors); any other body is
not read here at all. (As with V1's slices, under overload such a body can be refused with
503 before it is found not to parse.)
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from kserve.protocol.infer_type import InferInput, InferRequest

from predictor.serving.kserve_mirror import is_json_for_v2
from predictor.serving.limits import json_depth
from predictor.serving.sliced_json import parsed
from predictor.validation import V2_DATATYPES

DATA_OPENINGS = (b'"data":[', b'"data": [')
DATA_KEY = b'"data"'
PLAIN_REQUEST_KEYS = frozenset({"id", "inputs"})
PLAIN_INPUT_KEYS = frozenset({"name", "shape", "datatype", "data"})
# What a list of numbers never holds (its end is its first "]").
NOT_NUMBERS = (b'"', b"{", b"}", b"[")
# No instance takes fewer bytes than one number and a comma.
SHORTEST_INSTANCE_BYTES = 2


@dataclass(frozen=True, slots=True)
class SlicedTensor:
    """A plain V2 body: all but its numbers parsed, the numbers cut into pieces."""

    head: bytes  # the body with an empty data list
    document: dict  # the head parsed
    pieces: list[bytes]
    count: int  # instances: the tensor's first dimension
    model_name: str

    async def instances(self, max_depth: int) -> InferRequest | None:
        """The request KServe's route would build, parsed a piece at a time with a yield
        after each; None when the body is nested deeper than ``max_depth`` or a piece does
        not parse (the whole body then decides)."""
        if json_depth(self.head, max_depth) > max_depth:  # the numbers add no depth
            return None
        values = await parsed(self.pieces, max_depth)
        if values is None:
            return None
        tensor = self.document["inputs"][0]
        infer_input = InferInput(
            tensor["name"], tensor["shape"], tensor["datatype"], values, parameters={}
        )
        return InferRequest(self.model_name, [infer_input], request_id=self.document.get("id"))


def sliced(body: bytes, size: int, headers: dict[str, str], model_name: str) -> SlicedTensor | None:
    """A plain V2 body of more than ``size`` instances, its numbers cut into pieces of about
    ``size`` instances; None for any other body (or ``size`` 0: slicing is off)."""
    if size <= 0 or len(body) < size * SHORTEST_INSTANCE_BYTES or not is_json_for_v2(headers):
        return None
    if b"\\" in body:
        return None  # escapes: a quote might not delimit a string
    at = body.find(DATA_KEY)
    if at < 0 or body.find(DATA_KEY, at + 1) >= 0:
        return None
    opening = next((head for head in DATA_OPENINGS if body.startswith(head, at)), None)
    if opening is None:
        return None
    start = at + len(opening)
    end = body.find(b"]", start)
    if end < 0 or any(body.find(mark, start, end) >= 0 for mark in NOT_NUMBERS):
        return None
    head = body[:start] + body[end:]
    try:
        document = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    count = _plain_count(document)
    if count is None or count <= size:
        return None
    # Cut after about ``size`` instances' worth of bytes, at the next comma.
    step = (end - start) * size // count
    pieces = []
    while True:
        cut = body.find(b",", start + step, end)
        if cut < 0:
            pieces.append(body[start:end])
            return SlicedTensor(head, document, pieces, count, model_name)
        pieces.append(body[start:cut])
        start = cut + 1


def _plain_count(document: object) -> int | None:
    """The instances of a plain request with its data list empty; None if not plain."""
    if type(document) is not dict or not document.keys() <= PLAIN_REQUEST_KEYS:
        return None
    if "id" in document and type(document["id"]) is not str:
        return None
    inputs = document.get("inputs")
    if type(inputs) is not list or len(inputs) != 1:
        return None
    tensor = inputs[0]
    if type(tensor) is not dict or tensor.keys() != PLAIN_INPUT_KEYS:
        return None
    shape, datatype = tensor["shape"], tensor["datatype"]
    if (
        type(tensor["name"]) is not str
        or type(datatype) is not str
        or datatype not in V2_DATATYPES
        or type(shape) is not list
        or len(shape) != 2
        or any(type(dimension) is not int for dimension in shape)
        or tensor["data"] != []
    ):
        return None
    return shape[0]
