"""Training data: scikit-learn's bundled WDBC set, or a user's CSV checked cell by cell.

Labels are encoded 1 = malignant (the positive class), 0 = benign. scikit-learn's bundled
target uses the opposite encoding (0 = malignant), so it is flipped here, once.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer

from training.config import DIAGNOSIS_COLUMN, DIAGNOSIS_VALUES, accepted_diagnoses

FEATURE_NAMES: tuple[str, ...] = tuple(str(name) for name in load_breast_cancer().feature_names)
# UCI's headerless wdbc.data: id, diagnosis, then the 30 features in FEATURE_NAMES order.
WDBC_COLUMN_COUNT = 2 + len(FEATURE_NAMES)
MIN_ROWS = 50
MIN_ROWS_PER_CLASS = 10
BUNDLED_SOURCE = "sklearn.datasets.load_breast_cancer"


class DataError(Exception):
    """The training data cannot be used; the message names the row and column."""


@dataclass(frozen=True)
class Dataset:
    """Features in FEATURE_NAMES order and labels (1 = malignant)."""

    features: np.ndarray
    labels: np.ndarray
    source: str

    @property
    def fingerprint(self) -> str:
        """sha256 over feature names, values and labels: same data, same fingerprint."""
        digest = hashlib.sha256()
        digest.update("\n".join(FEATURE_NAMES).encode())
        digest.update(np.ascontiguousarray(self.features, dtype="<f8").tobytes())
        digest.update(np.ascontiguousarray(self.labels, dtype="<i8").tobytes())
        return digest.hexdigest()

    @property
    def class_counts(self) -> dict[str, int]:
        malignant = int(self.labels.sum())
        return {"malignant": malignant, "benign": int(len(self.labels) - malignant)}


def load_bundled() -> Dataset:
    """Load scikit-learn's copy of the Wisconsin Diagnostic Breast Cancer data (offline)."""
    bunch = load_breast_cancer()
    labels = (bunch.target == 0).astype(np.int64)  # sklearn: 0 = malignant
    return Dataset(np.asarray(bunch.data, dtype=np.float64), labels, BUNDLED_SOURCE)


def load_csv(path: str | Path) -> Dataset:
    """Load a CSV with a header naming the 30 features and ``diagnosis``, or UCI's wdbc.data.

    Args:
        path: The CSV file.

    Returns:
        The checked dataset.

    Raises:
        DataError: Unreadable file, missing column, bad cell, one class only, too few rows.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read CSV: {error}") from error
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = [cell.strip() for cell in rows[0]]
    if DIAGNOSIS_COLUMN in (cell.lower() for cell in header):
        feature_columns, diagnosis_column, first_line = _columns_from_header(path, header)
        body = rows[1:]
    elif len(header) == WDBC_COLUMN_COUNT:
        feature_columns, diagnosis_column, first_line = list(range(2, WDBC_COLUMN_COUNT)), 1, 1
        body = rows
    else:
        raise DataError(
            f"{path}: line 1 has no '{DIAGNOSIS_COLUMN}' column and {len(header)} cells; expected "
            f"a header naming the 30 features and '{DIAGNOSIS_COLUMN}', or UCI's headerless "
            f"wdbc.data layout of {WDBC_COLUMN_COUNT} columns (id, diagnosis, 30 features)"
        )
    width = len(header)
    features = np.empty((len(body), len(FEATURE_NAMES)), dtype=np.float64)
    labels = np.empty(len(body), dtype=np.int64)
    for offset, row in enumerate(body):
        line = first_line + offset
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} cells, expected {width}")
        labels[offset] = _parse_diagnosis(path, line, row[diagnosis_column])
        for index, column in enumerate(feature_columns):
            features[offset, index] = _parse_number(path, line, FEATURE_NAMES[index], row[column])
    dataset = Dataset(features, labels, str(path))
    _check_class_balance(path, dataset)
    return dataset


def _columns_from_header(path: Path, header: list[str]) -> tuple[list[int], int, int]:
    lowered = [cell.lower() for cell in header]
    duplicates = sorted({cell for cell in header if header.count(cell) > 1})
    if duplicates:
        raise DataError(f"{path}: line 1 repeats column(s) {duplicates}")
    missing = [name for name in FEATURE_NAMES if name not in header]
    if missing:
        raise DataError(
            f"{path}: line 1 lacks feature column(s) {missing}; column names must match "
            f"scikit-learn's exactly (e.g. 'mean radius', 'worst fractal dimension')"
        )
    return [header.index(name) for name in FEATURE_NAMES], lowered.index(DIAGNOSIS_COLUMN), 2


def _parse_diagnosis(path: Path, line: int, cell: str) -> int:
    value = DIAGNOSIS_VALUES.get(cell.strip().lower())
    if value is None:
        raise DataError(
            f"{path}: line {line}, column '{DIAGNOSIS_COLUMN}': {cell!r} is not a diagnosis; "
            f"expected {accepted_diagnoses()}"
        )
    return value


def _parse_number(path: Path, line: int, column: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{path}: line {line}, column '{column}': {cell!r} is not a finite number")
    return value


def _check_class_balance(path: Path, dataset: Dataset) -> None:
    rows = len(dataset.labels)
    if rows < MIN_ROWS:
        raise DataError(f"{path}: {rows} data rows; at least {MIN_ROWS} are needed")
    for label, count in dataset.class_counts.items():
        if count == 0:
            raise DataError(f"{path}: no '{label}' rows; both classes are needed")
        if count < MIN_ROWS_PER_CLASS:
            raise DataError(
                f"{path}: only {count} '{label}' rows; at least {MIN_ROWS_PER_CLASS} are needed"
            )
