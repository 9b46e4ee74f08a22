"""Every setting: flag > environment variable > default, and a bad value is one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from predictor.settings import OPTIONS, Option, parse
from tests.support import ROOT

# A value each option accepts (different from its default), and what it becomes.
GOOD = {
    "model_dir": ("/models/here", Path("/models/here")),
    "max_instances": ("7", 7),
    "max_body_bytes": ("1000", 1000),
    "max_json_depth": ("8", 8),
    "request_timeout": ("2.5", 2.5),
    "drain_seconds": ("1", 1.0),
    "enable_model_repository_api": ("true", True),
    "enable_fastpath": ("false", False),
    "enable_grpc_reflection": ("1", True),
    "explain_top_k": ("3", 3),
    "range_margin": ("0.25", 0.25),
    "log_level": ("warning", "WARNING"),
    "enable_access_log": ("yes", True),
    "model_name": ("tumour", "tumour"),
    "drift_window": ("5000", 5000),
    "drift_min_instances": ("50", 50),
}
# A value each option refuses (model_dir and model_name take any text).
BAD = {
    "max_instances": "abc",
    "max_body_bytes": "16MiB",
    "max_json_depth": "0",
    "request_timeout": "-1",
    "drain_seconds": "soon",
    "enable_model_repository_api": "maybe",
    "enable_fastpath": "perhaps",
    "enable_grpc_reflection": "sometimes",
    "explain_top_k": "0",
    "range_margin": "nan",
    "log_level": "loud",
    "enable_access_log": "2",
    "drift_window": "0",
    "drift_min_instances": "many",
}


def value_of(settings, dest: str):
    """Where each option lands in the settings object."""
    for group in ("model", "limits", "server", "log"):
        part = getattr(settings, group)
        for name in (dest, {"log_level": "level", "enable_access_log": "access_log"}.get(dest)):
            if name and hasattr(part, name):
                return getattr(part, name)
    return getattr(settings, dest)


def test_every_option_is_covered_here() -> None:
    assert set(GOOD) == {option.dest for option in OPTIONS}
    assert set(BAD) == {o.dest for o in OPTIONS} - {"model_dir", "model_name"}


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.dest)
def test_default_then_environment_then_flag(option: Option) -> None:
    text, value = GOOD[option.dest]
    default = option.default if option.dest != "model_dir" else Path(option.default)
    assert value_of(parse([], {}), option.dest) == default
    assert value_of(parse([], {option.env: text}), option.dest) == value
    flag = [f"--{option.dest}"] if option.switch else [f"--{option.dest}", text]
    environment = {option.env: BAD.get(option.dest, "ignored")}
    assert value_of(parse(flag, environment), option.dest) == value


@pytest.mark.parametrize("dest", sorted(BAD))
def test_a_bad_environment_value_is_one_line_naming_variable_value_and_allowed(
    dest: str, capsys
) -> None:
    option = next(o for o in OPTIONS if o.dest == dest)
    with pytest.raises(SystemExit) as exited:
        parse([], {option.env: BAD[dest]})
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"environment variable {option.env}={BAD[dest]!r}: expected {option.allowed}" in error


@pytest.mark.parametrize(
    "dest",
    sorted(set(BAD) - {o.dest for o in OPTIONS if o.switch}),  # switches take no value
)
def test_a_bad_flag_value_is_one_line_naming_flag_value_and_allowed(dest: str, capsys) -> None:
    option = next(o for o in OPTIONS if o.dest == dest)
    with pytest.raises(SystemExit) as exited:
        parse([f"--{dest}", BAD[dest]], {})
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"--{dest}={BAD[dest]!r}: expected {option.allowed}" in error


def test_a_drift_minimum_above_the_window_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["--drift_window", "100"], {"DRIFT_MIN_INSTANCES": "101"})
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "--drift_min_instances 101: expected at most --drift_window (100)" in error


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--http_port", "x"], "--http_port"),
        (["--http_port", "70000"], "--http_port 70000"),
        (["--workers", "0"], "--workers 0"),
        (["--event-loop", "tokio"], "--event-loop"),
    ],
)
def test_kserve_server_flags_are_refused_in_one_line_too(flags, named, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(flags, {})
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error


def test_a_bad_server_flag_in_the_real_process_is_one_line_before_kserve_prints_usage() -> None:
    """``kserve.model_server`` parses sys.argv at import; the process must still say one line."""
    done = subprocess.run(
        [sys.executable, "-m", "predictor", "--http_port", "x", "--model_dir", "/nonexistent"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m predictor: error: argument --http_port: invalid int value: 'x' (see --help)"
    ]


def test_help_shows_no_default_of_none_and_names_every_variable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "predictor", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # argparse wraps lines
    assert "(default: None)" not in text
    for option in OPTIONS:
        assert f"env {option.env})" in text


def test_latency_logging_is_off_unless_asked() -> None:
    assert parse([], {}).log.latency_logging is False
    assert parse(["--enable_latency_logging", "true"], {}).log.latency_logging is True
