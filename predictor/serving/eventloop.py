"""uvloop for the single-process server, as uvicorn gives ``--workers`` children.

``ModelServer.start`` runs the server under ``asyncio.run`` (the stdlib loop); only
``--workers > 1`` children get uvicorn's ``loop="auto"`` (uvloop). Measured with
``bench/run.py`` (server CPU per request, V1 1 instance at 16 connections): 190 -> 184 us
through KServe's full stack. ``--event-loop asyncio`` keeps the stdlib loop (canary:
``tests/upstream/test_speed.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def event_loop_factory(event_loop: str = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """The loop uvicorn's ``--event-loop`` would pick: uvloop for auto/uvloop if installed.

    Use as ``asyncio.Runner(loop_factory=event_loop_factory(args.event_loop))`` in place of
    ``asyncio.run``.
    """
    if event_loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if event_loop == "uvloop":
                raise
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def use_event_loop(event_loop: str = "auto") -> None:
    """Make ``asyncio.run`` (as called by ``ModelServer.start``) use :func:`event_loop_factory`.

    For callers that cannot pass a loop factory (KServe's ``ModelServer.start`` calls
    ``asyncio.run`` itself): sets the event loop policy of this process, and a current loop,
    because ``ModelServer.setup_event_loop`` calls ``asyncio.get_event_loop()`` before
    ``asyncio.run`` (the stdlib policy creates one there; uvloop's raises instead).
    """
    if event_loop_factory(event_loop) is asyncio.new_event_loop:
        return
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(uvloop.new_event_loop())
