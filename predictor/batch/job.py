"""One batch run: read the input's range in chunks, check, score, write both files, report.

Memory stays flat whatever the file's size: Arrow's streaming CSV reader parses 1 MiB at a
time (about 3,000 rows), every column as text; only the feature columns are converted.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from contextlib import closing
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from predictor.batch.outputs import (
    ERRORS_SCHEMA,
    SCORE_COLUMNS,
    Scorer,
    errors_batch,
    output_schema,
)
from predictor.batch.rows import RowChecker, field_count_problem
from predictor.batch.split import ShardStream, SplitError
from predictor.batch.storage import InputError, open_input, open_sink
from predictor.loader import Artifact

BLOCK_BYTES = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BatchOptions:
    """What to score, where to put it, and which shard of the input this run is."""

    input: str
    output: str
    errors: str
    shards: int = 1
    shard: int = 0
    range_margin: float = 0.0
    progress_seconds: float = 5.0


@dataclass(frozen=True)
class Summary:
    rows: int
    scored: int
    refused: int
    seconds: float
    first_row: int  # 1-based number of the shard's first row (rows_before + 1)


def report(message: str) -> None:
    print(f"[batch] {message}", file=sys.stderr, flush=True)


def score_file(options: BatchOptions, artifact: Artifact) -> Summary:
    """Score the input's shard into the output and errors files.

    Raises:
        InputError: The input cannot be read, split or used (a feature column missing, ...).
        OutputError: An output cannot be written. Nothing is left under either final name.
    """
    started = time.monotonic()
    source, size = open_input(options.input)
    with closing(source):
        if size is None and options.shards > 1:
            raise InputError(f"{options.input} is not a file of known size: it cannot be "
                             f"split into shards")  # fmt: skip
        try:
            stream = ShardStream(source, size or 0, options.shards, options.shard)
        except SplitError as error:
            raise InputError(f"cannot read {options.input}: {error}") from None
        layout = Layout(header_names(stream.header, options.input), artifact, options.input)
        output, errors = open_sink(options.output), open_sink(options.errors)
        try:
            counts = _score_stream(stream, layout, Scorer(artifact, options.range_margin),
                                   output, errors, Progress(options.progress_seconds, started),
                                   options.input)  # fmt: skip
            errors.commit()  # the output appears last: its presence means the run completed
            output.commit()
        except BaseException:
            output.abort()
            errors.abort()
            raise
    scored, refused = counts
    return Summary(scored + refused, scored, refused, time.monotonic() - started,
                   stream.rows_before + 1)  # fmt: skip


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


class Layout:
    """Which input columns are features (in the artifact's order) and which pass through."""

    def __init__(self, names: list[str], artifact: Artifact, location: str):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise InputError(f"the header of {location} names {_listed(duplicated)} twice")
        features = artifact.feature_names
        missing = [name for name in features if name not in names]
        if missing:
            raise InputError(
                f"{location} lacks feature column(s) {_listed(missing)}; the header must name "
                f"all {len(features)} features of model version {artifact.version} (any order)"
            )
        self.names = names
        self.feature_indices = [names.index(name) for name in features]
        self.passthrough_indices = [i for i, name in enumerate(names) if name not in features]
        clashing = [names[i] for i in self.passthrough_indices if names[i] in SCORE_COLUMNS]
        if clashing:
            raise InputError(
                f"{location} has column(s) {_listed(clashing)}, which the output adds: rename them"
            )
        self.schema = output_schema([names[i] for i in self.passthrough_indices])
        self.checker = RowChecker(features)


def _listed(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


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


class Progress:
    """A line on stderr at most every ``seconds``: rows done, refused so far, rate."""

    def __init__(self, seconds: float, started: float):
        self._seconds, self._started = seconds, started
        self._next = started + seconds
        self.scored = self.refused = 0

    def add(self, scored: int, refused: int) -> None:
        self.scored += scored
        self.refused += refused
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self._seconds
            rows = self.scored + self.refused
            rate = rows / max(now - self._started, 1e-9)
            report(f"{rows:,} rows: {self.scored:,} scored, {self.refused:,} refused "
                   f"({rate:,.0f} rows/s)")  # fmt: skip


def _score_stream(
    stream: ShardStream,
    layout: Layout,
    scorer: Scorer,
    output,
    errors,
    progress: Progress,
    location: str,
) -> tuple[int, int]:
    numbering = RowNumbers(stream.rows_before, len(layout.names))
    with (
        pacsv.CSVWriter(output, layout.schema) as scores_out,
        pacsv.CSVWriter(errors, ERRORS_SCHEMA) as errors_out,
    ):
        for batch in _batches(stream, layout, numbering, location):
            numbers, refused = numbering.take(batch.num_rows)
            columns = [batch.column(i) for i in layout.feature_indices]
            checked = layout.checker.check(columns, numbers)
            kept = [batch.column(i) for i in layout.passthrough_indices]
            if checked.valid is not None:
                mask = pa.array(checked.valid)
                kept = [column.filter(mask) for column in kept]
            if checked.features.shape[0]:
                scores = scorer.columns(checked.features)
                scores_out.write_batch(pa.record_batch(kept + scores, schema=layout.schema))
            refused = sorted(refused + checked.refused)
            if refused:
                errors_out.write_batch(errors_batch(refused))
            progress.add(checked.features.shape[0], len(refused))
        rest = numbering.rest()
        if rest:
            errors_out.write_batch(errors_batch(rest))
            progress.add(0, len(rest))
    return progress.scored, progress.refused


def _batches(stream: ShardStream, layout: Layout, numbering: RowNumbers, location: str):
    if stream.at_end():
        return
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            use_threads=False,  # the invalid-row handler gets row numbers only this way
            block_size=BLOCK_BYTES,
            column_names=layout.names,
        ),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True,
            ignore_empty_lines=False,  # a blank line is a row (refused), as it counts as one
            invalid_row_handler=numbering.skipped,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(layout.names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    try:
        yield from reader
    except pa.ArrowInvalid as error:
        raise InputError(f"cannot parse {location}: {error}") from None
