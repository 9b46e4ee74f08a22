"""The fast lane's Open Inference Protocol half: ``POST /v2/models/<name>/infer`` as JSON.

KServe's route validates the body into its pydantic ``InferenceRequest``, turns it into an
``InferRequest`` for the model, and renders the model's ``InferResponse`` through
``to_rest()``, pydantic and FastAPI's encoder; :mod:`.v2_json` then drops the ``null``
members. Here the same KServe protocol types do the same steps without FastAPI: a body is
taken only when it is a JSON object that KServe's own ``InferenceRequest`` accepts and whose
answer is plain JSON (no binary tensor extension asked for). Anything else returns None and
goes to KServe's app, which answers it (422s, binary outputs, byte bodies) as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from kserve.protocol.infer_type import InferRequest, InferResponse
from kserve.protocol.rest.v2_datamodels import InferenceRequest, InferenceResponse
from pydantic import ValidationError

from predictor.serving.v2_json import drop_nulls

# What KServe's ``InferenceRequest`` holds; other keys are left to KServe's app.
REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
# Request or output parameter asking for the binary tensor extension on the way out.
BINARY_PARAMETERS = ("binary_data_output", "binary_data")


def infer_request(payload: Any, name: str) -> InferRequest | None:
    """The request KServe's route would hand the model, or None when KServe must handle it.

    Raises:
        InvalidInput: What KServe's conversion raises (FP16 sent as JSON), as it would.
    """
    if type(payload) is not dict or not payload.keys() <= REQUEST_KEYS:
        return None
    try:
        request = InferenceRequest.model_validate(payload)
    except ValidationError:
        return None  # KServe's app answers it: FastAPI's 422, in our words
    if _asks_for_binary_outputs(request):
        return None
    return InferRequest.from_inference_request(request, name)


def response_body(response: InferResponse) -> bytes:
    """What KServe's route renders for ``response``, as :mod:`.v2_json` tidies it."""
    rest, json_length = response.to_rest()
    if json_length is not None:  # excluded by infer_request; a model's own choice otherwise
        raise ValueError("binary outputs are answered by KServe's app, not the fast lane")
    document = InferenceResponse.model_validate(rest).model_dump(mode="json", by_alias=True)
    return orjson.dumps(drop_nulls(document))


def _asks_for_binary_outputs(request: InferenceRequest) -> bool:
    if request.parameters and any(
        request.parameters.get(key) is not None for key in BINARY_PARAMETERS
    ):
        return True
    return any(output.parameters for output in request.outputs or ())
