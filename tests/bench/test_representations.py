"""``bench/representations.py`` checks that every path gives the same answer, then times them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_it_times_every_path_beside_the_dict_path(trained_dir: Path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "representations.py"), "--rounds", "2",
         "--model_dir", str(trained_dir)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 1")]
    assert "| 1 | Python floats, OnePrediction |" in done.stdout
    assert sum("matrix, dict per prediction | " in row and "| 1.00x |" in row for row in rows) == 3
