"""Canary for ``predictor/serving/logs.py``: how stock KServe logs a client's mistake."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support import RunningServer

pytestmark = pytest.mark.upstream


def test_a_rejected_request_is_logged_as_an_error_with_a_traceback(stock: RunningServer) -> None:
    """Workaround: ``ClientErrorFilter`` turns it into one WARNING line.

    When this fails, KServe logs client errors quietly itself: the filter may go.
    """
    before = stock.log().count("Traceback")
    response = httpx.post(f"{stock.base_url}/v1/models/breast-cancer:predict", json={"bad": 1})
    assert response.status_code == 400
    deadline = time.monotonic() + 5
    while stock.log().count("Traceback") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    tail = stock.log()[-4000:]
    assert "ERROR" in tail and "kserve.errors.InvalidInput" in tail


def test_an_unknown_model_is_logged_as_an_error_with_a_traceback(stock: RunningServer) -> None:
    """Workaround: ``ClientErrorFilter`` maps ModelNotFound (404) and NotImplementedError
    (501) to one WARNING line too. When this fails, that part of the filter may go.
    """
    response = httpx.post(f"{stock.base_url}/v1/models/nowhere:predict", json={"instances": [1]})
    assert response.status_code == 404
    deadline = time.monotonic() + 5
    while "kserve.errors.ModelNotFound" not in stock.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "kserve.errors.ModelNotFound: Model with name nowhere" in stock.log()


def test_every_response_warns_that_orjsonresponse_is_deprecated(stock: RunningServer) -> None:
    """Workaround: ``logs.silence_known_warnings`` ignores exactly this warning.

    When this fails (KServe stops using ORJSONResponse, or FastAPI stops warning), the
    filter may go.
    """
    httpx.post(f"{stock.base_url}/v1/models/breast-cancer:predict", json={"instances": [1]})
    deadline = time.monotonic() + 5
    while "ORJSONResponse is deprecated" not in stock.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "FastAPIDeprecationWarning: ORJSONResponse is deprecated" in stock.log()
