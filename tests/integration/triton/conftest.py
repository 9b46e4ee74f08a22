"""A predictor for the tritonclient suite, in a process that never imports KServe.

tritonclient and KServe both register the ``inference.*`` protobuf messages (the Open
Inference Protocol's gRPC service) in protobuf's default pool, so they cannot share a
process; ``tests/integration/test_triton_client.py`` runs this directory in its own pytest.
Standalone: ``uv run pytest tests/integration/triton --confcutdir tests/integration/triton
-o python_files='check_*.py'`` (trains a model first unless TRITON_SUITE_MODEL_DIR is set).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, RunningServer, running_predictor

MODEL_DIR_ENV = "TRITON_SUITE_MODEL_DIR"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    model_dir = os.environ.get(MODEL_DIR_ENV)
    if model_dir is None:
        model_dir = str(tmp_path_factory.mktemp("models"))
        subprocess.run([sys.executable, "-m", "training", "--output", model_dir, "--no-plots"],
                       cwd=ROOT, check=True, capture_output=True, timeout=600)  # fmt: skip
    with running_predictor(
        Path(model_dir), tmp_path_factory.mktemp("logs"), "--max_instances", "100"
    ) as running:
        yield running
