"""Compressed request bodies (``Content-Encoding: gzip | deflate``), inflated with a bound.

NVIDIA's tritonclient and other Open Inference Protocol clients can compress requests. The
body is inflated chunk by chunk as it arrives, and never to more than the body-size limit:
a small body that would inflate past ``--max_body_bytes`` is refused as soon as it does,
without ever holding more than the limit in memory. ``deflate`` is the zlib format (RFC
9110); a raw deflate stream, which some clients send instead, is accepted too.
"""

from __future__ import annotations

import zlib

CONTENT_ENCODING = b"content-encoding"
IDENTITY = "identity"
WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
RAW_DEFLATE_BITS = -zlib.MAX_WBITS
SUPPORTED = (*WINDOW_BITS, IDENTITY)


class UnsupportedEncoding(Exception):
    """A Content-Encoding this server cannot decode (415)."""


class MalformedEncoding(Exception):
    """The body is not what its Content-Encoding says (400)."""


class InflatesTooLarge(Exception):
    """The decoded body would exceed the limit (413)."""


def content_encoding(headers) -> str | None:
    """The request's Content-Encoding to undo, or None for an uncompressed body.

    Raises:
        UnsupportedEncoding: Anything but gzip, deflate or identity (or a list of them).
    """
    for name, value in headers:
        if name == CONTENT_ENCODING:
            encoding = value.decode("latin-1").strip().lower()
            if encoding in WINDOW_BITS:
                return encoding
            if encoding in ("", IDENTITY):
                return None
            raise UnsupportedEncoding(
                f"Content-Encoding {encoding[:40]!r} is not supported; send one of "
                f"{', '.join(SUPPORTED)}"
            )
    return None


class Inflater:
    """Decodes one body, chunk by chunk, to at most ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int):
        self.encoding = encoding
        self.limit = limit
        self.size = 0
        self._decoder = zlib.decompressobj(WINDOW_BITS[encoding])
        self._started = False

    def feed(self, chunk: bytes) -> bytes:
        """The decoded bytes of the next chunk of the body."""
        try:
            data = self._decoder.decompress(chunk, self.limit - self.size + 1)
        except zlib.error as error:
            if self.encoding != "deflate" or self._started:
                raise self._malformed(error) from None
            # Not a zlib stream from its first bytes: try a raw deflate stream.
            self._decoder = zlib.decompressobj(RAW_DEFLATE_BITS)
            try:
                data = self._decoder.decompress(chunk, self.limit - self.size + 1)
            except zlib.error:
                raise self._malformed(error) from None
        self._started = True
        self.size += len(data)
        if self.size > self.limit:
            raise InflatesTooLarge
        return data

    def finish(self) -> None:
        """Check that the body held exactly one complete stream."""
        if not self._decoder.eof:
            problem = "the stream ends early"
        elif self._decoder.unused_data:
            problem = "data follows the end of the stream"
        else:
            return
        raise MalformedEncoding(
            f"request body is not valid {self.encoding} data (Content-Encoding: "
            f"{self.encoding}): {problem}"
        )

    def _malformed(self, error: zlib.error) -> MalformedEncoding:
        return MalformedEncoding(
            f"request body is not valid {self.encoding} data (Content-Encoding: "
            f"{self.encoding}): {error}"
        )


def decoded_headers(headers, length: int) -> list[tuple[bytes, bytes]]:
    """The request's headers for its decoded body: no Content-Encoding, the new length."""
    kept = [(n, v) for n, v in headers if n not in (CONTENT_ENCODING, b"content-length")]
    return [*kept, (b"content-length", str(length).encode())]
