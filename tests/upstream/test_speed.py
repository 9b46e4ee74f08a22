"""Canary for ``predictor/serving/eventloop.py``: the event loop stock KServe serves on."""

from __future__ import annotations

import httpx
import pytest

from tests.support import RunningServer

pytestmark = pytest.mark.upstream


def test_a_single_process_server_runs_on_the_stdlib_event_loop(stock: RunningServer) -> None:
    """Workaround: ``eventloop.use_event_loop`` gives the single-process server uvloop, as
    uvicorn gives ``--workers`` children (``ModelServer.start`` calls ``asyncio.run``).

    When this fails, KServe picks uvloop itself: use_event_loop may go.
    """
    answer = httpx.post(f"{stock.base_url}/v1/models/breast-cancer:predict",
                        json={"instances": [1]}).json()  # fmt: skip
    assert answer["event_loop"].startswith("asyncio.")
