"""One server process on this machine: free ports, start, wait until ready, stop.

The one way the benchmark, the soak and the tests start a server. Every server here takes
KServe's ``--http_port`` and ``--grpc_port`` flags, is ready once
``GET /v1/models/<name>`` answers 200, and writes its output to a log file (as a container
runtime would). Each runs in its own process group, so stopping it also reaches its
``--workers`` children. Only 127.0.0.1 is ever polled.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MODEL_NAME = "breast-cancer"
READY_TIMEOUT_SECONDS = 90.0
# Cold start is measured by this poll: 20 ms keeps its error well under the ~0.1 s that
# separates two starts of the same server.
READY_POLL_SECONDS = 0.02
STOP_GRACE_SECONDS = 15.0
# Readiness polls go straight to 127.0.0.1, never through an http_proxy of the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def predictor_command(model_dir: Path, *extra: str) -> list[str]:
    """``python -m predictor`` on ``model_dir``; ports are added when it is started."""
    return [sys.executable, "-m", "predictor", "--model_dir", str(model_dir), *extra]


def port_flags(http_port: int, grpc_port: int) -> list[str]:
    return ["--http_port", str(http_port), "--grpc_port", str(grpc_port)]


@dataclass
class RunningServer:
    """A started server: its process (group leader), ports and log file."""

    process: subprocess.Popen
    http_port: int
    grpc_port: int
    log_path: Path
    ready_seconds: float = 0.0  # process start to the first 200 from the readiness path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    command: list[str],
    log_dir: Path,
    name: str = "predictor",
    cpus: str | None = None,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> RunningServer:
    """Start ``command`` on two free ports and return once its model reports ready.

    Args:
        command: the server's command line without the port flags.
        log_dir: where ``<name>-<http port>.log`` gets stdout and stderr.
        name: prefix of the log file.
        cpus: pin the server to these CPUs with ``taskset`` (``"0"``, ``"0,1"``).
        timeout: seconds to wait for readiness before the server is killed.

    Raises:
        RuntimeError: the server exited before it was ready (its log is in the message).
        TimeoutError: it was not ready in time.
    """
    http_port, grpc_port = free_port(), free_port()
    pinned = ["taskset", "-c", cpus] if cpus else []
    log_path = log_dir / f"{name}-{http_port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*pinned, *command, *port_flags(http_port, grpc_port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    server = RunningServer(process, http_port, grpc_port, log_path)
    try:
        server.ready_seconds = wait_until_ready(server.base_url, process, timeout)
    except (RuntimeError, TimeoutError) as error:
        stop_server(server, grace=0)
        raise type(error)(f"{name} {error}:\n{tail(log_path)}") from None
    except BaseException:  # interrupted: leave no server behind
        stop_server(server, grace=0)
        raise
    return server


def wait_until_ready(
    base_url: str, process: subprocess.Popen | None = None, timeout: float = READY_TIMEOUT_SECONDS
) -> float:
    """Poll ``GET /v1/models/<name>`` until it is 200; return the seconds waited."""
    started = time.monotonic()
    url = f"{base_url}/v1/models/{MODEL_NAME}"
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before it was ready")
        with (
            contextlib.suppress(OSError, urllib.error.URLError, http.client.HTTPException),
            _DIRECT.open(url, timeout=1) as response,
        ):
            if response.status == 200:
                return time.monotonic() - started
        time.sleep(READY_POLL_SECONDS)
    raise TimeoutError(f"not ready after {timeout:g} s")


def stop_server(server: RunningServer, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the server, give it ``grace`` seconds, then SIGKILL its whole process group.

    The group is killed even after a clean exit, so no ``--workers`` child outlives it.
    """
    process = server.process
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def running_server(
    command: list[str], log_dir: Path, grace: float = STOP_GRACE_SECONDS, **start: Any
) -> Iterator[RunningServer]:
    """:func:`start_server` (``start``: its keyword options), then :func:`stop_server`."""
    server = start_server(command, log_dir, **start)
    try:
        yield server
    finally:
        stop_server(server, grace)


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
