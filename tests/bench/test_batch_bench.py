"""``bench/batch.py``: its section of RESULTS.md, and a small run end to end (``-m slow``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.batch import HEADING, current_section, write_section
from tests.support import ROOT

OTHERS = "# Benchmark results\n\n## Targets\n\n| a |\n\n## Where the time goes\n\nprofile\n"


def test_the_section_goes_before_the_profile_and_replaces_itself(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(OTHERS)
    write_section(results, f"{HEADING}\n\nfirst run\n")
    write_section(results, f"{HEADING}\n\nsecond run\n")
    text = results.read_text()
    assert text.count(HEADING) == 1 and "first run" not in text
    assert text.index("## Targets") < text.index(HEADING) < text.index("## Where the time goes")
    assert text.replace(f"{HEADING}\n\nsecond run\n\n", "") == OTHERS
    assert current_section(results) == f"{HEADING}\n\nsecond run"


@pytest.mark.slow
def test_a_small_run_writes_its_figures(trained_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(OTHERS)
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "batch.py"), "--rows", "3000", "--repeats", "1",
         "--model_dir", str(trained_dir), "--output", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    section = current_section(results)
    assert section is not None and "3,000 WDBC-like rows" in section
    for row in ("`pandas.read_csv(path)`", "`python -m predictor.batch`", "`--shards 3 --shard 2`"):
        assert row in section
    assert "Peak RSS at most 400 MB" in section
