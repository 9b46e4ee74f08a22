"""Where the rows come from: a CSV or a Parquet input's shard, batch by batch, numbered.

A source has ``names`` and ``schema`` (its columns, in order), ``rows_before`` (the rows of
the file before its shard) and yields :class:`Rows`; ``close()`` releases the input. Which
reader: by the name's suffix, ``.parquet`` or ``.pq`` for Parquet, anything else CSV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Rows:
    """A batch of rows read (None: only refused rows), their 1-based row numbers in the whole
    file, and rows refused before any check (a CSV row with the wrong field count)."""

    batch: pa.RecordBatch | None
    numbers: np.ndarray
    refused: list[tuple[int, str]]


class Source(Protocol):
    location: str
    names: list[str]
    schema: pa.Schema  # every column text for a CSV
    rows_before: int

    def __iter__(self): ...

    def close(self) -> None: ...


def open_source(location: str, shards: int = 1, shard: int = 0) -> Source:
    """The reader for ``location``'s shard (its header or schema already read).

    Raises:
        InputError: The input cannot be opened, split or read.
    """
    if location.lower().endswith(PARQUET_SUFFIXES):
        from predictor.batch.parquet_source import ParquetSource

        return ParquetSource(location, shards, shard)
    from predictor.batch.csv_source import CsvSource

    return CsvSource(location, shards, shard)
