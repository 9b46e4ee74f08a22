"""Graceful drain: after SIGTERM, keep serving with readiness 503, then stop accepting.

On the first SIGTERM (or SIGINT) readiness (``GET /v1/models/<name>``,
``/v2/models/<name>/ready``, ``/v2/health/ready``) answers 503 at once and every response
carries ``Connection: close`` so clients reconnect elsewhere, for ``drain_seconds``; only
then is the listening socket closed, requests in flight finish, and the process exits 0. A
second signal ends the drain window early.

Works around KServe 0.21: its ``ModelServer.stop()`` unloads the models while requests may
still be in flight and, with one worker, leaves the REST server to uvicorn, which closes the
socket at once (canaries: ``tests/upstream/test_shutdown.py``). So ``stop()`` is never
called here, and uvicorn's signal handling is replaced by :class:`DrainingUvicornServer`
(a subclass of KServe's private ``_RefreshingServer``, to keep its TLS refresh).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kserve.protocol.rest.server import _RefreshingServer

from predictor.serving.rejection import send_error_body
from predictor.serving.routes import route_of

logger = logging.getLogger("predictor.serving.drain")
NOT_READY = "server is shutting down: not ready for new traffic"
CLOSE = ((b"connection", b"close"),)


@dataclass
class Drain:
    """Shared by the uvicorn server (which starts it) and the middleware (which reads it)."""

    seconds: float = 0.0
    draining: bool = False
    _listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def __getstate__(self) -> dict:
        # --workers children get a copy of the REST server; listeners stay in the parent.
        return {**self.__dict__, "_listeners": []}

    def on_begin(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when the drain begins (e.g. to turn gRPC health NOT_SERVING)."""
        self._listeners.append(listener)

    def begin(self) -> bool:
        """Start draining; False when it had already started (a second signal)."""
        if self.draining:
            return False
        self.draining = True
        for listener in self._listeners:
            listener()
        return True


class DrainMiddleware:
    """While draining: readiness answers 503 and every response closes its connection."""

    def __init__(self, app: Any, drain: Drain):
        self.app = app
        self.drain = drain

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.drain.draining:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET" and route_of(scope["path"]).readiness:
            await send_error_body(send, 503, NOT_READY, CLOSE)  # a state, not a refusal
            return

        async def closing_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing_send)


class DrainingUvicornServer(_RefreshingServer):
    """uvicorn's server whose first SIGTERM/SIGINT drains before it stops accepting."""

    def __init__(self, config, drain: Drain):
        super().__init__(config)
        self.drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # The signal is deliberately not recorded in ``_captured_signals``: uvicorn would
        # re-raise it after shutting down, which runs KServe's stop() (unloads the models).
        if self.drain.begin():
            threading.Thread(target=self._exit_after_drain, args=(sig,), daemon=True).start()
            return
        if sig == signal.SIGINT and self.should_exit:
            self.force_exit = True
        self.should_exit = True

    def _exit_after_drain(self, sig: int) -> None:
        logger.info(
            "%s received: readiness is 503; serving requests for %g s more before closing "
            "the listening socket",
            signal.Signals(sig).name,
            self.drain.seconds,
        )
        time.sleep(self.drain.seconds)
        logger.info("drain window over: refusing new connections, finishing requests in flight")
        self.should_exit = True
