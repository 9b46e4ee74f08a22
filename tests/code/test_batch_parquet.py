"""Parquet input: the same rows as a CSV score the same; typed cells are refused as the API
refuses their JSON twins; shards cut on row counts."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from kserve.errors import InvalidInput

from bench.batch_data import ID_COLUMN, wdbc_like
from predictor.batch.__main__ import EXIT_IO, EXIT_OK, main
from predictor.model import BreastCancerModel

ROWS = 5_000
PROBABILITY = "probability_malignant"


def read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def score(model_dir: Path, source: Path, output: Path, *extra: str) -> int:
    arguments = ["--input", str(source), "--output", str(output), *extra]
    return main(["--model_dir", str(model_dir), *arguments], {})


def with_cell(table: pa.Table, name: str, row: int, value) -> pa.Table:
    values = table.column(name).to_pylist()
    values[row] = value
    kind = pa.string() if isinstance(value, str) else table.schema.field(name).type
    if isinstance(value, str):
        values = [v if isinstance(v, str) else repr(v) for v in values]
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values, kind))


def test_the_same_rows_score_the_same_as_csv(trained_dir: Path, tmp_path: Path) -> None:
    table = wdbc_like(ROWS, seed=13)
    pq.write_table(table, tmp_path / "cases.parquet", row_group_size=1_500)
    pacsv.write_csv(table, tmp_path / "cases.csv")
    assert score(trained_dir, tmp_path / "cases.parquet", tmp_path / "p.csv") == EXIT_OK
    assert score(trained_dir, tmp_path / "cases.csv", tmp_path / "c.csv") == EXIT_OK
    parquet, text = read(tmp_path / "p.csv"), read(tmp_path / "c.csv")
    assert len(parquet) == ROWS and [r[ID_COLUMN] for r in parquet] == [r[ID_COLUMN] for r in text]
    for mine, theirs in zip(parquet, text, strict=True):
        assert abs(float(mine.pop(PROBABILITY)) - float(theirs.pop(PROBABILITY))) <= 1e-12
        assert mine == theirs


@pytest.mark.parametrize(
    ("value", "json_value"),
    [(None, None), (math.nan, math.nan), (math.inf, math.inf), ("large", "large")],
    ids=["null", "NaN", "infinity", "text"],
)
def test_typed_cells_are_refused_as_their_json_twins(
    trained_dir: Path, tmp_path: Path, model: BreastCancerModel, value, json_value
) -> None:
    table = with_cell(wdbc_like(50, seed=2), "worst area", 9, value)
    pq.write_table(table, tmp_path / "cases.parquet")
    assert score(trained_dir, tmp_path / "cases.parquet", tmp_path / "s.csv") == EXIT_OK
    (refused,) = read(tmp_path / "s.errors.csv")
    instance = {name: table.column(name)[9].as_py() for name in model.artifact.feature_names}
    instance = {k: (float(v) if isinstance(v, str) and k != "worst area" else v)
                for k, v in instance.items()}  # fmt: skip
    instance["worst area"] = json_value
    with pytest.raises(InvalidInput) as api:
        model.preprocess({"instances": [instance]})
    assert refused == {"row": "10", "message": str(api.value).replace("instance 0", "row 10")}
    assert len(read(tmp_path / "s.csv")) == 49


def test_shards_cut_on_row_counts_across_row_groups(trained_dir: Path, tmp_path: Path) -> None:
    pq.write_table(wdbc_like(ROWS, seed=4), tmp_path / "cases.parquet", row_group_size=700)
    assert score(trained_dir, tmp_path / "cases.parquet", tmp_path / "whole.csv") == EXIT_OK
    for shard in range(3):
        assert score(trained_dir, tmp_path / "cases.parquet", tmp_path / "parts",
                     "--shards", "3", "--shard", str(shard)) == EXIT_OK  # fmt: skip
    parts = [read(tmp_path / "parts" / f"part-0000{i}.csv") for i in range(3)]
    assert [len(part) for part in parts] == [1_666, 1_667, 1_667]
    together = [row[ID_COLUMN] for part in parts for row in part]
    assert together == [row[ID_COLUMN] for row in read(tmp_path / "whole.csv")]


def test_other_columns_pass_through_as_text(trained_dir: Path, tmp_path: Path) -> None:
    table = wdbc_like(3, seed=1)
    table = table.append_column("visits", pa.array([7, None, 12], pa.int64()))
    table = table.append_column("seen", pa.array([0, 1, 2], pa.date32()))
    pq.write_table(table, tmp_path / "cases.parquet")
    assert score(trained_dir, tmp_path / "cases.parquet", tmp_path / "s.csv") == EXIT_OK
    rows = read(tmp_path / "s.csv")
    assert [(r["visits"], r["seen"]) for r in rows] == [
        ("7", "1970-01-01"), ("", "1970-01-02"), ("12", "1970-01-03")]  # fmt: skip


@pytest.mark.parametrize(
    ("column", "problem"),
    [
        (("mean area", pa.array([[1.0]] * 3)), "feature column 'mean area' has type list<"),
        (("tags", pa.array([["a"], [], ["b"]])), "column 'tags' has type list<"),
    ],
    ids=["a feature without numbers", "a column without a text form"],
)
def test_unusable_column_types_are_named(
    trained_dir: Path, tmp_path: Path, column, problem: str, capsys
) -> None:
    table = wdbc_like(3, seed=1)
    name, values = column
    if name in table.column_names:
        table = table.set_column(table.schema.get_field_index(name), name, values)
    else:
        table = table.append_column(name, values)
    pq.write_table(table, tmp_path / "cases.parquet")
    assert score(trained_dir, tmp_path / "cases.parquet", tmp_path / "s.csv") == EXIT_IO
    assert problem in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_a_file_that_is_not_parquet_is_named(trained_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "cases.parquet").write_text("id,mean radius\n1,2\n")
    assert score(trained_dir, tmp_path / "cases.parquet", tmp_path / "s.csv") == EXIT_IO
    assert f"cannot read {tmp_path / 'cases.parquet'} as Parquet" in capsys.readouterr().err
