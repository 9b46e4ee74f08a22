"""Helpers shared by the tests: example payloads and a real predictor subprocess.

The subprocess is started by ``bench/process.py``, the one server starter the benchmark and
the soak use too (the tests depend on the bench's tooling, never the other way round).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench import process
from bench.process import MODEL_NAME as MODEL_NAME
from bench.process import ROOT as ROOT
from bench.process import RunningServer as RunningServer
from bench.process import free_port as free_port

EXAMPLES_DIR = ROOT / "examples"


def run_bench_script(name: str, model_dir: Path, *args: str) -> str:
    """Run ``bench/<name>`` on ``model_dir`` as a user would; its stdout (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), "--model_dir", str(model_dir), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES_DIR / name).read_text())


def example_index() -> list[dict]:
    return json.loads((EXAMPLES_DIR / "index.json").read_text())


def predictor_command(model_dir: Path, http_port: int, grpc_port: int, *extra: str) -> list[str]:
    """``python -m predictor`` on fixed ports, for tests that run it to completion."""
    ports = process.port_flags(http_port, grpc_port)
    return [*process.predictor_command(model_dir), *ports, *extra]


@contextlib.contextmanager
def running_predictor(model_dir: Path, log_dir: Path, *extra: str) -> Iterator[RunningServer]:
    """Start ``python -m predictor`` on free ports; yield once the model reports ready."""
    # No drain window on teardown unless a test asks for one (later flags win).
    command = process.predictor_command(model_dir, "--drain_seconds", "0", *extra)
    with process.running_server(command, log_dir) as server:
        yield server


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


def write_label_shuffled_csv(path: Path) -> Path:
    """The bundled data with its diagnoses shuffled: a model trained on it learns nothing."""
    import csv

    import numpy as np

    from training.data import DIAGNOSIS_COLUMN, FEATURE_NAMES, load_bundled

    data = load_bundled()
    labels = np.random.default_rng(0).permutation(data.labels)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FEATURE_NAMES, DIAGNOSIS_COLUMN])
        for row, label in zip(data.features, labels, strict=True):
            writer.writerow([*row, "M" if label else "B"])
    return path
