"""A real S3-protocol server (moto's) on 127.0.0.1, for the tests of everything that uses S3."""

from __future__ import annotations

from moto.server import ThreadedMotoServer

from tests.support import free_port


class MotoS3:
    """A real S3-protocol server on a fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
