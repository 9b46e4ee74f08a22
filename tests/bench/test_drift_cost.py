"""``bench/drift_cost.py`` runs and reports both lanes; the model is retrained when it
predates drift_reference.json (else the window would be measured switched off)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from predictor.artifact import resolve_version_dir
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME
from tests.artifact_edits import drop_listed
from tests.support import ROOT


def test_it_reports_the_cost_with_and_without_the_window(trained_dir: Path, tmp_path: Path):
    older = tmp_path / "models"
    shutil.copytree(trained_dir, older)
    drop_listed(resolve_version_dir(older), DRIFT_REFERENCE_FILENAME)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "drift_cost.py"), "--rounds", "4",
         "--requests", "50", "--model_dir", str(older)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "without drift window:" in done.stdout and "with drift window:" in done.stdout
    assert "added:" in done.stdout and "median of 4 paired rounds of 50" in done.stdout
    assert (resolve_version_dir(older) / DRIFT_REFERENCE_FILENAME).is_file()  # retrained
