"""``bench/drift_cost.py`` runs and reports both lanes; the model is retrained when it
predates drift_reference.json (else the window would be measured switched off)."""

from __future__ import annotations

import shutil
from pathlib import Path

from predictor.artifact import resolve_version_dir
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME
from tests.artifact_edits import drop_listed
from tests.support import run_bench_script


def test_it_reports_the_cost_with_and_without_the_window(trained_dir: Path, tmp_path: Path):
    older = tmp_path / "models"
    shutil.copytree(trained_dir, older)
    drop_listed(resolve_version_dir(older), DRIFT_REFERENCE_FILENAME)
    out = run_bench_script("drift_cost.py", older, "--rounds", "4", "--requests", "50")
    assert "without drift window:" in out and "with drift window:" in out
    assert "added:" in out and "median of 4 paired rounds of 50" in out
    assert (resolve_version_dir(older) / DRIFT_REFERENCE_FILENAME).is_file()  # retrained
