"""One timer for all requests: a deadline cuts its own request off, and nothing else."""

from __future__ import annotations

import asyncio

import pytest

from predictor.serving.deadlines import Deadlines

SECONDS = 0.1


async def watched(deadlines: Deadlines, work) -> str:
    """Run ``work`` under a deadline the way the limits middleware does."""
    deadline = deadlines.start()
    try:
        await work()
    except asyncio.CancelledError:
        if not deadlines.cut_off(deadline):
            raise
        return "cut off"
    finally:
        deadlines.finish(deadline)
    return "done"


async def test_a_request_past_its_deadline_is_cut_off_within_a_tick() -> None:
    deadlines = Deadlines(SECONDS)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await watched(deadlines, lambda: asyncio.sleep(10)) == "cut off"
    assert SECONDS <= loop.time() - started < SECONDS + 2 * deadlines.tick + 0.05
    assert asyncio.current_task().cancelling() == 0  # our cancel request was taken back


async def test_a_request_within_its_deadline_is_left_alone() -> None:
    deadlines = Deadlines(SECONDS)
    assert await watched(deadlines, lambda: asyncio.sleep(SECONDS / 4)) == "done"


async def test_cancelled_by_someone_else_stays_cancelled() -> None:
    deadlines = Deadlines(10)
    task = asyncio.create_task(watched(deadlines, lambda: asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_sweep_stops_when_idle_and_starts_again() -> None:
    deadlines = Deadlines(SECONDS)
    assert await watched(deadlines, lambda: asyncio.sleep(0)) == "done"
    await asyncio.sleep(3 * deadlines.tick)  # a sweep finds nothing in flight and stops
    assert await watched(deadlines, lambda: asyncio.sleep(10)) == "cut off"


async def test_many_requests_each_get_their_own_answer() -> None:
    deadlines = Deadlines(SECONDS)
    slow = [watched(deadlines, lambda: asyncio.sleep(10)) for _ in range(20)]
    fast = [watched(deadlines, lambda: asyncio.sleep(0.01)) for _ in range(20)]
    results = await asyncio.gather(*slow, *fast)
    assert results == ["cut off"] * 20 + ["done"] * 20
