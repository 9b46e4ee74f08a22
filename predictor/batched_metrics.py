"""Prometheus observations folded in batches, once per event-loop turn instead of per value.

prometheus_client (0.26) spends several Python calls, a lock and a scan of the bounds on each
``Histogram.observe``, and a prediction makes six metric updates (KServe's three stage
histograms, the instance count, the request's duration and count): the profile before this
module charged 21 of 228 us of server CPU per request to prometheus_client
(``bench/PROFILE.md`` at commit 0c9f8e1). Here an observation is a ``list.append`` (the
three stage times of a request one append, :class:`BatchedTogether`; the request's count
and duration another); the values noted during one turn of the event loop are folded into
the very same prometheus_client children at the start of the next turn (``loop.call_soon``):
sorted once, a bisection per bucket bound, one increment per touched bucket. Nothing else
changes: the same metric objects, names, labels and buckets, the same files in multi-process
mode.

A scrape never sees a value still pending in its own process: the ``/metrics`` layer calls
:func:`flush` first. Another ``--workers`` process folds its values within one loop turn of
noting them, before it reads its next request. Outside a running event loop (a thread,
a test, start-up), a value is folded at once.

Works around prometheus_client having no way to add many observations at once: the fold
writes a child's bucket and sum values (``_upper_bounds``, ``_buckets``, ``_sum``) as
``observe`` does. ``tests/upstream/test_prometheus_client.py`` pins those attributes and
checks the fold exposes exactly what ``observe`` would.
"""

from __future__ import annotations

import asyncio
import atexit
import math
import threading
from bisect import bisect_right
from typing import Any

_lock = threading.Lock()
_dirty: list[Batched | BatchedTogether] = []  # metrics with values noted since the last fold
_scheduled = False  # a fold is queued on the running loop


class Batched:
    """A prometheus_client histogram or counter child whose values are folded in batches.

    Counters take non-negative increments only (as ``Counter.inc``), checked at the fold.
    """

    __slots__ = ("_bounds", "_buckets", "_sum", "_values", "child", "counter")

    def __init__(self, child: Any, counter: Any = None):
        """``counter``: a counter child to add one to per value as well (requests counted
        and timed with one note)."""
        self.child = child
        self.counter = counter
        self._values: list[float] = []
        # A histogram's bucket bounds and values (None for a counter): what observe() writes.
        self._bounds = getattr(child, "_upper_bounds", None)
        self._buckets = getattr(child, "_buckets", None)
        self._sum = getattr(child, "_sum", None)

    def observe(self, value: float) -> None:
        """What ``child.observe(value)`` (or ``child.inc(value)``) does, folded later."""
        values = self._values
        values.append(value)
        if len(values) == 1:
            _noted(self)

    inc = observe

    def fold(self) -> None:
        """Add the values noted so far to the child."""
        values, self._values = self._values, []
        if values:
            self.add(values)

    def add(self, values: list[float] | tuple[float, ...]) -> None:
        """Add these values to the child now (at least one)."""
        if self.counter is not None:
            self.counter.inc(len(values))
        total = values[0] if len(values) == 1 else math.fsum(values)
        if self._bounds is None:
            self.child.inc(total)
            return
        # observe(): the first bucket whose upper bound is >= the value counts it (a NaN is
        # counted in none). In order, the values up to each bound are one bisection away.
        if total == total:  # no NaN among the values (fsum is NaN if one is)
            ordered = sorted(values)
        else:
            ordered = sorted(value for value in values if value == value)
        counted, buckets = 0, self._buckets
        for index, bound in enumerate(self._bounds):
            if counted == len(ordered):
                break
            up_to_bound = bisect_right(ordered, bound)
            if up_to_bound > counted:
                buckets[index].inc(up_to_bound - counted)
                counted = up_to_bound
        self._sum.inc(total)


class BatchedTogether:
    """Batched metrics noted together, one value each, with one append per note.

    A request that times several stages notes them at once: one tuple instead of one note
    per metric. The metrics can still be noted alone as well.
    """

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
        """Add the values noted so far to their metrics."""
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
    loop = asyncio._get_running_loop()  # None off the loop; public get_running_loop raises
    if loop is None or loop.is_closed():
        flush()
        return
    _scheduled = True
    loop.call_soon(flush)


atexit.register(flush)  # a worker that exits leaves its last values in the files
