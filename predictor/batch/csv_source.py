"""A CSV input's shard as batches of text columns, each row numbered as in the whole file.

Arrow's streaming CSV reader parses the shard's byte range (``predictor.batch.split``) 1 MiB
at a time (about 3,000 rows), every column as text, RFC 4180 quoting (a quoted value may hold
delimiters, doubled quotes and line breaks). Records are the file's lines, blank ones included
(a blank line is a row of empty cells, so refused). A row with more or fewer fields than the
header is skipped by the reader and refused here, whole. The text must be UTF-8.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from predictor.batch.rows import field_count_problem
from predictor.batch.source import Rows
from predictor.batch.split import ShardStream, SplitError
from predictor.batch.storage import InputError, open_input

BLOCK_BYTES = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"


class CsvSource:
    """Shard ``shard`` of ``shards`` of the CSV file at ``location``."""

    def __init__(self, location: str, shards: int = 1, shard: int = 0):
        self.location = location
        self._file, size = open_input(location)
        try:
            if size is None and shards > 1:
                raise InputError(f"{location} is not a file of known size: it cannot be split "
                                 f"into shards")  # fmt: skip
            try:
                self._stream = ShardStream(self._file, size or 0, shards, shard)
            except SplitError as error:
                raise InputError(f"cannot read {location}: {error}") from None
            self.names = header_names(self._stream.header, location)
            self.schema = pa.schema([(name, pa.string()) for name in self.names])
        except BaseException:
            self._file.close()
            raise
        self.rows_before = self._stream.rows_before

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[Rows]:
        numbering = RowNumbers(self.rows_before, len(self.names))
        for batch in self._batches(numbering):
            numbers, refused = numbering.take(batch.num_rows)
            yield Rows(batch, numbers, refused)
        rest = numbering.rest()
        if rest:
            yield Rows(None, np.empty(0, dtype=np.int64), rest)

    def _batches(self, numbering: RowNumbers) -> Iterator[pa.RecordBatch]:
        if self._stream.at_end():
            return  # an empty range: the reader refuses an empty input
        reader = pacsv.open_csv(
            self._stream,
            read_options=pacsv.ReadOptions(
                use_threads=False,  # the invalid-row handler gets row numbers only this way
                block_size=BLOCK_BYTES,
                column_names=self.names,
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True,
                ignore_empty_lines=False,  # a blank line is a record: numbered, refused
                invalid_row_handler=numbering.skipped,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self.names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        try:
            yield from reader
        except pa.ArrowInvalid as error:
            raise InputError(f"cannot parse {self.location}: {error}") from None


def header_names(header: bytes, location: str) -> list[str]:
    """The column names of the header record."""
    header = header.removeprefix(UTF8_BOM)
    if not header.strip():
        raise InputError(f"{location} is empty: expected a header row naming the columns")
    try:
        table = pacsv.read_csv(
            pa.BufferReader(header),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
        )
    except pa.ArrowInvalid as error:
        raise InputError(f"cannot read the header of {location}: {error}") from None
    return table.column_names


class RowNumbers:
    """Numbers the rows the reader yields, and the ones it skipped for their field count.

    The reader skips a row whose field count differs from the header's and reports it with
    its record number in the stream; the rows it yields are the other records, in order.
    """

    def __init__(self, rows_before: int, fields: int):
        self._offset = rows_before
        self._fields = fields
        self._next = 1  # the stream's next unnumbered record
        self._skipped: deque[tuple[int, int]] = deque()

    def skipped(self, row) -> str:
        """The reader's invalid-row handler: remember the row, skip it."""
        if row.number is None:  # only a multi-threaded reader does not know it
            raise InputError("the CSV reader did not number a row with a wrong field count")
        self._skipped.append((row.number, row.actual_columns))
        return "skip"

    def take(self, count: int) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """File row numbers of the next ``count`` rows read, and the skipped rows among them."""
        start, end, skipped = self._next, self._next + count, []
        while self._skipped and self._skipped[0][0] < end:
            skipped.append(self._skipped.popleft())
            end += 1
        numbers = np.arange(start, end, dtype=np.int64)
        if skipped:
            numbers = np.delete(numbers, [number - start for number, _ in skipped])
        self._next = end
        return numbers + self._offset, self._refuse(skipped)

    def rest(self) -> list[tuple[int, str]]:
        """Skipped rows after the last row read."""
        skipped, self._skipped = list(self._skipped), deque()
        return self._refuse(skipped)

    def _refuse(self, skipped: list[tuple[int, int]]) -> list[tuple[int, str]]:
        return [
            (self._offset + n, field_count_problem(self._offset + n, self._fields, got))
            for n, got in skipped
        ]
