"""``bench/representations.py`` checks that every path gives the same answer, then times them."""

from __future__ import annotations

from pathlib import Path

from tests.support import run_bench_script


def test_it_times_every_path_beside_the_dict_path(trained_dir: Path):
    out = run_bench_script("representations.py", trained_dir, "--rounds", "2")
    rows = [line for line in out.splitlines() if line.startswith("| 1")]
    assert "| 1 | Python floats, OnePrediction |" in out
    assert sum("matrix, dict per prediction | " in row and "| 1.00x |" in row for row in rows) == 3
