"""Stock KServe servers for the canaries, started by the project's one server starter."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.process import running_server
from tests.support import MODEL_NAME, RunningServer

STOCK_SERVER = Path(__file__).with_name("stock_server.py")
STOCK_COMMAND = [sys.executable, str(STOCK_SERVER), "--model_name", MODEL_NAME]


@pytest.fixture(scope="session")
def stock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One stock server shared by the canaries that only send requests."""
    with running_server(STOCK_COMMAND, tmp_path_factory.mktemp("stock"), name="stock") as server:
        yield server


@pytest.fixture
def fresh_stock(tmp_path: Path) -> Iterator[RunningServer]:
    """A stock server of its own, for canaries that change or stop it."""
    with running_server(STOCK_COMMAND, tmp_path, grace=0, name="stock") as server:
        yield server
