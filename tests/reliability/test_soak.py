"""The soak (bench/soak.py) as a test: a shorter run by default of the slow marker.

Full figures: ``uv run python bench/soak.py`` (60 s, 64 connections).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

SOAK_SECONDS = 20


@pytest.mark.slow
def test_soak_holds_at_64_connections(trained_dir: Path, tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            "--duration",
            str(SOAK_SECONDS),
            "--connections",
            "64",
            "--model-dir",
            str(trained_dir),
            "--json",
            str(figures),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SOAK_SECONDS + 120,
    )
    print(completed.stdout)
    summary = json.loads(figures.read_text())
    assert completed.returncode == 0, (summary["failures"], completed.stderr[-2000:])
    assert summary["connection_errors"] == 0
    assert summary["server_errors_5xx"] == 0
    assert summary["unexpected_statuses"] == 0
    assert summary["rss_growth_pct"] < 10
    assert summary["p99_ms"] is not None
    assert summary["requests"] > SOAK_SECONDS * 100
