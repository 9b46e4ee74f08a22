"""Stock KServe servers for the canaries, started like our predictor (free ports, ready = 200)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, RunningServer, free_port, wait_until_ready

STOCK_SERVER = Path(__file__).with_name("stock_server.py")


@contextlib.contextmanager
def running_stock_server(log_dir: Path, *extra: str) -> Iterator[RunningServer]:
    """Start ``stock_server.py`` serving the model as ``breast-cancer``; stop it after."""
    http_port, grpc_port = free_port(), free_port()
    log_path = log_dir / f"stock-{http_port}.log"
    command = [
        sys.executable, str(STOCK_SERVER), "--model_name", "breast-cancer",
        "--http_port", str(http_port), "--grpc_port", str(grpc_port), *extra,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    server = RunningServer(process, http_port, grpc_port, log_path)
    try:
        wait_until_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.fixture(scope="session")
def stock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One stock server shared by the canaries that only send requests."""
    with running_stock_server(tmp_path_factory.mktemp("stock")) as server:
        yield server


@pytest.fixture
def fresh_stock(tmp_path: Path) -> Iterator[RunningServer]:
    """A stock server of its own, for canaries that change or stop it."""
    with running_stock_server(tmp_path) as server:
        yield server
