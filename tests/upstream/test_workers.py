"""Canary for ``predictor/serving/workers.py``: stock supervision of ``--workers`` children."""

from __future__ import annotations

import inspect
import time

import pytest
from kserve.protocol.rest.multiprocess.server import RESTServerProcess

from tests.upstream.slow_to_unpickle import SlowToUnpickle

pytestmark = pytest.mark.upstream


def test_a_child_still_starting_is_declared_dead_after_a_blocking_ping() -> None:
    """Workaround: ``PredictorRESTMultiProcess`` pings without blocking and replaces a child
    only once it has exited or stayed silent for ``HUNG_AFTER_SECONDS``.

    Stock supervision calls ``is_alive()`` (a ping with a blocking 5 s wait on the parent's
    event loop) and kills a child that has not answered: a child still importing never
    answers in time. When this fails, workers.py's ``keep_subprocess_alive`` may go.
    """
    assert inspect.signature(RESTServerProcess.is_alive).parameters["timeout"].default == 5
    # The child unpickles its arguments (as a real one imports KServe) before it can answer.
    child = RESTServerProcess([SlowToUnpickle(4.0)], target=print)
    child.start()
    try:
        started = time.monotonic()
        alive = child.is_alive(timeout=1.0)
        waited = time.monotonic() - started
        assert child._process.is_alive(), "the child should still be starting"
        assert alive is False
        assert waited >= 0.9  # the parent blocked for the whole timeout
    finally:
        child._process.kill()
        child._process.join(10)
