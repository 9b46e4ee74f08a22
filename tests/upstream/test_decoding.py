"""Canaries for ``predictor/serving/decoding.py``: client input stock KServe cannot decode."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support import RunningServer

pytestmark = pytest.mark.upstream
TENSOR = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}


def infer(server: RunningServer, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v2/models/breast-cancer/infer", content=body,
                      headers=headers)  # fmt: skip


def test_an_unreadable_binary_header_length_is_a_500(stock: RunningServer) -> None:
    """Workaround: ``ClientInputDataPlane`` checks ``inference-header-content-length`` (400).

    When this fails, KServe answers it as a client error itself: delete
    ``_check_binary_header_length`` from decoding.py.
    """
    response = infer(stock, b"nope", {"inference-header-content-length": "x"})
    assert response.status_code == 500
    assert "ValueError" in response.json()["error"]


def test_a_binary_body_without_inputs_is_a_500(stock: RunningServer) -> None:
    """Workaround: ``ClientInputDataPlane.decode`` turns KServe's KeyError into a 400.

    When this fails, the ``except KeyError``/``except Exception`` arms of decode may go.
    """
    response = infer(stock, b"{}", {"inference-header-content-length": "2"})
    assert response.status_code == 500
    assert "KeyError" in response.json()["error"]


def test_a_v2_json_body_with_curls_form_content_type_is_refused(stock: RunningServer) -> None:
    """Workaround: ``_is_v2_json_bytes``/``_parse_v2_json`` read such a body as JSON.

    Plain ``curl -d`` sends ``application/x-www-form-urlencoded``; the README's V2 curl line
    depends on the workaround. When this fails, delete both helpers.
    """
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = infer(stock, json.dumps(TENSOR).encode(), form)
    assert response.status_code == 400
    assert "inference-header-content-length' header is missing" in response.json()["error"]
