"""Prometheus observations noted on a list and folded once per event-loop turn.

A prediction makes six metric updates (KServe's three stage histograms, the instance count,
the request's duration and count). Here each is a ``list.append`` while the request is
answered (the three stage times of a request one append, :class:`BatchedTogether`; the
request's count and duration another), and the values noted during one turn of the event
loop are given to the very same prometheus_client children at the start of the next turn
(``loop.call_soon``), after the answers have been sent: the same metric objects, names,
labels and buckets, the same files in multi-process mode, through prometheus_client's public
``observe``/``inc`` only.

A scrape never sees a value still pending in its own process: the ``/metrics`` layer calls
:func:`flush` first. Another ``--workers`` process folds its values within one loop turn of
noting them, before it reads its next request. Outside a running event loop (a thread, a
test, start-up), a value is folded at once.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from typing import Any

_lock = threading.Lock()
_dirty: list[Batched | BatchedTogether] = []  # metrics with values noted since the last fold
_scheduled = False  # a fold is queued on the running loop


class Batched:
    """A prometheus_client histogram or counter child whose values are folded in batches.

    Counters take non-negative increments only (as ``Counter.inc``).
    """

    __slots__ = ("_values", "child", "counter", "histogram")

    def __init__(self, child: Any, counter: Any = None):
        """``counter``: a counter child to add one to per value as well (requests counted
        and timed with one note)."""
        self.child = child
        self.counter = counter
        self.histogram = hasattr(child, "observe")
        self._values: list[float] = []

    def observe(self, value: float) -> None:
        """What ``child.observe(value)`` (or ``child.inc(value)``) does, folded later."""
        values = self._values
        values.append(value)
        if len(values) == 1:
            _noted(self)

    inc = observe

    def fold(self) -> None:
        """Give the values noted so far to the child."""
        values, self._values = self._values, []
        if values:
            self.add(values)

    def add(self, values: list[float] | tuple[float, ...]) -> None:
        """Give these values to the child now."""
        if self.counter is not None:
            self.counter.inc(len(values))
        if not self.histogram:
            self.child.inc(sum(values))
            return
        observe = self.child.observe
        for value in values:
            observe(value)


class BatchedTogether:
    """Batched metrics noted together, one value each, with one append per note."""

    __slots__ = ("_rows", "metrics")

    def __init__(self, *metrics: Batched):
        self.metrics = metrics
        self._rows: list[tuple[float, ...]] = []

    def observe(self, values: tuple[float, ...]) -> None:
        """``observe`` of each metric with its value (as many values as metrics)."""
        rows = self._rows
        rows.append(values)
        if len(rows) == 1:
            _noted(self)

    def fold(self) -> None:
        """Give the values noted so far to their metrics."""
        rows, self._rows = self._rows, []
        if rows:
            for metric, values in zip(self.metrics, zip(*rows, strict=True), strict=True):
                metric.add(values)


def flush() -> None:
    """Fold every value noted so far, in every batched metric of this process."""
    global _scheduled
    with _lock:
        dirty = _dirty[:]
        _dirty.clear()
        _scheduled = False
    for metric in dirty:
        metric.fold()


def _noted(metric: Batched | BatchedTogether) -> None:
    """The first value since the last fold: queue the fold (or fold now, off the loop)."""
    global _scheduled
    with _lock:  # flush() takes the list under it: no metric is dropped between copy and clear
        _dirty.append(metric)
    if _scheduled:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop running in this thread
        loop = None
    if loop is None or loop.is_closed():
        flush()
        return
    _scheduled = True
    loop.call_soon(flush)


atexit.register(flush)  # a worker that exits leaves its last values in the files
