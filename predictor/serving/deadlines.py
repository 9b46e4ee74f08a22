"""Request deadlines on one timer per process, instead of one timer per request.

``asyncio.timeout`` schedules and cancels a loop timer for every request; under uvloop that
alone cost more than the rest of the request limits together (measured: about 8 us of CPU
per request, against 0.5 us here). :class:`Deadlines` registers each request in flight and
one sweep every ``tick`` seconds cancels the requests past their deadline, so a request is
cut off between its deadline and one tick later. The sweep runs only while requests are in
flight.
"""

from __future__ import annotations

import asyncio
from typing import Any

MAX_TICK_SECONDS = 0.05


class Deadlines:
    """Cancels each registered request's task once its deadline has passed.

    A request is its task: one deadline per task at a time (``start`` returns the task as the
    token that ``cut_off`` and ``finish`` take).
    """

    def __init__(self, seconds: float, tick: float | None = None):
        self.seconds = seconds
        self.tick = tick if tick is not None else min(MAX_TICK_SECONDS, seconds / 4)
        # task -> (deadline in loop time, the task's cancel requests before ours: what
        # asyncio.timeout keeps to tell its own cancellation from another's)
        self._in_flight: dict[asyncio.Task, tuple[float, int]] = {}
        # task -> whether our cancel request has been taken back, for the expired ones
        self._expired: dict[asyncio.Task, bool] = {}
        self._sweeping: asyncio.AbstractEventLoop | None = None

    def start(self) -> asyncio.Task:
        """Watch the current task from now on; call :meth:`finish` when it is done."""
        # The sweeping loop's current task, when that loop is the one running here: asking
        # for the running loop costs a getpid() system call (CPython checks for a fork).
        loop = self._sweeping
        task = asyncio.current_task(loop) if loop is not None else None
        if task is None:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task(loop)
        self._in_flight[task] = (loop.time() + self.seconds, task.cancelling())
        if self._sweeping is not loop:
            self._sweeping = loop
            loop.call_later(self.tick, self._sweep, loop)
        return task

    def cut_off(self, task: asyncio.Task) -> bool:
        """Whether the CancelledError being handled is this deadline's (then it is absorbed:
        the task's cancel request is taken back, as ``asyncio.timeout`` does)."""
        if self._expired.get(task, True):  # not expired, or already taken back
            return False
        self._expired[task] = True
        return task.uncancel() <= self._in_flight[task][1]

    def finish(self, task: asyncio.Task) -> None:
        """Stop watching this request."""
        self._in_flight.pop(task, None)
        if self._expired and self._expired.pop(task, True) is False:
            task.uncancel()

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sweeping is not loop:
            return  # another event loop took over (a new loop in tests)
        if not self._in_flight:
            self._sweeping = None  # idle: the next request starts the sweep again
            return
        now = loop.time()
        for task, (at, _) in self._in_flight.items():
            if at <= now and task not in self._expired:
                self._expired[task] = False
                task.cancel()
        loop.call_later(self.tick, self._sweep, loop)


class Deadline:
    """One request's time limit, as a ``with`` block (the fast lane's and the limits').

    A cancellation by the deadline ends the block and sets ``expired``; the caller then
    answers with :meth:`RequestLimitMiddleware.timed_out`. Any other cancellation (server
    shutdown) goes on.
    """

    __slots__ = ("_deadlines", "_task", "expired")

    def __init__(self, deadlines: Deadlines | None):
        self._deadlines = deadlines
        self._task: asyncio.Task | None = None
        self.expired = False

    def __enter__(self) -> Deadline:
        if self._deadlines is not None:
            self._task = self._deadlines.start()
        return self

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        task, deadlines = self._task, self._deadlines
        if task is None:
            return False
        try:
            if kind is asyncio.CancelledError and deadlines.cut_off(task):
                self.expired = True
                return True  # absorbed: the caller answers 408/503
            return False
        finally:
            deadlines.finish(task)
