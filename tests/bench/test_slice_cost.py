"""``bench/slice_cost.py`` times a lone big request with and without slices, same answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_it_reports_both_servers_and_their_ratio(trained_dir: Path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "slice_cost.py"), "--rounds", "1",
         "--requests", "2", "--model_dir", str(trained_dir)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "slices (as shipped): median" in done.stdout
    assert "whole (--slice_instances 0): median" in done.stdout
    assert "same answer bytes" in done.stdout
