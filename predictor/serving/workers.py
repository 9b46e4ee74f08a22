"""Supervision of ``--workers > 1`` REST processes that drains instead of respawning.

Works around KServe 0.21's ``RESTServerMultiProcess`` (canary:
``tests/upstream/test_workers.py``): its supervision pings each child with a *blocking* 5 s
wait on the parent's event loop and kills any child that has not answered by then, which on
a small machine kills children that are still importing (seen with 2 CPUs and 2 workers) and
respawns them in a loop, without our logging. Each child re-imports the FastAPI app
(``kserve.model_server:app``), so middleware is added where each child builds its app.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import time
from typing import Any

from kserve.protocol.dataplane import DataPlane
from kserve.protocol.rest.multiprocess.server import RESTServerMultiProcess, RESTServerProcess

logger = logging.getLogger("predictor.serving.workers")


class ServerSetupError(Exception):
    """The server cannot start with these options; the message says what to change."""


class PredictorRESTMultiProcess(RESTServerMultiProcess):
    """KServe's multi-process REST server running our REST server in each child.

    KServe's supervision pings each child with a *blocking* 5 s wait on the parent's event
    loop and kills any child that has not answered by then, which on a small machine kills
    children that are still importing (seen here with 2 CPUs and 2 workers) and respawns
    them in a loop, without our logging. Here a child is replaced when it has exited, or when
    it has not answered a ping for ``HUNG_AFTER_SECONDS`` (startup included); pings never
    block, and nothing is respawned once draining has begun.
    """

    HUNG_AFTER_SECONDS = 60.0

    def __init__(self, rest_server: Any, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rest_server = rest_server
        self.draining = False
        self._last_pong: dict[int, float] = {}
        self._ping_pending: set[int] = set()

    def begin_drain(self) -> None:
        """Tell every child to drain (they answer readiness 503 and stop after the window)."""
        self.draining = True
        for process in self._processes:
            if process.pid is not None and process._process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM)

    async def keep_subprocess_alive(self, sockets) -> None:
        now = time.monotonic()
        for index, process in enumerate(self._processes):
            if self.draining or self.should_exit.is_set():
                return  # children exit on their own after the drain window
            key = id(process)
            self._last_pong.setdefault(key, now)
            if process._process.exitcode is None:
                if self._responsive(process, key, now):
                    continue
                logger.warning(
                    "worker process [%s] has not answered for %g s: replacing it",
                    process.pid,
                    self.HUNG_AFTER_SECONDS,
                )
                process.kill()
            else:
                logger.warning(
                    "worker process [%s] exited with %s: replacing it",
                    process.pid,
                    process._process.exitcode,
                )
            self._last_pong.pop(key, None)
            self._ping_pending.discard(key)
            replacement = RESTServerProcess(
                sockets, self._rest_server.run, log_config_file=self.log_config_file
            )
            replacement.start()
            self._processes[index] = replacement
            logger.info("started worker process [%s]", replacement.pid)

    def _responsive(self, process: RESTServerProcess, key: int, now: float) -> bool:
        """Collect pongs without waiting and send the next ping; False once it is silent."""
        connection = process._parent_conn
        try:
            while connection.poll(0):
                connection.recv()
                self._last_pong[key] = now
                self._ping_pending.discard(key)
            if key not in self._ping_pending:
                connection.send(b"ping")
                self._ping_pending.add(key)
        except (OSError, EOFError):
            pass  # the pipe closed: the exit code will tell on the next round
        return now - self._last_pong[key] < self.HUNG_AFTER_SECONDS


def require_picklable(dataplane: DataPlane, workers: int) -> None:
    """``--workers > 1`` sends the loaded models to each child by pickling them: check first."""
    try:
        pickle.dumps(dataplane.model_registry)
    except Exception as error:
        raise ServerSetupError(
            f"--workers {workers} needs models that can be pickled to the worker processes, "
            f"but pickling failed ({type(error).__name__}: {error}); run with --workers 1"
        ) from error
