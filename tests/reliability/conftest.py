"""A predictor with explicit limits, shared by the reliability tests of one session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import RunningServer, running_predictor

# Small enough that the edge tests are quick; the defaults are tested through the flags.
INSTANCE_LIMIT = 100
TIMEOUT_SECONDS = 1.5


@pytest.fixture(scope="session")
def guarded_server(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    """Default body-size and depth limits, 100 instances, a 1.5 s request timeout."""
    with running_predictor(
        trained_dir,
        tmp_path_factory.mktemp("guarded"),
        "--max_instances",
        str(INSTANCE_LIMIT),
        "--request_timeout",
        str(TIMEOUT_SECONDS),
        "--drain_seconds",
        "0",
    ) as running:
        yield running
