"""CSV files of WDBC-like rows for the batch scenario and the batch tests.

Rows are real rows of the bundled data set, each value scaled by a random factor in
[0.97, 1.03] and kept to 7 significant digits (about 330 bytes a row, so 1,000,000 rows make
a ~330 MB file), with a zero-padded ``patient_id`` (leading zeros must survive) and a
``visit_date`` around them. Written by Arrow in blocks, so a million rows take seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ID_COLUMN = "patient_id"
DATE_COLUMN = "visit_date"
SIGNIFICANT_DIGITS = 7
BLOCK_ROWS = 100_000


def feature_names() -> list[str]:
    from sklearn.datasets import load_breast_cancer

    return [str(name) for name in load_breast_cancer().feature_names]


def wdbc_like(count: int, seed: int = 0, start: int = 0) -> pa.Table:
    """``count`` rows: patient_id, the 30 features (reversed: any order is accepted), a date."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer().data
    rng = np.random.default_rng(seed + start)
    values = data[rng.integers(0, len(data), count)] * rng.uniform(0.97, 1.03, (count, 30))
    magnitude = np.floor(np.log10(np.abs(np.where(values == 0, 1, values))))
    scale = 10.0 ** (SIGNIFICANT_DIGITS - 1 - magnitude)
    values = np.round(values * scale) / scale
    numbers = np.arange(start, start + count)
    ids = pa.array([f"{number:08d}" for number in numbers.tolist()], type=pa.string())
    days = np.datetime64("2024-01-01") + (numbers % 730).astype("timedelta64[D]")
    names = feature_names()
    columns = {ID_COLUMN: ids}
    for index in reversed(range(len(names))):
        columns[names[index]] = pa.array(values[:, index])
    columns[DATE_COLUMN] = pa.array(days.astype(str))
    return pa.table(columns)


def write_wdbc_csv(path: Path, count: int, seed: int = 0) -> Path:
    """Write ``count`` WDBC-like rows to ``path`` as CSV, block by block."""
    with pacsv.CSVWriter(str(path), wdbc_like(0).schema) as writer:
        for start in range(0, count, BLOCK_ROWS):
            writer.write_table(wdbc_like(min(BLOCK_ROWS, count - start), seed, start))
    return path
