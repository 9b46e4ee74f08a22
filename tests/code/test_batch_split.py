"""Byte-range shards of a CSV file: every record in exactly one shard, numbered as in the file.

The reference is Arrow's CSV reader over the whole file (the reader the batch CLI uses), so
the property is the one that matters: the shards' records, in shard order, are the file's.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predictor.batch import split
from predictor.batch.split import ShardStream, SplitError

NAMES = ["x", "y", "z"]
# Characters that make CSV hard: delimiters, quotes and both line ends inside values.
CELL = st.lists(st.sampled_from(["a", "1", " ", ",", '"', "\n", "\r", "\r\n"]), max_size=6).map(
    "".join
)


def records(data: bytes) -> list[tuple]:
    """Every record of headerless CSV bytes, those with a wrong field count as ("bad", text)."""
    if not data:
        return []
    found: list[tuple] = []
    bad: list[tuple] = []

    def skipped(row) -> str:
        bad.append((row.number, ("bad", row.text)))
        return "skip"

    reader = pacsv.open_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=False, column_names=NAMES),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=skipped
        ),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(NAMES, pa.string())),
    )
    for batch in reader:
        found += zip(*(batch.column(name).to_pylist() for name in NAMES), strict=True)
    for number, record in bad:  # put the skipped ones back where they were
        found.insert(number - 1, record)
    return found


def csv_bytes(rows: list[list[str]], line_end: str, final_line_end: bool) -> bytes:
    """RFC 4180: a value holding a comma, quote or line-end character is quoted."""

    def cell(value: str) -> str:
        if any(c in value for c in ',"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = line_end.join(",".join(map(cell, row)) for row in [NAMES, *rows])
    return (text + line_end if final_line_end else text).encode()


def shard_records(data: bytes, shards: int) -> tuple[list[tuple], list[int]]:
    """All shards' records in shard order, and each shard's rows_before."""
    found, before = [], []
    for index in range(shards):
        stream = ShardStream(io.BytesIO(data), len(data), shards, index)
        before.append(stream.rows_before)
        found += records(stream.read())
    return found, before


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=0, max_size=4), max_size=25),
    line_end=st.sampled_from(["\n", "\r\n"]),
    final_line_end=st.booleans(),
    chunk=st.sampled_from([7, 16, 64, 1 << 20]),
)
def test_shards_hold_every_record_once_in_order(
    rows: list[list[str]], line_end: str, final_line_end: bool, chunk: int
) -> None:
    data = csv_bytes(rows, line_end, final_line_end)
    header = ShardStream(io.BytesIO(data), len(data)).header
    whole = records(data[len(header) :])
    original, split.CHUNK_BYTES = split.CHUNK_BYTES, chunk
    try:
        for shards in (1, 2, 3, 7):
            found, before = shard_records(data, shards)
            assert found == whole
            # Each shard's first row number continues the previous shards' rows.
            sizes = [len(records(ShardStream(io.BytesIO(data), len(data), shards, i).read()))
                     for i in range(shards)]  # fmt: skip
            assert before == [sum(sizes[:i]) for i in range(shards)]
    finally:
        split.CHUNK_BYTES = original


def test_the_header_is_the_first_record_even_with_a_quoted_line_break() -> None:
    data = b'id,"note\nline two",z\r\n1,2,3\n'
    stream = ShardStream(io.BytesIO(data), len(data))
    assert stream.header == b'id,"note\nline two",z\r\n'
    assert stream.read() == b"1,2,3\n"


def test_a_shard_inside_one_long_record_is_empty() -> None:
    data = b"a,b,c\n" + b"1,2," + b"x" * 1000 + b"\n4,5,6\n"
    parts = [ShardStream(io.BytesIO(data), len(data), 10, i).read() for i in range(10)]
    assert b"".join(parts) == data[len(b"a,b,c\n") :]
    assert sum(1 for part in parts if part) == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'a,b\n1,2\n3,12" screen\n4,5\n' * 3, "is not CSV quoting"),
        (b'a,b\n1,"2"x\n3,4\n' * 3, "is not CSV quoting"),
    ],
    ids=["quote inside an unquoted value", "text after a closing quote"],
)
def test_ambiguous_quoting_is_refused_for_sharding_only(data: bytes, problem: str) -> None:
    with pytest.raises(SplitError, match=problem):
        for index in range(3):
            ShardStream(io.BytesIO(data), len(data), 3, index).read()
    # Without shards the file is one range, read as the CSV reader reads it.
    assert ShardStream(io.BytesIO(data), len(data)).read() == data.removeprefix(b"a,b\n")


def test_lines_ending_with_a_lone_carriage_return_are_refused() -> None:
    data = b"a,b\r1,2\r3,4\r"
    with pytest.raises(SplitError, match="lone carriage return"):
        ShardStream(io.BytesIO(data), len(data))
