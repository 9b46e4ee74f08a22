"""Where CSV records end, found by reading a file's bytes in order from its first one.

A record ends at a line feed outside quotes. The quoting state at a byte depends on every byte
before it, so the scanner reads from the start and tracks it at memory speed: ``bytes.count`` /
``find`` for a chunk without quotes or carriage returns, numpy for one with them.

The quoting rules are RFC 4180's, as Arrow's CSV reader applies them: a quote opens a quoted
value only at the start of a field, and closes it just before a delimiter, a line end or a
doubled quote. A quote anywhere else (``12" screen`` unquoted) is literal to the reader but
would leave the state ambiguous, and so would a line that ends with a lone carriage return
(classic Mac OS): past such a byte the scanner answers with :class:`SplitError` instead.
"""

from __future__ import annotations

import numpy as np

QUOTE, LF, CR, COMMA = ord('"'), ord("\n"), ord("\r"), ord(",")
# What may precede a quote that opens a quoted value (a doubled quote: the previous one closed),
# and follow one that closes it.
AROUND_QUOTES = np.array([COMMA, LF, CR, QUOTE], dtype=np.uint8)


class SplitError(Exception):
    """The file cannot be cut into byte ranges on record boundaries; the message says why."""


class RecordEnds:
    """Where the records of one chunk end: offsets (in the chunk) of line feeds outside quotes.

    Past a ``problem`` (a chunk offset and its SplitError) the quoting state is unknown: an
    answer that depends on bytes from there raises it. A run without shards only asks where
    the header ends, so only a sharded run is refused for a problem further on.
    """

    def __init__(
        self,
        chunk: bytes,
        positions: np.ndarray | None,
        problem: tuple[int, SplitError] | None = None,
    ):
        self._chunk = chunk
        self._positions = positions  # None: every line feed ends a record (no quotes, no CR)
        self._problem = problem

    def count_before(self, stop: int) -> int:
        if self._problem is not None and stop > self._problem[0]:
            raise self._problem[1]
        if self._positions is None:
            return self._chunk.count(b"\n", 0, stop)
        return int(np.searchsorted(self._positions, stop))

    def first_from(self, start: int) -> int | None:
        if self._positions is None:
            found = self._chunk.find(b"\n", start)
            found = None if found < 0 else found
        else:
            index = int(np.searchsorted(self._positions, start))
            found = int(self._positions[index]) if index < self._positions.size else None
        if self._problem is not None and (found is None or found >= self._problem[0]):
            raise self._problem[1]
        return found


class RecordScanner:
    """Reads a file's chunks in order from its first byte and says where records end."""

    def __init__(self) -> None:
        self.offset = 0  # file offset of the next chunk
        self._quoted = False
        self._previous = LF  # the file's start counts as a line start
        self._closing_at_end = False  # the last chunk ended on a closing quote
        self._cr_at_end = False  # ... or on a carriage return outside quotes
        self._broken: SplitError | None = None  # a problem seen: the state is unknown since

    def scan(self, chunk: bytes) -> RecordEnds:
        """The record ends in ``chunk``, the file's bytes at ``self.offset`` onwards."""
        start = self.offset
        self.offset += len(chunk)
        if self._broken is None:
            self._broken = self._carried_problem(chunk[:1], start)
        if self._broken is not None:
            return RecordEnds(chunk, np.empty(0, dtype=np.intp), (0, self._broken))
        plain = not self._quoted and b'"' not in chunk and b"\r" not in chunk
        positions, problem = (None, None) if plain else self._positions(chunk, start)
        if chunk:
            self._previous = chunk[-1]
        if problem is not None:
            self._broken = problem[1]
        return RecordEnds(chunk, positions, problem)

    def _carried_problem(self, first: bytes, offset: int) -> SplitError | None:
        """A closing quote or carriage return that ended the last chunk, judged now."""
        problem = None
        if self._closing_at_end and first and first[0] not in AROUND_QUOTES:
            problem = _stray_quote(offset - 1)
        elif self._cr_at_end and first != b"\n":
            problem = _lone_cr(offset - 1)
        self._closing_at_end = self._cr_at_end = False
        return problem

    def _positions(
        self, chunk: bytes, start: int
    ) -> tuple[np.ndarray, tuple[int, SplitError] | None]:
        data = np.frombuffer(chunk, dtype=np.uint8)
        quotes = np.flatnonzero(data == QUOTE)
        quoted_before = self._quoted
        problems = []
        if quotes.size:
            # The state before quote k is quoted_before flipped k times: even k opens a value
            # when the chunk started outside one, odd k closes it.
            opening = (np.arange(quotes.size) & 1) == int(quoted_before)
            before = np.where(quotes > 0, data[quotes - 1], self._previous)
            bad = opening & ~np.isin(before, AROUND_QUOTES)
            after_index = quotes + 1
            inside = after_index < data.size
            after = data[np.minimum(after_index, data.size - 1)]
            bad |= ~opening & inside & ~np.isin(after, AROUND_QUOTES)
            if bad.any():
                at = int(quotes[np.argmax(bad)])
                problems.append((at, _stray_quote(start + at)))
            self._closing_at_end = bool(~opening[-1] & ~inside[-1])
            self._quoted = quoted_before ^ bool(quotes.size & 1)
        feeds = np.flatnonzero(data == LF)
        feeds = feeds[self._outside(quotes, feeds, quoted_before)]
        returns = np.flatnonzero(data == CR)
        returns = returns[self._outside(quotes, returns, quoted_before)]
        if returns.size:
            follows = returns + 1
            lone = data[np.minimum(follows, data.size - 1)] != LF
            if follows[-1] == data.size:  # judged with the next chunk's first byte
                lone[-1] = False
                self._cr_at_end = True
            if lone.any():
                at = int(returns[np.argmax(lone)])
                problems.append((at, _lone_cr(start + at)))
        return feeds, min(problems, key=lambda problem: problem[0], default=None)

    @staticmethod
    def _outside(quotes: np.ndarray, positions: np.ndarray, quoted_before: bool) -> np.ndarray:
        return (np.searchsorted(quotes, positions) + int(quoted_before)) % 2 == 0


def _stray_quote(offset: int) -> SplitError:
    return SplitError(
        f"the quote character at byte {offset} is not CSV quoting (a quote opens a value "
        f"only at its start and closes it before a comma, a line end or another quote), so "
        f"the file cannot be split into shards; quote that value, or score without --shards"
    )


def _lone_cr(offset: int) -> SplitError:
    return SplitError(
        f"the line at byte {offset} ends with a lone carriage return (classic Mac OS line "
        f"ends): records must end with \\n or \\r\\n"
    )
