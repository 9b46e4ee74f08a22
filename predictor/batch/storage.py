"""Where the batch CLI reads and writes: local paths (a PVC mount too) and ``s3://`` URIs.

An output is never visible half-written under its final name. A local file is written to a
hidden temporary file beside it (``.NAME.<random>.tmp``), flushed to disk and renamed over
the final name, which is atomic on one filesystem. ``s3://`` objects: ``predictor.batch.s3``.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import uuid
from pathlib import Path
from typing import BinaryIO

from predictor.object_store import S3_SCHEME

PART_NAME = "part-{shard:05d}"
CSV_SUFFIX = ".csv"
ERRORS_SUFFIX = ".errors.csv"


class InputError(Exception):
    """The input cannot be read or used; the message names it and says why."""


class OutputError(Exception):
    """An output cannot be written; the message names it and says why."""


def is_s3(location: str) -> bool:
    return location.startswith(S3_SCHEME)


def errors_location(output: str) -> str:
    """The errors file beside the output: ``scores.csv`` -> ``scores.errors.csv``."""
    stem = output[: -len(CSV_SUFFIX)] if output.endswith(CSV_SUFFIX) else output
    return stem + ERRORS_SUFFIX


def part_locations(directory: str, shard: int) -> tuple[str, str]:
    """Shard ``shard``'s output and errors files in the output directory (or prefix)."""
    base = f"{directory.rstrip('/')}/{PART_NAME.format(shard=shard)}"
    return base + CSV_SUFFIX, base + ERRORS_SUFFIX


def open_input(location: str) -> tuple[BinaryIO, int | None]:
    """The input as a stream from its first byte, and its size in bytes (None for a pipe).

    Raises:
        InputError: It does not exist or cannot be opened (the reason named).
    """
    if is_s3(location):
        from predictor.batch.s3 import S3Input

        return S3Input.open(location)
    try:
        # Not a with block: the caller reads it to the end, then closes it.
        handle = open(location, "rb")  # noqa: SIM115
        status = os.fstat(handle.fileno())
    except OSError as error:
        raise InputError(f"cannot read {location}: {error.strerror or error}") from None
    return handle, status.st_size if stat.S_ISREG(status.st_mode) else None


def open_sink(location: str) -> Sink:
    """A sink that publishes ``location`` on :meth:`Sink.commit`, and only then."""
    if is_s3(location):
        from predictor.batch.s3 import S3Sink

        return S3Sink(location)
    return LocalSink(Path(location))


class Sink(io.RawIOBase):
    """A file being written; it appears under its final name only when committed."""

    location: str

    def writable(self) -> bool:
        return True

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Forget what was written after a failure, even once committed (the errors file
        when the output then fails: neither stays); never raises."""


class LocalSink(Sink):
    def __init__(self, path: Path):
        super().__init__()
        self.location = str(path)
        self._path = path
        self._temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
        self._committed = False
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a directory (a file is needed)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self._temporary, "wb")  # noqa: SIM115 (closed by commit or abort)
        except OSError as error:
            raise OutputError(f"cannot write {path}: {error.strerror or error}") from None

    def write(self, data) -> int:  # type: ignore[override]
        try:
            return self._file.write(data)
        except OSError as error:
            raise OutputError(f"cannot write {self._path}: {error.strerror or error}") from None

    def commit(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temporary, self._path)
            self._committed = True
            directory = os.open(self._path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            self.abort()
            raise OutputError(f"cannot write {self._path}: {error.strerror or error}") from None

    def abort(self) -> None:
        self._file.close()
        with contextlib.suppress(OSError):
            (self._path if self._committed else self._temporary).unlink(missing_ok=True)
