"""Ports checked before the server starts: a port another process holds is an exit-2 line.

uvicorn fails late on a taken HTTP port (a traceback ending in "Event loop is closed", exit
3), and gRPC binds with ``SO_REUSEPORT``, so a second server on a taken gRPC port would start
without a word and take a share of the first one's calls. Each port is bound once here, as
the servers will bind it (``SO_REUSEADDR``, like uvicorn, so a port left in TIME_WAIT by an
earlier run is free), and released at once.
"""

from __future__ import annotations

import errno
import socket

from predictor.settings import Settings


class PortInUse(Exception):
    """A port the server must listen on is taken; the message names it and the flag."""


def check_ports_free(settings: Settings) -> None:
    """Raise :class:`PortInUse` for the first of the server's ports another process holds."""
    ports = [("--http_port", settings.http_port)]
    if settings.enable_grpc:
        ports.append(("--grpc_port", settings.grpc_port))
    for flag, port in ports:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("0.0.0.0", port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                reason = error.strerror
                raise PortInUse(f"cannot listen on port {port} ({flag}): {reason}") from None
            raise PortInUse(
                f"port {port} ({flag}) is already in use by another process; stop it or "
                f"choose another port with {flag}"
            ) from None
        finally:
            probe.close()
