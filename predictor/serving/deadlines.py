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
from dataclasses import dataclass, field

MAX_TICK_SECONDS = 0.05


@dataclass(eq=False, slots=True)
class Deadline:
    """One request's deadline (loop time) and the task it cancels when that passes."""

    at: float
    task: asyncio.Task
    cancelling: int  # the task's cancel requests before ours: asyncio.timeout's bookkeeping
    expired: bool = False
    settled: bool = field(default=False)  # our cancel request has been taken back


class Deadlines:
    """Cancels each registered request's task once its deadline has passed."""

    def __init__(self, seconds: float, tick: float | None = None):
        self.seconds = seconds
        self.tick = tick if tick is not None else min(MAX_TICK_SECONDS, seconds / 4)
        self._in_flight: set[Deadline] = set()
        self._sweeping: asyncio.AbstractEventLoop | None = None

    def start(self) -> Deadline:
        """Watch the current task from now on; call :meth:`finish` when it is done."""
        # The sweeping loop's current task, when that loop is the one running here: asking
        # for the running loop costs a getpid() system call (CPython checks for a fork).
        loop = self._sweeping
        task = asyncio.current_task(loop) if loop is not None else None
        if task is None:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task(loop)
        deadline = Deadline(loop.time() + self.seconds, task, task.cancelling())
        self._in_flight.add(deadline)
        if self._sweeping is not loop:
            self._sweeping = loop
            loop.call_later(self.tick, self._sweep, loop)
        return deadline

    def cut_off(self, deadline: Deadline) -> bool:
        """Whether the CancelledError being handled is this deadline's (then it is absorbed:
        the task's cancel request is taken back, as ``asyncio.timeout`` does)."""
        if not deadline.expired or deadline.settled:
            return False
        deadline.settled = True
        return deadline.task.uncancel() <= deadline.cancelling

    def finish(self, deadline: Deadline) -> None:
        """Stop watching this request."""
        self._in_flight.discard(deadline)
        if deadline.expired and not deadline.settled:
            deadline.settled = True
            deadline.task.uncancel()

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sweeping is not loop:
            return  # another event loop took over (a new loop in tests)
        if not self._in_flight:
            self._sweeping = None  # idle: the next request starts the sweep again
            return
        now = loop.time()
        for deadline in self._in_flight:
            if not deadline.expired and deadline.at <= now:
                deadline.expired = True
                deadline.task.cancel()
        loop.call_later(self.tick, self._sweep, loop)
