"""Every setting: flag > environment variable > default, and a bad value is one line, exit 2."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from kserve.model_server import parser as kserve_parser

from predictor import cli
from predictor.settings import Settings, environment_variable, is_kserve_flag
from tests.support import ROOT

FIELDS = Settings.model_fields
OURS = sorted(name for name, info in FIELDS.items() if not is_kserve_flag(info))
KSERVE = sorted(name for name, info in FIELDS.items() if is_kserve_flag(info))
# A value each setting accepts (different from its default), and what it becomes.
GOOD = {
    "model_dir": ("/models/here", Path("/models/here")),
    "model_name": ("tumour", "tumour"),
    "max_instances": ("7", 7),
    "explain_top_k": ("3", 3),
    "range_margin": ("0.25", 0.25),
    "max_body_bytes": ("1000", 1000),
    "max_json_depth": ("8", 8),
    "request_timeout": ("2.5", 2.5),
    "max_inflight_instances": ("25000", 25000),
    "slice_instances": ("0", 0),
    "drain_seconds": ("1", 1.0),
    "enable_fast_lane": ("false", False),
    "enable_model_repository_api": ("true", True),
    "enable_grpc_reflection": ("1", True),
    "auth_issuer": ("https://issuer.example", "https://issuer.example"),
    "auth_audience": ("breast-cancer", "breast-cancer"),
    "auth_allow": ("system:serviceaccount:clinic:*", "system:serviceaccount:clinic:*"),
    "auth_jwks_url": ("file:///keys/jwks.json", "file:///keys/jwks.json"),
    "auth_jwks_ca_file": ("/var/run/ca.crt", Path("/var/run/ca.crt")),
    "auth_jwks_token_file": ("/var/run/token", Path("/var/run/token")),
    "log_level": ("warning", "WARNING"),
    "enable_access_log": ("yes", True),
    "drift_window": ("5000", 5000),
    "drift_min_instances": ("50", 50),
    "http_port": ("9000", 9000),
    "grpc_port": ("9001", 9001),
    "workers": ("2", 2),
    "max_threads": ("8", 8),
    "max_asyncio_workers": ("3", 3),
    "enable_grpc": ("false", False),
    "enable_docs_url": ("true", True),
    "enable_latency_logging": ("true", True),
    "access_log_format": ("%(h)s", "%(h)s"),
    "log_config_file": ("/etc/log.yaml", "/etc/log.yaml"),
    "event_loop": ("asyncio", "asyncio"),
    "timeout_keep_alive": ("5", 5),
    "grpc_max_send_message_length": ("1024", 1024),
    "grpc_max_receive_message_length": ("2048", 2048),
    "ssl_certfile": ("/tls/cert.pem", "/tls/cert.pem"),
    "ssl_keyfile": ("/tls/key.pem", "/tls/key.pem"),
}
# The authentication settings work only together: the others a test of one of them sets.
AUTH_COMPANIONS = ("auth_issuer", "auth_audience", "auth_allow")
# A value each setting refuses, and the words that say what is allowed (text settings take any).
BAD = {
    "model_name": ("", "text"),
    "max_instances": ("abc", "an integer >= 1"),
    "explain_top_k": ("0", "an integer >= 1"),
    "range_margin": ("nan", "a number >= 0"),
    "max_body_bytes": ("16MiB", "an integer >= 1"),
    "max_json_depth": ("0", "an integer >= 1"),
    "request_timeout": ("-1", "a number >= 0"),
    "max_inflight_instances": ("0", "an integer >= 1"),
    "slice_instances": ("-1", "an integer >= 0"),
    "drain_seconds": ("soon", "a number >= 0"),
    "enable_fast_lane": ("perhaps", cli.BOOLEAN),
    "enable_model_repository_api": ("maybe", cli.BOOLEAN),
    "enable_grpc_reflection": ("sometimes", cli.BOOLEAN),
    "auth_issuer": ("", "text"),
    "log_level": ("loud", "DEBUG | INFO | WARNING | ERROR"),
    "enable_access_log": ("2", cli.BOOLEAN),
    "drift_window": ("0", "an integer >= 1"),
    "drift_min_instances": ("-3", "an integer >= 1"),
    "http_port": ("70000", "an integer between 1 and 65535"),
    "grpc_port": ("x", "an integer between 1 and 65535"),
    "workers": ("0", "an integer >= 1"),
    "event_loop": ("tokio", "auto | asyncio | uvloop"),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch) -> None:
    for name in FIELDS:
        monkeypatch.delenv(environment_variable(name), raising=False)
    monkeypatch.delenv("ENABLE_FASTPATH", raising=False)


def read(*argv: str) -> Settings:
    return cli.parse(list(argv)).settings


def test_every_setting_is_covered_here() -> None:
    assert set(GOOD) == set(FIELDS)
    assert set(BAD) <= set(FIELDS)


@pytest.mark.parametrize("name", OURS)
def test_default_then_environment_then_flag(name: str, monkeypatch) -> None:
    text, value = GOOD[name]
    assert getattr(read(), name) == FIELDS[name].default
    if name.startswith("auth_"):
        for companion in set(AUTH_COMPANIONS) - {name}:
            monkeypatch.setenv(environment_variable(companion), GOOD[companion][0])
    monkeypatch.setenv(environment_variable(name), text)
    assert getattr(read(), name) == value
    monkeypatch.setenv(environment_variable(name), BAD.get(name, ("ignored",))[0])
    assert getattr(read(cli.flag_of(name), text), name) == value


@pytest.mark.parametrize("name", KSERVE)
def test_kserve_flags_are_flags_only(name: str, monkeypatch) -> None:
    """As in KServe; and a service link such as GRPC_PORT=tcp://10.96.0.7:80 is no port."""
    text, value = GOOD[name]
    monkeypatch.setenv(environment_variable(name), "tcp://10.96.0.7:80")
    assert getattr(read(), name) == FIELDS[name].default
    assert getattr(read(cli.flag_of(name), text), name) == value


@pytest.mark.parametrize("name", sorted(set(BAD) & set(OURS)))
def test_a_bad_environment_value_is_one_line_naming_variable_value_and_allowed(
    name: str, monkeypatch, capsys
) -> None:
    text, allowed = BAD[name]
    monkeypatch.setenv(environment_variable(name), text)
    with pytest.raises(SystemExit) as exited:
        read()
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert (
        f"environment variable {environment_variable(name)}={text!r}: expected {allowed}" in error
    )


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_flag_value_is_one_line_naming_flag_value_and_allowed(name: str, capsys) -> None:
    text, allowed = BAD[name]
    with pytest.raises(SystemExit) as exited:
        read(cli.flag_of(name), text)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"{cli.flag_of(name)}={text!r}: expected {allowed}" in error


def test_switches_also_work_without_a_value() -> None:
    settings = read("--enable_access_log", "--enable_grpc_reflection")
    assert settings.enable_access_log and settings.enable_grpc_reflection


def test_the_old_name_of_the_fast_lane_still_works_and_says_it_is_deprecated(monkeypatch):
    command = cli.parse(["--enable_fastpath", "false"])
    assert command.settings.enable_fast_lane is False
    assert command.warnings == ["--enable_fastpath is deprecated: use --enable_fast_lane"]
    monkeypatch.setenv("ENABLE_FASTPATH", "false")
    command = cli.parse([])
    assert command.settings.enable_fast_lane is False
    assert command.warnings == ["ENABLE_FASTPATH is deprecated: use ENABLE_FAST_LANE"]


def test_a_misspelt_flag_is_one_line_that_suggests_the_right_one(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        read("--model-dir", "/models")
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "did you mean --model_dir?" in error


def test_a_misspelt_variable_is_a_warning_that_names_the_prefixes(monkeypatch) -> None:
    monkeypatch.setenv("MAX_INSTANCE", "1")
    monkeypatch.setenv("MODEL_STORE_SERVICE_HOST", "10.96.0.9")  # a service link: not ours
    command = cli.parse([])
    assert command.settings.max_instances == FIELDS["max_instances"].default
    [warning] = command.warnings
    assert "MAX_INSTANCE sets nothing; did you mean MAX_INSTANCES?" in warning
    assert "variables starting with AUTH_, DRAIN_, DRIFT_, ENABLE_" in warning


def test_the_effective_settings_line_names_what_changed_and_where(monkeypatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    line = cli.parse(["--max_instances", "7"]).effective()
    assert line == "settings: max_instances=7 (--max_instances), log_level=DEBUG (LOG_LEVEL)"
    monkeypatch.delenv("LOG_LEVEL")
    assert cli.parse([]).effective() == "settings: all defaults"


def test_latency_logging_is_off_unless_asked() -> None:
    """KServe's default is on; its line per request costs throughput."""
    assert read().enable_latency_logging is False
    assert read("--enable_latency_logging", "true").enable_latency_logging is True


def test_kserve_parser_still_declares_its_flags_as_we_do() -> None:
    """Canary: our declarations of KServe's flags match its parser (spelling and defaults)."""
    theirs = {action.dest: action for action in kserve_parser._actions}
    for name in KSERVE:
        assert cli.flag_of(name) in theirs[name].option_strings, name
        expected = FIELDS[name].default
        if name != "enable_latency_logging":  # ours is off on purpose
            assert theirs[name].default == expected, name


def help_text() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "predictor", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    return done.stdout


def test_help_is_short_and_names_every_setting_and_variable() -> None:
    text = help_text()
    words = " ".join(text.split())  # argparse wraps lines
    assert "(default: None)" not in words
    for name in OURS:
        assert f"env {environment_variable(name)})" in words
    for name in FIELDS:
        assert cli.flag_of(name) in words
    for transformer_only in ("--predictor_host", "--protocol", "--enable_fastpath"):
        assert transformer_only not in words
    # Four lines a setting at most, on average: KServe's transformer-only flags stay out.
    assert len(text.splitlines()) <= 4 * len(FIELDS)


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
        "python -m predictor: error: --http_port='x': expected an integer between 1 and 65535 "
        "(see --help)"
    ]


def test_the_readme_table_is_the_declaration(tmp_path) -> None:
    """predictor/README.md's settings table is rendered from the settings class."""
    readme = (ROOT / "predictor" / "README.md").read_text()
    start, end = "<!-- settings:start -->\n", "<!-- settings:end -->"
    assert start in readme, "predictor/README.md lacks the settings table markers"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    expected = cli.settings_table()
    assert table == expected, (
        "predictor/README.md's settings table is out of date; replace it with the output of "
        "`uv run python -c 'from predictor.cli import settings_table; print(settings_table(), "
        'end="")\'`'
    )


def test_parse_without_argv_reads_sys_argv(monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["predictor", "--max_instances", "3"])
    assert cli.parse().settings.max_instances == 3
    assert isinstance(cli.build_parser(), argparse.ArgumentParser)


def test_a_drift_minimum_above_the_window_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        read("--drift_window", "100", "--drift_min_instances", "200")
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "--drift_min_instances 200 must be at most --drift_window (100)" in error


AUTH = ["--auth_issuer", "https://issuer.example", "--auth_audience", "breast-cancer"]


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["--auth_audience", "breast-cancer"], "--auth_audience needs --auth_issuer"),
        (["--auth_allow", "system:*"], "--auth_allow needs --auth_issuer"),
        (["--auth_jwks_url", "file:///jwks"], "--auth_jwks_url needs --auth_issuer"),
        (["--auth_issuer", "https://issuer.example"], "--auth_issuer needs --auth_audience"),
        (AUTH, "--auth_issuer needs --auth_allow"),
        ([*AUTH, "--auth_allow", "a,,b"], "has an empty entry"),
        ([*AUTH, "--auth_allow", "system:*:reader"], "* may only end an entry"),
        ([*AUTH, "--auth_allow", "a, "], "has an empty entry"),
    ],
)
def test_authentication_settings_that_do_not_fit_are_one_line(argv, sentence, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        read(*argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and sentence in error


@pytest.mark.parametrize("allow", ["*", "system:serviceaccount:clinic:*", "a, b ,c"])
def test_readable_subject_patterns_are_accepted(allow: str) -> None:
    assert read(*AUTH, "--auth_allow", allow).auth_allow == allow
