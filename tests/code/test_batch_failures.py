"""The batch CLI when it cannot complete, and the CSV edge cases it must not get wrong.

A run that cannot complete exits non-zero with one line saying why, and leaves neither
output file (nor a temporary one) behind.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from bench.batch_data import ID_COLUMN, wdbc_like
from predictor.artifact import EXIT_NO_MODEL
from predictor.batch.__main__ import EXIT_IO, EXIT_OK, EXIT_TERMINATED, main
from tests.support import ROOT


def csv_text(rows: int, seed: int = 3) -> str:
    buffer = io.BytesIO()
    pacsv.write_csv(wdbc_like(rows, seed=seed), buffer)
    return buffer.getvalue().decode()


def run(model_dir: Path, source: Path, output: Path, *extra: str) -> tuple[int, str]:
    capture = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", capture)
        code = main(["--model_dir", str(model_dir), "--input", str(source),
                     "--output", str(output), *extra], {})  # fmt: skip
    return code, capture.getvalue()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out" / "scores.csv"


def test_a_missing_feature_column_is_named(trained_dir: Path, tmp_path: Path, out: Path) -> None:
    text = csv_text(10).replace('"mean texture"', '"mean textures"', 1)
    (source := tmp_path / "in.csv").write_text(text)
    code, stderr = run(trained_dir, source, out)
    assert code == EXIT_IO
    assert f"{source} lacks feature column(s) 'mean texture'" in stderr
    assert leftovers(out.parent) == []


@pytest.mark.parametrize(
    ("header_edit", "problem"),
    [
        (lambda h: h.replace(f'"{ID_COLUMN}"', '"label"'), "has column(s) 'label', which"),
        (lambda h: h.replace(f'"{ID_COLUMN}"', '"visit_date"'), "names 'visit_date' twice"),
    ],
    ids=["clashes with an output column", "duplicated"],
)
def test_unusable_headers_are_refused(
    trained_dir: Path, tmp_path: Path, out: Path, header_edit, problem: str
) -> None:
    header, rest = csv_text(10).split("\n", 1)
    (source := tmp_path / "in.csv").write_text(header_edit(header) + "\n" + rest)
    code, stderr = run(trained_dir, source, out)
    assert code == EXIT_IO and problem in stderr
    assert leftovers(out.parent) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "No such file or directory"), ("", "is empty: expected a header row")],
    ids=["missing", "empty"],
)
def test_an_unreadable_input_is_named(
    trained_dir: Path, tmp_path: Path, out: Path, content: str | None, problem: str
) -> None:
    source = tmp_path / "in.csv"
    if content is not None:
        source.write_text(content)
    code, stderr = run(trained_dir, source, out)
    assert code == EXIT_IO and f"{source}" in stderr and problem in stderr
    assert leftovers(out.parent) == []


def test_a_file_that_breaks_midway_leaves_no_output(
    trained_dir: Path, tmp_path: Path, out: Path
) -> None:
    """Invalid UTF-8 three MiB in: the rows before it were written, then thrown away."""
    text = csv_text(12_000).encode()
    at = text.index(b"\n", 3 << 20) + 1
    broken = text[:at] + b'"\xff\xfe' + text[at + 9 :]  # the next row's id: "\xff\xfe"
    (source := tmp_path / "in.csv").write_bytes(broken)
    code, stderr = run(trained_dir, source, out)
    assert code == EXIT_IO
    assert f"cannot parse {source}" in stderr and "UTF8" in stderr
    assert leftovers(out.parent) == []


@pytest.mark.parametrize("damage", ["no model", "tampered"])
def test_a_bad_model_exits_2_like_the_predictor(
    trained_dir: Path, tmp_path: Path, out: Path, damage: str
) -> None:
    model_dir = tmp_path / "models"
    if damage == "tampered":
        shutil.copytree(trained_dir, model_dir)
        version = (model_dir / "LATEST").read_text().strip()
        (model_dir / version / "linear_model.json").write_text("{}")
    else:
        model_dir.mkdir()
    (source := tmp_path / "in.csv").write_text(csv_text(5))
    code, stderr = run(model_dir, source, out)
    assert code == EXIT_NO_MODEL
    assert ("no trained model" if damage == "no model" else "refusing to load") in stderr
    assert leftovers(out.parent) == []


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["--shards", "3"], "--shards needs --shard, or $JOB_COMPLETION_INDEX"),
        (["--shards", "3", "--shard", "3"], "--shard 3 is not below --shards 3"),
        (["--shard", "1"], "--shard needs --shards"),
        (["--shards", "2", "--shard", "0", "--errors", "e.csv"], "--errors does not go with"),
        (["--shards", "0"], "must be an integer >= 1"),
    ],
)
def test_bad_flags_exit_2_naming_the_problem(
    trained_dir: Path, tmp_path: Path, arguments: list[str], problem: str, capsys
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--model_dir", str(trained_dir), "--input", "in.csv", "--output",
              str(tmp_path / "o"), *arguments], {})  # fmt: skip
    assert exited.value.code == 2
    assert problem in capsys.readouterr().err


def test_csv_quoting_blank_lines_and_long_rows(trained_dir: Path, tmp_path: Path) -> None:
    """Quoted values (a comma, a line break, a doubled quote) pass through unchanged, a quoted
    number is a number, and blank or over-long lines are rows of their own, refused."""
    header, first, second, third, *_ = csv_text(4).splitlines()
    first = first.replace('"00000000"', '"id, with ""quotes""\nand a line break"', 1)
    fields = second.split(",")
    fields[5] = f'"{fields[5]}"'  # a quoted number
    lines = [header, first, "", ",".join(fields), third + ",extra"]
    (source := tmp_path / "in.csv").write_text("\r\n".join(lines) + "\r\n")
    output = tmp_path / "scores.csv"
    code, _ = run(trained_dir, source, output)
    assert code == EXIT_OK
    scored = list(pacsv.read_csv(output).to_pylist())
    assert [row[ID_COLUMN] for row in scored] == ['id, with "quotes"\nand a line break', "00000001"]
    refused = pacsv.read_csv(tmp_path / "scores.errors.csv").to_pylist()
    assert [row["row"] for row in refused] == [2, 4]
    assert refused[0]["message"].startswith("row 2, feature 'mean radius': expected a finite")
    assert refused[1]["message"] == "row 4: expected 32 fields, one per header column, got 33"


def run_interrupted(
    model_dir: Path, tmp_path: Path, lines: list[str], open_outputs: int, meanwhile: Callable
) -> tuple[int, str, Path]:
    """Run the CLI as a Job runs it, on a pipe that delivers the header and 19 rows, waits
    until ``open_outputs`` temporary outputs exist, calls ``meanwhile(process, output)``,
    then delivers the rest. Returns the exit code, stderr and the output's final path."""
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    output = tmp_path / "out" / "scores.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "predictor.batch", "--model_dir", str(model_dir),
         "--input", str(fifo), "--output", str(output)],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        with open(fifo, "w") as writer:
            writer.write("".join(lines[:20]))
            writer.flush()
            deadline = time.monotonic() + 60
            while len(list(output.parent.glob(".*.tmp"))) < open_outputs:
                assert time.monotonic() < deadline, "the outputs were never opened"
                time.sleep(0.05)
            meanwhile(process, output)
            writer.write("".join(lines[20:]))
        stderr = process.communicate(timeout=60)[1]
    finally:
        process.kill()
    return process.returncode, stderr, output


def test_sigterm_stops_the_run_and_leaves_no_output(trained_dir: Path, tmp_path: Path) -> None:
    """A pod being stopped mid-run, as a Job runs the command: it reads a pipe that has
    delivered the header and some rows when SIGTERM comes. (The signal is acted on when the
    reader hands back the next rows: here once the rest arrives.)"""
    lines = csv_text(50).splitlines(keepends=True)
    code, stderr, output = run_interrupted(
        trained_dir, tmp_path, lines, 1, lambda process, _: process.send_signal(signal.SIGTERM)
    )
    assert code == EXIT_TERMINATED, stderr
    assert "terminated; no output written" in stderr
    assert leftovers(output.parent) == []


def test_an_output_that_is_a_directory_is_refused_before_reading(
    trained_dir: Path, tmp_path: Path
) -> None:
    (source := tmp_path / "in.csv").write_text(csv_text(5))
    (taken := tmp_path / "scores.csv").mkdir()
    code, stderr = run(trained_dir, source, taken)
    assert code == EXIT_IO
    assert f"cannot write {taken}: it is a directory" in stderr
    assert leftovers(tmp_path) == ["in.csv", "scores.csv"]


def test_an_errors_file_that_cannot_be_written_leaves_no_output(
    trained_dir: Path, tmp_path: Path
) -> None:
    (source := tmp_path / "in.csv").write_text(csv_text(5))
    (tmp_path / "scores.errors.csv").mkdir()
    code, stderr = run(trained_dir, source, tmp_path / "scores.csv")
    assert code == EXIT_IO and "scores.errors.csv: it is a directory" in stderr
    assert leftovers(tmp_path) == ["in.csv", "scores.errors.csv"]


def test_an_output_failing_at_its_rename_takes_the_errors_file_with_it(
    trained_dir: Path, tmp_path: Path
) -> None:
    """The errors file is published first; when the output then cannot be, neither stays."""
    lines = csv_text(50).splitlines(keepends=True)
    lines[3] = lines[3].replace(",", ",x", 1)  # one refused row: the errors file has content
    # Taken by something else meanwhile: the rename will fail.
    code, stderr, output = run_interrupted(
        trained_dir, tmp_path, lines, 2, lambda _, output: output.mkdir()
    )
    assert code == EXIT_IO, stderr
    assert f"cannot write {output}" in stderr
    assert leftovers(output.parent) == ["scores.csv"]  # the directory made above, nothing else
