"""CSV loading: both layouts are accepted; every malformed file names the line and column."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from training.__main__ import main as training_main
from training.data import (
    DIAGNOSIS_COLUMN,
    FEATURE_NAMES,
    MIN_ROWS,
    DataError,
    load_bundled,
    load_csv,
)
from training.run import EXIT_DATA_ERROR


def write_csv(path: Path, header: list[str] | None, rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def bundled_rows(limit: int | None = None, diagnosis=("B", "M")) -> list[list]:
    data = load_bundled()
    return [
        [diagnosis[int(label)], *features]
        for features, label in zip(data.features[:limit], data.labels[:limit], strict=True)
    ]


def test_bundled_data_encodes_malignant_as_one() -> None:
    data = load_bundled()
    assert data.class_counts == {"malignant": 212, "benign": 357}
    assert data.features.shape == (569, len(FEATURE_NAMES))


def test_header_csv_in_any_column_order_matches_bundled(tmp_path: Path) -> None:
    header = [DIAGNOSIS_COLUMN, *FEATURE_NAMES]
    order = list(reversed(range(len(header))))
    rows = [[row[i] for i in order] for row in bundled_rows(diagnosis=("benign", "malignant"))]
    loaded = load_csv(write_csv(tmp_path / "data.csv", [header[i] for i in order], rows))
    bundled = load_bundled()
    np.testing.assert_allclose(loaded.features, bundled.features)
    np.testing.assert_array_equal(loaded.labels, bundled.labels)
    assert loaded.fingerprint == bundled.fingerprint


def test_uci_headerless_layout(tmp_path: Path) -> None:
    rows = [[900000 + i, *row] for i, row in enumerate(bundled_rows())]
    loaded = load_csv(write_csv(tmp_path / "wdbc.data", None, rows))
    np.testing.assert_array_equal(loaded.labels, load_bundled().labels)


def test_extra_columns_are_ignored(tmp_path: Path) -> None:
    header = ["id", DIAGNOSIS_COLUMN, *FEATURE_NAMES]
    rows = [[i, *row] for i, row in enumerate(bundled_rows())]
    assert load_csv(write_csv(tmp_path / "d.csv", header, rows)).features.shape[0] == 569


def broken(kind: str, path: Path) -> Path:
    header = [DIAGNOSIS_COLUMN, *FEATURE_NAMES]
    rows = bundled_rows(100)
    if kind == "missing column":
        return write_csv(path, header[:-1], [r[:-1] for r in rows])
    if kind == "non-numeric cell":
        rows[6][3] = "n/a"
    elif kind == "empty cell":
        rows[2][1] = ""
    elif kind == "bad diagnosis":
        rows[4][0] = "X"
    elif kind == "short row":
        rows[9] = rows[9][:10]
    elif kind == "one class":
        rows = [["B", *r[1:]] for r in rows]
    elif kind == "too few rows":
        rows = rows[: MIN_ROWS - 1]
    elif kind == "no header":
        return write_csv(path, None, [r[:5] for r in rows])
    elif kind == "empty file":
        path.write_text("")
        return path
    return write_csv(path, header, rows)


BROKEN = {
    "missing column": "lacks feature column(s) ['worst fractal dimension']",
    "non-numeric cell": "line 8, column 'mean perimeter': 'n/a' is not a finite number",
    "empty cell": "line 4, column 'mean radius': '' is not a finite number",
    "bad diagnosis": "line 6, column 'diagnosis': 'X' is not a diagnosis",
    "short row": "line 11 has 10 cells, expected 31",
    "one class": "no 'malignant' rows",
    "too few rows": f"{MIN_ROWS - 1} data rows; at least {MIN_ROWS}",
    "no header": "no 'diagnosis' column",
    "empty file": "the file is empty",
}


@pytest.mark.parametrize(("kind", "message"), BROKEN.items(), ids=BROKEN.keys())
def test_malformed_csv_is_named(tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(DataError) as raised:
        load_csv(broken(kind, tmp_path / "bad.csv"))
    assert message in str(raised.value)


def test_cli_exits_2_and_writes_nothing_on_bad_csv(tmp_path: Path, capsys) -> None:
    output = tmp_path / "out"
    code = training_main(
        ["--output", str(output), "--data", str(broken("non-numeric cell", tmp_path / "b.csv"))]
    )
    assert code == EXIT_DATA_ERROR
    assert "line 8, column 'mean perimeter'" in capsys.readouterr().err
    assert not output.exists()
