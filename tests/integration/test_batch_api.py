"""The batch CLI against a running predictor over HTTP: a sample of rows, sent to the V1 API
as named instances, gets the same probability, label, warnings and version; refused rows get
the same message the API answers with (its "instance 0" being the file's row)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from bench.batch_data import ID_COLUMN, wdbc_like
from predictor.batch.__main__ import EXIT_OK, main
from tests.support import MODEL_NAME, RunningServer

ROWS = 1_000
# Cells made bad after writing (those JSON can carry: a string and an empty cell = null).
BAD_CELLS = {10: ("worst area", "big"), 500: ("mean symmetry", "")}


def write_cases(path: Path) -> list[str]:
    table = wdbc_like(ROWS, seed=8)
    # Every 7th row far beyond the training range in two features: the API warns about them.
    for name in ("mean area", "worst radius"):
        column = table.column(name).to_numpy().copy()
        column[::7] *= 3
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(column))
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    lines = buffer.getvalue().decode().splitlines()
    header = [name.strip('"') for name in lines[0].split(",")]
    for number, (feature, cell) in BAD_CELLS.items():
        fields = lines[number].split(",")
        fields[header.index(feature)] = cell
        lines[number] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    return lines


def instance(line: str, header: list[str], features: list[str]) -> dict:
    cells = dict(zip(header, line.split(","), strict=True))
    parsed = {}
    for name in features:
        try:
            parsed[name] = float(cells[name])
        except ValueError:
            parsed[name] = cells[name] or None
    return parsed


def test_a_sample_scores_as_the_running_api_answers(
    server: RunningServer, trained_dir: Path, artifact, tmp_path: Path
) -> None:
    lines = write_cases(tmp_path / "cases.csv")
    output = tmp_path / "scores.csv"
    arguments = ["--input", str(tmp_path / "cases.csv"), "--output", str(output)]
    assert main(["--model_dir", str(trained_dir), *arguments], {}) == EXIT_OK
    header = [name.strip('"') for name in lines[0].split(",")]
    features = artifact.feature_names
    scored = {row[ID_COLUMN]: row for row in csv.DictReader(output.open())}
    url = f"{server.base_url}/v1/models/{MODEL_NAME}:predict"
    sample = np.random.default_rng(0).choice(np.arange(1, ROWS + 1), 100, replace=False)
    good = [n for n in sorted(sample.tolist()) if n not in BAD_CELLS]
    body = httpx.post(url, json={"instances": [instance(lines[n], header, features)
                                               for n in good]}).json()  # fmt: skip
    warned = 0
    for number, prediction in zip(good, body["predictions"], strict=True):
        row = scored[lines[number].split(",")[header.index(ID_COLUMN)].strip('"')]
        assert (
            abs(float(row["probability_malignant"]) - prediction["probability_malignant"]) <= 1e-9
        )
        assert row["label"] == prediction["label"]
        expected = ";".join(warning["feature"] for warning in prediction["warnings"])
        assert row["out_of_range"] == expected
        warned += bool(expected)
        assert row["model_version"] == body["model_version"]
    assert warned > 0
    refused = {
        int(r["row"]): r["message"] for r in csv.DictReader((tmp_path / "scores.errors.csv").open())
    }
    assert sorted(refused) == sorted(BAD_CELLS)
    for number in BAD_CELLS:
        answer = httpx.post(url, json={"instances": [instance(lines[number], header, features)]})
        assert answer.status_code == 400
        assert refused[number] == answer.json()["error"].replace("instance 0", f"row {number}")
