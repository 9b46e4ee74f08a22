"""Canary for ``predictor/serving/startup.py::import_kserve``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.upstream


def test_kserve_parses_sys_argv_when_imported_and_prints_its_usage() -> None:
    """Workaround: ``startup.import_kserve`` hides a bad argument list from that parse, so
    ``predictor.settings`` can refuse the value in one line.

    When this fails, KServe no longer parses at import: import_kserve can go.
    """
    done = subprocess.run(
        [sys.executable, "-c", "import kserve", "--http_port", "x"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("usage:")
    assert "argument --http_port: invalid int value: 'x'" in done.stderr
