"""The training command line: its help, its argument checks, and what it does before training."""

from __future__ import annotations

import re

import pytest

from training.__main__ import main as training_main
from training.config import DIAGNOSIS_VALUES


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


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "abc"])
def test_test_size_range_is_stated_the_same_way_in_help_and_errors(
    value: str, capsys: pytest.CaptureFixture
) -> None:
    assert "in (0, 1)" in option_help(help_text(capsys), "--test-size")
    with pytest.raises(SystemExit) as exit_info:
        training_main(["--output", "unused", "--test-size", value])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"argument --test-size: must be a number in (0, 1), got '{value}'" in error
