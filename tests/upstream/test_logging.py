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
