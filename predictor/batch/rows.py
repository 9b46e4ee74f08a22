"""CSV rows to the float64 matrix the scorer takes, refusing rows as the API refuses instances.

Every cell arrives as text. A feature cell is a number when Arrow's string-to-float64 cast
parses it (``17.99``, ``-1e-3``, ``+5``, ``.5``; no spaces, thousands separators or decimal
commas); then, as in the API, it must also be finite. What a refused row is told uses the API's
own wording (``predictor.problems``), with the cell mapped to the JSON value a client would
have sent for it:

==========================  ================  ==================================================
cell                        JSON equivalent   message (after ``row N, feature 'mean area': ``)
==========================  ================  ==================================================
``17.99``                   ``17.99``         (scored)
``nan``, ``inf``, ``1e400``  a non-finite      ``expected a finite number, got nan`` (``inf``)
empty                       ``null``          ``expected a finite number, got null``
``large``                   ``"large"``       ``expected a finite number, got a string ("large")``
==========================  ================  ==================================================

A row with more or fewer fields than the header is refused whole (its fields cannot be matched
to columns): ``row N: expected 33 fields, one per header column, got 32``. A Parquet feature
column may also hold numbers: a null is ``null``, NaN and infinities non-finite numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from predictor.problems import MAX_REPORTED_PROBLEMS, instance_problems

# Below this many cells a failed cast is retried cell by cell instead of halved again.
CELL_BY_CELL = 8


def row_label(number: int) -> str:
    """How a row is named in messages: its 1-based data row number (the header is not one)."""
    return f"row {number}"


def field_count_problem(number: int, expected: int, got: int) -> str:
    """A row that cannot be matched to the header's columns."""
    return f"{row_label(number)}: expected {expected} fields, one per header column, got {got}"


@dataclass(frozen=True)
class CheckedRows:
    """One batch of rows: the valid ones' features, and the refused ones named."""

    features: np.ndarray  # (valid rows, features), float64, finite
    valid: np.ndarray | None  # boolean mask over the batch; None when every row is valid
    refused: list[tuple[int, str]]  # (row number, message), in row order


class RowChecker:
    """Parses and checks the feature columns of batches whose every column is text."""

    def __init__(self, feature_names: list[str]):
        self.feature_names = list(feature_names)

    def check(self, columns: list[pa.Array], numbers: np.ndarray) -> CheckedRows:
        """Check one batch.

        Args:
            columns: The feature columns, as strings, in ``feature_names`` order.
            numbers: The 1-based data row number of each row of the batch.
        """
        rows = len(numbers)
        matrix = np.empty((rows, len(columns)), dtype=np.float64)
        unparsed: dict[int, np.ndarray] = {}
        for index, column in enumerate(columns):
            values, failed = parse_numbers(column)
            matrix[:, index] = values
            if failed is not None:
                unparsed[index] = failed
        bad = ~np.isfinite(matrix).all(axis=1)
        if not bad.any():
            return CheckedRows(matrix, None, [])
        refused = [
            (int(numbers[row]), self._message(int(numbers[row]), row, matrix, columns, unparsed))
            for row in np.flatnonzero(bad).tolist()
        ]
        return CheckedRows(matrix[~bad], ~bad, refused)

    def _message(
        self,
        number: int,
        row: int,
        matrix: np.ndarray,
        columns: list[pa.Array],
        unparsed: dict[int, np.ndarray],
    ) -> str:
        """The API's message for this row sent as one named instance."""
        instance = {}
        for index, name in enumerate(self.feature_names):
            if index in unparsed and unparsed[index][row]:
                text = columns[index][row].as_py()
                instance[name] = None if text == "" else text
            else:
                instance[name] = float(matrix[row, index])
        problems = instance_problems(row_label(number), instance, self.feature_names)
        return "; ".join(problems[:MAX_REPORTED_PROBLEMS])


def numeric_kind(kind: pa.DataType) -> str | None:
    """How a feature column of this type is read: "text", "number", "boolean", or None for a
    type that holds no numbers (a date, a list...)."""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_null(kind):
        return "number"  # every value null
    return "boolean" if pa.types.is_boolean(kind) else None


def parse_numbers(column: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """A feature column as float64, and which cells did not parse (None: all did; those are
    NaN). A null in a typed column did not parse (JSON's ``null``), nor did a boolean (JSON
    has ``true``, never the number 1)."""
    kind = numeric_kind(column.type)
    if kind == "text":
        return _parse_text(column)
    if kind == "boolean":
        return np.full(len(column), np.nan), np.ones(len(column), dtype=bool)
    # Unsafe: an integer beyond 2**53 rounds, as the API's float() of a JSON integer does.
    values = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    return values, nulls if nulls.any() else None


def _parse_text(column: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """A text column as float64: one vectorised cast does a valid column; a failed one is
    halved until the cells that do not parse are found, so a few bad cells cost a few dozen
    small casts, not one per cell."""
    try:
        return _as_float(column), None
    except pa.ArrowInvalid:
        pass
    values = np.full(len(column), np.nan)
    failed = np.zeros(len(column), dtype=bool)
    pending = [(0, len(column))]
    while pending:
        start, stop = pending.pop()
        try:
            values[start:stop] = _as_float(column.slice(start, stop - start))
            continue
        except pa.ArrowInvalid:
            pass
        if stop - start > CELL_BY_CELL:
            middle = (start + stop) // 2
            pending += [(middle, stop), (start, middle)]
            continue
        for cell in range(start, stop):
            try:
                values[cell] = _as_float(column.slice(cell, 1))[0]
            except pa.ArrowInvalid:
                failed[cell] = True
    return values, failed


def _as_float(column: pa.Array) -> np.ndarray:
    return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
