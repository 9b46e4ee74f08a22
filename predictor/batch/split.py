"""Byte ranges of a CSV file, one per shard, that start and end on record boundaries.

Shard ``I`` of ``N`` takes the records that start in bytes ``[I * size / N, (I + 1) * size / N)``
of the file (the header excluded): each record starts in exactly one range, so the shards'
union is the whole file exactly once, and each shard parses about ``1 / N`` of it.

Finding a record's end needs the quoting state there, which only the bytes before it decide
(``predictor.batch.scan``): a shard reads the file from its first byte, tracking quotes at
memory speed, and counts the records before its range, which numbers its rows as the whole
file does. What each shard pays beyond its own part: one sequential read of the bytes before
its range (at the end of a 330 MB file, about 0.2 s from the page cache; over ``s3://``, a
download of those bytes). A file whose quoting is ambiguous cannot be split (SplitError); a
run without shards reads the whole file as one range and needs the tracking only to find the
header's end.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from predictor.batch.scan import RecordEnds, RecordScanner, SplitError

__all__ = ["CHUNK_BYTES", "ShardStream", "SplitError"]
CHUNK_BYTES = 4 << 20
MAX_HEADER_BYTES = 1 << 20


class _Cursor:
    """The chunk of the file being looked at, its offset, and where its records end."""

    def __init__(self, source: BinaryIO):
        # What one read returns, without waiting for a full chunk (a pipe delivers less).
        self.read = getattr(source, "read1", source.read)
        self._scanner = RecordScanner()
        self.chunk = b""
        self.offset = 0  # file offset of chunk[0]
        self.ends = RecordEnds(b"", None)
        # Whether the bytes read so far end with a record end (else a record is still open).
        self.ended_on_record_end = True

    def next_chunk(self) -> bool:
        """Move to the next chunk; False at the end of the file."""
        if self.chunk:
            last = len(self.chunk) - 1
            self.ended_on_record_end = self.ends.first_from(last) == last
        self.offset += len(self.chunk)
        self.chunk = self.read(CHUNK_BYTES)
        if not self.chunk:
            return False
        self.ends = self._scanner.scan(self.chunk)
        return True

    def end_from(self, position: int) -> int | None:
        """Chunk index of the first record end at file offset >= ``position`` in this chunk."""
        start = max(position - self.offset, 0)
        return self.ends.first_from(start) if start < len(self.chunk) else None

    def count_from(self, position: int, stop: int | None = None) -> int:
        """Record ends in this chunk from file offset ``position`` to chunk index ``stop``."""
        stop = len(self.chunk) if stop is None else stop
        start = min(max(position - self.offset, 0), stop)
        return self.ends.count_before(stop) - self.ends.count_before(start)

    def boundary(self, target: int, counted_from: int) -> tuple[int | None, int]:
        """The first record start at or after ``target`` (None: no record starts there
        before the end of the file) and how many records start in ``[counted_from, it)``
        (``counted_from`` being a record start itself)."""
        count = 0
        while True:
            found = self.end_from(target - 1)
            if found is not None:
                return self.offset + found + 1, count + self.count_from(counted_from, found + 1)
            count += self.count_from(counted_from)
            if not self.next_chunk():
                # The file's last record has no line end: it started before the end too.
                return None, count + (not self.ended_on_record_end)


class ShardStream(io.RawIOBase):
    """Shard ``index`` of ``shards`` of a CSV file's data records: what the CSV reader reads.

    Built from a stream positioned at the file's first byte and the file's size. ``header``
    is the header record's bytes; ``rows_before`` the number of data records before the
    range (the shard's first row is row ``rows_before + 1`` of the file).
    """

    def __init__(self, source: BinaryIO, size: int, shards: int = 1, index: int = 0):
        super().__init__()
        self._cursor = cursor = _Cursor(source)
        self.header = self._read_header()
        self.header_end = len(self.header)
        body = size - self.header_end
        start_target = self.header_end + body * index // shards
        self._end_target = self.header_end + body * (index + 1) // shards
        self.rows_before = 0
        start = self.header_end
        if start_target > self.header_end:
            found, self.rows_before = cursor.boundary(start_target, counted_from=start)
            start = size if found is None else found
        self.start = start
        self._pieces = self._range(start, last=index + 1 == shards)
        self._pending = memoryview(b"")

    def _read_header(self) -> bytes:
        """The first record (the whole file if no record ends); the cursor stays on its end."""
        cursor, pieces, found = self._cursor, [], None
        while found is None and cursor.next_chunk():
            found = cursor.end_from(cursor.offset)
            pieces.append(cursor.chunk if found is None else cursor.chunk[: found + 1])
            if found is None and cursor.offset + len(cursor.chunk) > MAX_HEADER_BYTES:
                raise SplitError(f"the first line (the header) is longer than "
                                 f"{MAX_HEADER_BYTES >> 20} MiB: is this a CSV file?")  # fmt: skip
        return b"".join(pieces)

    def _range(self, start: int, last: bool) -> Iterator[bytes]:
        """The bytes of the range, piece by piece."""
        cursor = self._cursor
        if not last and start >= self._end_target:
            return  # a record longer than the range began before it: nothing starts in it
        position = start
        while True:
            if position < cursor.offset + len(cursor.chunk):
                found = None if last else cursor.end_from(self._end_target - 1)
                stop = len(cursor.chunk) if found is None else found + 1
                yield cursor.chunk[position - cursor.offset : stop]
                if found is not None:
                    return
            if last:
                # The last shard runs to the end of the file: nothing left to look for.
                while data := cursor.read(CHUNK_BYTES):
                    yield data
                return
            if not cursor.next_chunk():
                return
            position = cursor.offset

    def readable(self) -> bool:
        return True

    def at_end(self) -> bool:
        """True when no byte of the range is left (an empty range: a CSV reader refuses it)."""
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return True
            self._pending = memoryview(piece)
        return False

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self.at_end():
            return 0
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
