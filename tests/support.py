"""Helpers shared by the tests: example payloads and a real predictor subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
MODEL_NAME = "breast-cancer"
READY_TIMEOUT_SECONDS = 60


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES_DIR / name).read_text())


def example_index() -> list[dict]:
    return json.loads((EXAMPLES_DIR / "index.json").read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    process: subprocess.Popen
    http_port: int
    grpc_port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def predictor_command(model_dir: Path, http_port: int, grpc_port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "predictor",
        "--model_dir",
        str(model_dir),
        "--http_port",
        str(http_port),
        "--grpc_port",
        str(grpc_port),
        *extra,
    ]


@contextlib.contextmanager
def running_predictor(model_dir: Path, log_dir: Path, *extra: str) -> Iterator[RunningServer]:
    """Start ``python -m predictor`` on free ports; yield once the model reports ready."""
    http_port, grpc_port = free_port(), free_port()
    log_path = log_dir / f"predictor-{http_port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # No drain window on teardown unless a test asks for one (later flags win).
            predictor_command(model_dir, http_port, grpc_port, "--drain_seconds", "0", *extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = RunningServer(process, http_port, grpc_port, log_path)
    try:
        wait_until_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(server: RunningServer, timeout: float = READY_TIMEOUT_SECONDS) -> float:
    """Poll the model readiness endpoint; return seconds waited."""
    started = time.monotonic()
    url = f"{server.base_url}/v1/models/{MODEL_NAME}"
    while time.monotonic() - started < timeout:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"predictor exited with {server.process.returncode}:\n{server.log()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"predictor not ready after {timeout}s:\n{server.log()}")


def refuse_to_start(model_dir: Path) -> tuple[int, str, float]:
    """Start ``python -m predictor`` on a bad model directory: (exit code, output, seconds)."""
    started = time.monotonic()
    completed = subprocess.run(
        predictor_command(model_dir, free_port(), free_port()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started
