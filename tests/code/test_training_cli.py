"""The training command line: its help, its argument checks, and what it does before training."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from training.__main__ import main as training_main
from training.config import DIAGNOSIS_VALUES
from training.run import EXIT_OK, EXIT_STORAGE_ERROR
from training.storage import STAGING_PREFIX

# What training imports, and a run that trains nothing must not.
HEAVY_MODULES = ("sklearn", "scipy", "joblib", "matplotlib", "boto3", "pandas")
IMPORTS_AFTER_MAIN = """
import sys
from training.__main__ import main
code = main(sys.argv[1:])
print(code, sorted(name for name in {heavy} if name in sys.modules))
"""


def help_text(capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as exit_info:
        training_main(["--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # one line, single spaces


def option_help(text: str, option: str) -> str:
    """The help of one option: from its flag to the next option's flag."""
    return re.search(rf"{option} [A-Z_]+ (.*?) --[a-z]", text).group(1)


def test_help_shows_only_real_defaults(capsys: pytest.CaptureFixture) -> None:
    text = help_text(capsys)
    assert "(default: None)" not in text
    assert "(default: False)" not in text
    assert "(default: 0.2)" in option_help(text, "--test-size")


def test_help_lists_every_accepted_diagnosis_label(capsys: pytest.CaptureFixture) -> None:
    data_help = option_help(help_text(capsys), "--data")
    for label in DIAGNOSIS_VALUES:
        shown = label.upper() if len(label) == 1 else label
        assert re.search(rf"\b{shown}\b", data_help), (label, data_help)


# option, what its help states, what its error says is allowed, values it refuses
NUMBER_CHECKS = [
    ("--test-size", "in (0, 1)", "a number in (0, 1)", ["0", "1", "1.5", "-0.1", "abc"]),
    ("--coverage", "in (0, 1)", "a number in (0, 1)", ["0", "1", "abc"]),
    ("--calibration-size", "in (0, 1)", "a number in (0, 1)", ["0", "1", "-0.5"]),
    ("--min-roc-auc", "in [0, 1]", "a number in [0, 1]", ["-0.1", "1.5", "nan"]),
    ("--champion-sensitivity-tolerance", "in [0, 1]", "a number in [0, 1]", ["-1", "2"]),
    (
        "--regularization",
        "a finite number > 0",
        "a finite number > 0",
        ["0", "-1", "nan", "inf", "abc"],
    ),
]


@pytest.mark.parametrize(
    ("option", "stated", "allowed", "value"),
    [
        (option, stated, allowed, value)
        for option, stated, allowed, values in NUMBER_CHECKS
        for value in values
    ],
)
def test_a_numbers_range_is_stated_the_same_way_in_help_and_errors(
    option: str, stated: str, allowed: str, value: str, capsys: pytest.CaptureFixture
) -> None:
    assert stated in option_help(help_text(capsys), option)
    with pytest.raises(SystemExit) as exit_info:
        training_main(["--output", "unused", option, value])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"argument {option}: must be {allowed}, got '{value}'" in error


def unwritable(tmp_path: Path, kind: str) -> Path:
    if kind == "proc":
        return Path("/proc/breast-cancer-models")  # the kernel's file system takes no new files
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    return blocker / "models"


@pytest.mark.parametrize("kind", ["proc", "under a file"])
def test_unwritable_destination_fails_before_training(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture
) -> None:
    destination = unwritable(tmp_path, kind)
    assert training_main(["--output", str(destination), "--no-plots"]) == EXIT_STORAGE_ERROR
    error = capsys.readouterr().err
    assert f"cannot write the model to {destination}" in error
    assert "checked before training; nothing was trained" in error
    assert "cv fold" not in error and "loaded" not in error


def test_the_write_check_leaves_nothing_behind(tmp_path: Path) -> None:
    """A run whose data is bad (exit 2) after the check creates no directory."""
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("no,diagnosis\n")
    destination = tmp_path / "new" / "models"
    assert training_main(["--output", str(destination), "--data", str(bad_csv)]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
    assert not any(p.name.startswith(STAGING_PREFIX) for p in tmp_path.rglob("*"))


def imports_of_a_run(*arguments: str) -> str:
    """Run the CLI in a fresh interpreter; its exit code and which heavy modules it imported."""
    completed = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_MAIN.format(heavy=HEAVY_MODULES), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout.strip()


def test_skip_if_present_checks_the_artifact_without_importing_training(
    trained_dir: Path,
) -> None:
    output = imports_of_a_run("--output", str(trained_dir), "--skip-if-present")
    assert output == f"{EXIT_OK} []"


def test_an_unwritable_destination_is_reported_without_importing_training(tmp_path: Path) -> None:
    destination = unwritable(tmp_path, "under a file")
    assert imports_of_a_run("--output", str(destination)) == f"{EXIT_STORAGE_ERROR} []"
