"""One batch run: read the input's shard in batches, check, score, write both files, report.

Memory stays flat whatever the file's size: a batch is a few thousand rows (``csv_source``,
``parquet_source``), scored and written before the next is read.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv

from predictor.batch.outputs import (
    ERRORS_SCHEMA,
    SCORE_COLUMNS,
    Scorer,
    errors_batch,
    output_schema,
)
from predictor.batch.rows import RowChecker, numeric_kind
from predictor.batch.source import Source, open_source
from predictor.batch.storage import InputError, open_sink
from predictor.loader import Artifact


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
    source = open_source(options.input, options.shards, options.shard)
    try:
        layout = Layout(source.schema, artifact, options.input)
        sinks = []
        try:
            sinks = [open_sink(options.output)]
            sinks.append(open_sink(options.errors))
            output, errors = sinks
            scorer = Scorer(artifact, options.range_margin)
            progress = Progress(options.progress_seconds, started)
            counts = _score(source, layout, scorer, output, errors, progress)
            errors.commit()  # the output appears last: its presence means the run completed
            output.commit()
        except BaseException:
            for sink in sinks:
                sink.abort()
            raise
    finally:
        source.close()
    scored, refused = counts
    return Summary(scored + refused, scored, refused, time.monotonic() - started,
                   source.rows_before + 1)  # fmt: skip


class Layout:
    """Which input columns are features (in the artifact's order) and which pass through."""

    def __init__(self, schema: pa.Schema, artifact: Artifact, location: str):
        names = schema.names
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
        for index in self.feature_indices:
            kind = schema.field(index).type
            if numeric_kind(kind) is None:
                raise InputError(f"{location}: feature column {names[index]!r} has type "
                                 f"{kind}; expected numbers or text")  # fmt: skip
        for index in self.passthrough_indices:
            _check_writable(schema.field(index), location)
        self.schema = output_schema(
            [names[i] for i in self.passthrough_indices], artifact.prediction_sets is not None
        )
        self.checker = RowChecker(features)

    def passthrough(self, batch: pa.RecordBatch, valid: pa.Array | None) -> list[pa.Array]:
        """The passed-through columns of the valid rows, as text."""
        columns = []
        for index in self.passthrough_indices:
            column = batch.column(index)
            if valid is not None:
                column = column.filter(valid)
            columns.append(column if column.type == pa.string() else column.cast(pa.string()))
        return columns


def _check_writable(field: pa.Field, location: str) -> None:
    """A passed-through column must have a text form (a list or a struct has none)."""
    try:
        pa.array([], type=field.type).cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        raise InputError(f"{location}: column {field.name!r} has type {field.type}, which has "
                         f"no text form to pass through; leave it out") from None  # fmt: skip


def _listed(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


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


def _score(
    source: Source, layout: Layout, scorer: Scorer, output, errors, progress: Progress
) -> tuple[int, int]:
    with (
        pacsv.CSVWriter(output, layout.schema) as scores_out,
        pacsv.CSVWriter(errors, ERRORS_SCHEMA) as errors_out,
    ):
        for rows in source:
            refused, scored = list(rows.refused), 0
            if rows.batch is not None and rows.batch.num_rows:
                columns = [rows.batch.column(i) for i in layout.feature_indices]
                checked = layout.checker.check(columns, rows.numbers)
                valid = None if checked.valid is None else pa.array(checked.valid)
                scored = checked.features.shape[0]
                if scored:
                    kept = layout.passthrough(rows.batch, valid)
                    scores = scorer.columns(checked.features)
                    scores_out.write_batch(pa.record_batch(kept + scores, schema=layout.schema))
                refused = sorted(refused + checked.refused)
            if refused:
                errors_out.write_batch(errors_batch(refused))
            progress.add(scored, len(refused))
    return progress.scored, progress.refused
