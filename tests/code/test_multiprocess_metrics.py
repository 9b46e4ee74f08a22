"""Multi-process metrics mode: when it turns on, and the directory it cleans or makes.

``prepare`` must run before prometheus_client is imported, so each case runs it in a fresh
interpreter (it imports only the standard library, so that costs little)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from predictor.serving.multiprocess_metrics import ENV, prepare, requested_workers
from tests.support import ROOT

PREPARE = (
    "import os, sys; from predictor.serving.multiprocess_metrics import prepare; "
    "found = prepare(sys.argv[1:]); print(found); print(os.environ.get({env!r}))"
)


def run_prepare(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k.lower() != ENV.lower()}
    return subprocess.run(
        [sys.executable, "-c", PREPARE.format(env=ENV), *argv],
        cwd=ROOT,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("argv", "workers"),
    [
        ([], 1),
        (["--workers", "2"], 2),
        (["--model_dir", "m", "--workers=3"], 3),
        (["--work", "4"], 4),  # argparse accepts an unambiguous prefix, so KServe's parser does
        (["--workers", "two"], 1),  # the full parse refuses it later, in one line
    ],
)
def test_workers_are_read_as_kserves_parser_reads_them(argv: list[str], workers: int) -> None:
    assert requested_workers(argv) == workers


def test_one_worker_without_the_variable_stays_single_process() -> None:
    result = run_prepare("--workers", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "None"]


def test_several_workers_get_a_new_directory_removed_at_exit(tmp_path: Path) -> None:
    result = run_prepare("--workers", "2", env={"TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    found, exported = result.stdout.split()
    assert found == exported and Path(found).parent == tmp_path
    assert not Path(found).exists()


def test_a_named_directory_is_emptied_of_earlier_metric_files(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"\0" * 64)
    (directory / "histogram_4243.db").write_bytes(b"\0" * 64)
    (directory / "notes.txt").write_text("not ours")
    result = run_prepare(env={ENV: str(directory)})  # on with one worker too
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(directory), str(directory)]
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]


def test_a_missing_named_directory_is_created(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "b"
    assert run_prepare(env={ENV: str(directory)}).returncode == 0
    assert directory.is_dir()


def test_an_unwritable_directory_stops_start_up_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_prepare(env={ENV: str(blocker / "metrics")})
    assert result.returncode == 2
    assert result.stderr.startswith(f"{ENV}={blocker / 'metrics'}: metrics directory must be")


def test_prepare_refuses_to_run_after_prometheus_client_was_imported() -> None:
    import prometheus_client  # noqa: F401

    with pytest.raises(RuntimeError, match="before prometheus_client is imported"):
        prepare([], {})
