"""Canaries for ``predictor/serving/v2_json.py`` and ``predictor/responses.py``'s V2 encoding."""

from __future__ import annotations

import httpx
import pytest
from kserve.protocol.infer_type import InferOutput, InferResponse, RequestedOutput

from tests.support import RunningServer

pytestmark = pytest.mark.upstream
TENSOR = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}


def test_v2_answers_carry_null_members(stock: RunningServer) -> None:
    """Workaround: ``TidyV2JsonMiddleware`` drops them.

    When this fails, KServe omits unset optional fields itself: v2_json.py may go.
    """
    infer = httpx.post(f"{stock.base_url}/v2/models/breast-cancer/infer", json=TENSOR)
    assert b'"parameters":null' in infer.content
    metadata = httpx.get(f"{stock.base_url}/v2/models/breast-cancer")
    assert b'"versions":null' in metadata.content


def test_to_rest_ignores_binary_data_output_for_an_output_named_without_a_flag() -> None:
    """Workaround: ``responses._rest_encodings`` gives every requested output an explicit
    ``binary_data`` flag, defaulting to the request's ``binary_data_output``.

    When this fails, KServe applies the request's flag itself: _rest_encodings may go.
    """
    output = InferOutput("answer", [1], "FP64", [1.0])
    response = InferResponse("1", "m", [output], use_binary_outputs=True,
                             requested_outputs=[RequestedOutput("answer")])  # fmt: skip
    body, json_length = response.to_rest()
    assert json_length is None and isinstance(body, dict)  # JSON, not the binary extension
