"""A Parquet input's shard as batches, each row numbered as in the whole file.

Shard ``I`` of ``N`` takes rows ``[I * rows / N, (I + 1) * rows / N)``: the file's footer says
how many rows each row group holds, so a shard reads only the row groups its rows are in, and
needs nothing from the others. Feature columns may be numbers (an integer or float type; a
null is JSON's ``null``, a NaN a non-finite number) or text (parsed as CSV cells are); other
columns pass through as their text.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from predictor.batch.source import Rows
from predictor.batch.storage import InputError, is_s3

BATCH_ROWS = 4096


class ParquetSource:
    """Shard ``shard`` of ``shards`` of the Parquet file at ``location``."""

    def __init__(self, location: str, shards: int = 1, shard: int = 0):
        self.location = location
        if is_s3(location):
            from predictor.batch.s3 import S3RangeFile

            self._file = S3RangeFile(location)
        else:
            try:
                self._file = pa.OSFile(location)
            except OSError as error:
                raise InputError(f"cannot read {location}: {error}") from None
        try:
            self._parquet = pq.ParquetFile(self._file)
        except (pa.ArrowInvalid, OSError) as error:
            self._file.close()
            raise InputError(f"cannot read {location} as Parquet: {error}") from None
        self.schema = self._parquet.schema_arrow
        self.names = self.schema.names
        total = self._parquet.metadata.num_rows
        self.rows_before = total * shard // shards
        self._stop = total * (shard + 1) // shards

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[Rows]:
        metadata = self._parquet.metadata
        group_start = 0
        for group in range(metadata.num_row_groups):
            group_rows = metadata.row_group(group).num_rows
            if group_start < self._stop and self.rows_before < group_start + group_rows:
                yield from self._group(group, group_start)
            group_start += group_rows

    def _group(self, group: int, first: int) -> Iterator[Rows]:
        """The shard's rows of one row group (which starts at file row index ``first``)."""
        try:
            for batch in self._parquet.iter_batches(
                batch_size=BATCH_ROWS, row_groups=[group], use_threads=False
            ):
                low = max(self.rows_before, first) - first
                high = min(self._stop, first + batch.num_rows) - first
                if low < high:
                    numbers = np.arange(first + low + 1, first + high + 1, dtype=np.int64)
                    yield Rows(batch.slice(low, high - low), numbers, [])
                first += batch.num_rows
        except (pa.ArrowInvalid, OSError) as error:
            raise InputError(f"cannot read {self.location}: {error}") from None
