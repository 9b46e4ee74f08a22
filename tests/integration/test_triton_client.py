"""The tritonclient conformance suite (``triton/check_*.py``), in a pytest of its own.

It cannot run in this process: tritonclient and KServe register the same protobuf messages
(see ``triton/conftest.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

SUITE = Path(__file__).with_name("triton")


def test_tritonclient_http_and_grpc_conformance(trained_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "--confcutdir", str(SUITE),
         "-o", "python_files=check_*.py", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TRITON_SUITE_MODEL_DIR": str(trained_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
