"""``python -m predictor.batch`` on 20,000 rows with five bad ones: what the API would say.

The reference for every score and message is the served model itself (``BreastCancerModel``
fed the same rows as V1 named instances); ``tests/integration/test_batch_api.py`` holds a
sample to a running predictor over HTTP.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from kserve.errors import InvalidInput

from bench.batch_data import DATE_COLUMN, ID_COLUMN, wdbc_like
from predictor.batch.__main__ import EXIT_OK, main
from predictor.batch.outputs import MODEL_VERSION_COLUMN, OUT_OF_RANGE_COLUMN
from predictor.model import BreastCancerModel
from tests.support import EXAMPLES_DIR, example_index, load_example

ROWS = 20_000
PROBABILITY = "probability_malignant"
# 1-based data row -> (feature, cell): a string, an empty cell, nan, inf; None: a short row.
BAD_ROWS = {
    7: ("mean area", "large"),
    4_000: ("worst texture", ""),
    9_999: ("mean radius", "nan"),
    15_000: ("mean smoothness", "inf"),
    20_000: None,
}


@dataclass(frozen=True)
class Scored:
    """One run of the CLI on the 20,000-row file."""

    input: Path
    lines: list[str]  # the input's lines, header first
    output: Path
    errors: Path
    code: int
    stderr: str


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def write_input(path: Path) -> list[str]:
    """20,000 WDBC-like rows (features in reverse order, an id first, a date last), five bad."""
    table = wdbc_like(ROWS, seed=21)
    buffer = io.BytesIO()
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, buffer)
    lines = buffer.getvalue().decode().splitlines()
    header = [name.strip('"') for name in lines[0].split(",")]
    for number, bad in BAD_ROWS.items():
        fields = lines[number].split(",")
        if bad is None:
            fields = fields[:-1]
        else:
            fields[header.index(bad[0])] = bad[1]
        lines[number] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    return lines


@pytest.fixture(scope="module")
def scored(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Scored:
    directory = tmp_path_factory.mktemp("batch")
    source = directory / "cases.csv"
    lines = write_input(source)
    output = directory / "out" / "scores.csv"
    capture = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", capture)
        code = main(["--model_dir", str(trained_dir), "--input", str(source),
                     "--output", str(output), "--progress_seconds", "0"], {})  # fmt: skip
    return Scored(source, lines, output, directory / "out" / "scores.errors.csv", code,
                  capture.getvalue())  # fmt: skip


def header_of(lines: list[str]) -> list[str]:
    return [name.strip('"') for name in lines[0].split(",")]


def instance_of(line: str, header: list[str], features: list[str]) -> dict:
    """A CSV line as the V1 named instance a client would send (the JSON notion of each cell)."""
    cells = dict(zip(header, line.split(","), strict=False))
    instance = {}
    for name in features:
        text = cells[name]
        try:
            instance[name] = float(text)
        except ValueError:
            instance[name] = None if text == "" else text
    return instance


def test_every_row_is_scored_or_refused_and_the_run_completes(scored: Scored) -> None:
    assert scored.code == EXIT_OK
    assert len(read_csv(scored.output)) == ROWS - len(BAD_ROWS) == 19_995
    assert [int(row["row"]) for row in read_csv(scored.errors)] == sorted(BAD_ROWS)
    assert "done: 20,000 rows (rows 1-20,000): 19,995 scored" in scored.stderr
    assert "5 refused" in scored.stderr
    assert "rows:" in scored.stderr and "rows/s" in scored.stderr  # a progress line
    assert not [p.name for p in scored.output.parent.iterdir() if p.name.startswith(".")]


def test_ids_and_other_columns_pass_through_unchanged_and_in_order(scored: Scored) -> None:
    header = header_of(scored.lines)
    expected = [
        line.split(",") for n, line in enumerate(scored.lines[1:], start=1) if n not in BAD_ROWS
    ]
    rows = read_csv(scored.output)
    assert list(rows[0])[:2] == [ID_COLUMN, DATE_COLUMN]
    id_at, date_at = header.index(ID_COLUMN), header.index(DATE_COLUMN)
    assert [row[ID_COLUMN] for row in rows] == [fields[id_at].strip('"') for fields in expected]
    assert [row[DATE_COLUMN] for row in rows] == [f[date_at].strip('"') for f in expected]
    assert rows[0][ID_COLUMN] == "00000000"  # leading zeros kept


def test_refused_rows_get_the_message_the_api_gives(
    scored: Scored, model: BreastCancerModel
) -> None:
    header = header_of(scored.lines)
    features = model.artifact.feature_names
    messages = {int(row["row"]): row["message"] for row in read_csv(scored.errors)}
    for number, bad in BAD_ROWS.items():
        if bad is None:
            assert messages[number] == (
                f"row {number}: expected {len(header)} fields, one per header column, "
                f"got {len(header) - 1}"
            )
            continue
        with pytest.raises(InvalidInput) as refused:
            model.preprocess({"instances": [instance_of(scored.lines[number], header, features)]})
        assert messages[number] == str(refused.value).replace("instance 0", f"row {number}")
        assert f"row {number}, feature {bad[0]!r}: expected a finite number" in messages[number]


def test_scores_labels_and_warnings_are_the_apis(scored: Scored, model: BreastCancerModel) -> None:
    header = header_of(scored.lines)
    features = model.artifact.feature_names
    good = [line for n, line in enumerate(scored.lines[1:], start=1) if n not in BAD_ROWS]
    rows = read_csv(scored.output)
    flagged = 0
    for start in range(0, len(good), 100):
        instances = [instance_of(line, header, features) for line in good[start : start + 100]]
        body = model.predict(model.preprocess({"instances": instances}))
        for prediction, row in zip(body["predictions"], rows[start : start + 100], strict=True):
            assert abs(float(row[PROBABILITY]) - prediction[PROBABILITY]) <= 1e-9
            assert row["label"] == prediction["label"]
            assert row["prediction_set"] == ",".join(prediction["prediction_set"])
            warned = [warning["feature"] for warning in prediction["warnings"]]
            assert row[OUT_OF_RANGE_COLUMN] == ";".join(warned)
            flagged += bool(warned)
            assert row[MODEL_VERSION_COLUMN] == body["model_version"]
    assert 0 < flagged < len(good)  # both kinds of rows were compared


@pytest.mark.parametrize("by_environment", [False, True], ids=["--shard", "JOB_COMPLETION_INDEX"])
def test_three_shards_cover_every_row_once(
    scored: Scored, trained_dir: Path, tmp_path: Path, by_environment: bool
) -> None:
    parts = tmp_path / "parts"
    for shard in range(3):
        arguments = ["--model_dir", str(trained_dir), "--input", str(scored.input),
                     "--output", str(parts), "--shards", "3"]  # fmt: skip
        environ = {"JOB_COMPLETION_INDEX": str(shard)} if by_environment else {}
        if not by_environment:
            arguments += ["--shard", str(shard)]
        assert main(arguments, environ) == EXIT_OK
    names = sorted(p.name for p in parts.iterdir())
    assert names == [f"part-0000{i}{kind}" for i in range(3) for kind in (".csv", ".errors.csv")]
    refused = [row for i in range(3) for row in read_csv(parts / f"part-0000{i}.errors.csv")]
    assert refused == read_csv(scored.errors)
    pieces = [read_csv(parts / f"part-0000{i}.csv") for i in range(3)]
    assert all(pieces)
    # In shard order the parts are the whole run's rows: each once, in the file's order. The
    # probabilities agree to rounding (BLAS rounds a row by its place in a batch, and a
    # shard's batches start elsewhere; the API does the same).
    whole = read_csv(scored.output)
    together = [row for piece in pieces for row in piece]
    assert [without_probability(row) for row in together] == list(map(without_probability, whole))
    for mine, theirs in zip(together, whole, strict=True):
        assert abs(float(mine[PROBABILITY]) - float(theirs[PROBABILITY])) <= 1e-12


def without_probability(row: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in row.items() if key != PROBABILITY}


def test_the_example_csv_scores_as_its_json_twins(
    trained_dir: Path, tmp_path: Path, model: BreastCancerModel
) -> None:
    """examples/cases.csv holds the rows of the example payloads (examples/README.md)."""
    output = tmp_path / "scores.csv"
    arguments = ["--input", str(EXAMPLES_DIR / "cases.csv"), "--output", str(output)]
    assert main(["--model_dir", str(trained_dir), *arguments], {}) == EXIT_OK
    rows = read_csv(output)
    batch_labels = next(
        e["labels"] for e in example_index() if e["file"] == "valid_batch_request.json"
    )
    assert [row["label"] for row in rows[:4]] == batch_labels
    assert [row["out_of_range"] for row in rows] == [""] * 5 + ["mean area"]
    with pytest.raises(InvalidInput) as refused:
        model.preprocess(load_example("invalid_type.json"))
    (error,) = read_csv(tmp_path / "scores.errors.csv")
    assert error == {"row": "7", "message": str(refused.value).replace("instance 0", "row 7")}


def test_a_run_imports_no_server_and_no_heavy_library(trained_dir: Path, tmp_path: Path) -> None:
    """Start-up is part of every shard's cost: a run on a local file with a linear model
    imports no KServe, FastAPI, scikit-learn, pandas (see predictor/batch/arrow.py) or boto3
    (imported for s3:// locations only)."""
    import subprocess
    import sys

    from tests.support import ROOT

    arguments = ["--model_dir", str(trained_dir), "--input", str(EXAMPLES_DIR / "cases.csv"),
                 "--output", str(tmp_path / "scores.csv")]  # fmt: skip
    code = (
        "import sys\n"
        "from predictor.batch.__main__ import main\n"
        f"assert main({arguments!r}, {{}}) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'kserve', 'fastapi', 'uvicorn', 'sklearn', 'pandas', 'boto3', 'botocore'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
