"""The promotion gate through the real command line, on real artifacts in temporary dirs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from predictor.artifact import LATEST_FILENAME, METADATA_FILENAME, resolve_version_dir
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME
from predictor.linear_model import LINEAR_MODEL_FILENAME
from predictor.loader import load_artifact
from tests.artifact_edits import drop_listed, edit_json, rewrite_listed
from tests.support import write_label_shuffled_csv
from training.__main__ import main as training_main
from training.card import CARD_FILENAME
from training.data import FEATURE_NAMES
from training.package import PROMOTION_FILENAME
from training.run import EXIT_OK, EXIT_REFUSED

FAST = ["--no-plots", "--cv-folds", "2"]


@pytest.fixture(scope="module")
def shuffled_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_label_shuffled_csv(tmp_path_factory.mktemp("data") / "shuffled.csv")


@pytest.fixture
def served(trained_dir: Path, tmp_path: Path) -> Path:
    """A destination whose LATEST names a promoted model (the champion)."""
    destination = tmp_path / "models"
    shutil.copytree(trained_dir, destination)
    return destination


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def promotion_record(destination: Path) -> dict:
    return json.loads((resolve_version_dir(destination) / PROMOTION_FILENAME).read_text())


def test_a_label_shuffled_challenger_is_refused_and_nothing_changes(
    served: Path, shuffled_csv: Path, capsys: pytest.CaptureFixture
) -> None:
    before = snapshot(served)
    champion = (served / LATEST_FILENAME).read_text().strip()
    arguments = ["--output", str(served), "--data", str(shuffled_csv), *FAST]
    assert training_main(arguments) == EXIT_REFUSED
    assert snapshot(served) == before  # LATEST, every version, no new directory
    error = capsys.readouterr().err
    refusal = next(line for line in error.splitlines() if "promotion refused" in line)
    assert "promotion refused: roc_auc 0." in refusal
    assert "is below the floor 0.9500" in refusal
    assert f"compared with champion {champion} on the same hold-out rows" in error
    assert f"LATEST still names {champion}" in refusal


def test_skip_promotion_gate_promotes_and_records_that_it_did(
    served: Path, shuffled_csv: Path, capsys: pytest.CaptureFixture
) -> None:
    champion = (served / LATEST_FILENAME).read_text().strip()
    arguments = ["--output", str(served), "--data", str(shuffled_csv), *FAST, "--version", "forced"]
    assert training_main([*arguments, "--skip-promotion-gate"]) == EXIT_OK
    assert (served / LATEST_FILENAME).read_text().strip() == "forced"
    assert "promotion gate skipped (--skip-promotion-gate)" in capsys.readouterr().err
    artifact = load_artifact(served)  # promotion.json is listed in SHA256SUMS and checked
    assert artifact.version == "forced"
    record = promotion_record(served)
    assert record["version"] == "forced"
    assert record["promoted"] and record["gate_skipped"] and not record["passed"]
    assert record["champion"]["version"] == champion and record["champion"]["comparable"]
    card = (resolve_version_dir(served) / CARD_FILENAME).read_text()
    assert "Promoted with the gate skipped" in card


def test_the_first_model_is_judged_by_the_floors_and_refused_leaves_nothing(
    tmp_path: Path, shuffled_csv: Path, capsys: pytest.CaptureFixture
) -> None:
    destination = tmp_path / "empty"
    assert training_main(["--output", str(destination), "--data", str(shuffled_csv), *FAST]) == (
        EXIT_REFUSED
    )
    assert not destination.exists() or not any(destination.iterdir())
    error = capsys.readouterr().err
    assert "no champion (nothing promoted yet): judged by the floors" in error
    assert "it holds no promoted model" in error


def test_a_normal_retrain_passes_against_the_champion(
    served: Path, capsys: pytest.CaptureFixture
) -> None:
    champion = (served / LATEST_FILENAME).read_text().strip()
    assert training_main(["--output", str(served), "--no-plots", "--version", "rev-2"]) == EXIT_OK
    record = promotion_record(served)
    assert record["passed"] and not record["gate_skipped"]
    assert record["champion"]["version"] == champion and record["champion"]["comparable"]
    against = [(c["metric"], c["against"]) for c in record["checks"]]
    assert against == [
        ("roc_auc", "floor"),
        ("sensitivity", "floor"),
        ("specificity", "floor"),
        ("roc_auc", "champion"),
        ("sensitivity", "champion"),
    ]
    # Same data and seed: the same model, so the champion scores exactly what it does.
    assert record["champion"]["scores"] == record["challenger"]
    assert f"compared with champion {champion}" in capsys.readouterr().err
    card = (resolve_version_dir(served) / CARD_FILENAME).read_text()
    assert "## Promotion" in card and "**Promoted**: every check passed" in card


def test_a_tampered_champion_is_named_and_the_floors_decide(
    served: Path, capsys: pytest.CaptureFixture
) -> None:
    version_dir = resolve_version_dir(served)
    edit_json(version_dir / METADATA_FILENAME, threshold=0.99)  # SHA256SUMS not updated
    assert training_main(["--output", str(served), *FAST, "--version", "repaired"]) == EXIT_OK
    error = capsys.readouterr().err
    assert f"champion {version_dir.name} cannot be compared" in error
    assert "does not match SHA256SUMS" in error and "judged by the floors" in error
    record = promotion_record(served)
    assert record["champion"]["comparable"] is False
    assert "does not match" in record["champion"]["not_comparable"]
    assert all(check["against"] == "floor" for check in record["checks"])


def test_a_champion_with_other_features_is_not_compared(
    served: Path, capsys: pytest.CaptureFixture
) -> None:
    """A consistent artifact (every hash rewritten) whose features come in another order
    (without a drift reference, as a version trained before those could be)."""
    version_dir = resolve_version_dir(served)
    drop_listed(version_dir, DRIFT_REFERENCE_FILENAME)
    for name in (METADATA_FILENAME, LINEAR_MODEL_FILENAME):
        document = json.loads((version_dir / name).read_text())
        document["feature_names"] = document["feature_names"][::-1]
        if name == METADATA_FILENAME:
            document["feature_ranges"] = dict(reversed(document["feature_ranges"].items()))
        rewrite_listed(version_dir, name, json.dumps(document).encode())
    assert load_artifact(served).feature_names[0] == FEATURE_NAMES[-1]
    assert training_main(["--output", str(served), *FAST, "--version", "new-schema"]) == EXIT_OK
    error = capsys.readouterr().err
    assert "its feature schema differs from the challenger's: the same names in another order" in (
        error
    )
    assert promotion_record(served)["champion"]["comparable"] is False
