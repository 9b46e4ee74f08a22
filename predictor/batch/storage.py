"""Where the batch CLI reads and writes: local paths (a PVC mount too) and ``s3://`` URIs.

An output is never visible half-written under its final name. A local file is written to a
hidden temporary file beside it (``.NAME.<random>.tmp``), flushed to disk and renamed over
the final name, which is atomic on one filesystem. An ``s3://`` object is uploaded in parts
of 8 MiB (a multipart upload; one PUT when it is smaller): S3 makes the object exist only
when the upload completes, all at once, and a failed run aborts the upload, so nothing
appears. S3 settings are training's (``predictor.object_store``).
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

PART_BYTES = 8 << 20
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
        return _S3Input.open(location)
    try:
        # Not a with block: the caller reads it to the end, then closes it.
        handle = open(location, "rb")  # noqa: SIM115
        status = os.fstat(handle.fileno())
    except OSError as error:
        raise InputError(f"cannot read {location}: {error.strerror or error}") from None
    return handle, status.st_size if stat.S_ISREG(status.st_mode) else None


class _S3Input(io.RawIOBase):
    """An object's body, read once from its first byte; S3 errors become InputError."""

    def __init__(self, location: str, body, endpoint: str | None):
        super().__init__()
        self._location, self._body, self._endpoint = location, body, endpoint
        self._offset = 0

    @classmethod
    def open(cls, location: str) -> tuple[_S3Input, int]:
        from botocore.exceptions import BotoCoreError, ClientError

        from predictor.object_store import s3_client, s3_endpoint

        endpoint = s3_endpoint()
        bucket, key = _bucket_key(location, InputError)
        try:
            response = s3_client(endpoint).get_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise InputError(f"cannot read {location} at {_where(endpoint)}: {error}") from None
        return cls(location, response["Body"], endpoint), int(response["ContentLength"])

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        from botocore.exceptions import BotoCoreError

        try:
            data = self._body.read(len(buffer))
        except (BotoCoreError, OSError) as error:
            raise InputError(
                f"lost {self._location} at byte {self._offset} ({_where(self._endpoint)}): {error}"
            ) from None
        buffer[: len(data)] = data
        self._offset += len(data)
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def _where(endpoint: str | None) -> str:
    return f"endpoint {endpoint or 'AWS default'}"


def _bucket_key(location: str, error: type[Exception]) -> tuple[str, str]:
    from predictor.object_store import parse_s3_uri

    try:
        bucket, key = parse_s3_uri(location)
    except ValueError as problem:
        raise error(str(problem)) from None
    if not key or key.endswith("/"):
        raise error(f"{location} names no object (expected s3://bucket/key)")
    return bucket, key


def open_sink(location: str) -> Sink:
    """A sink that publishes ``location`` on :meth:`Sink.commit`, and only then."""
    return S3Sink(location) if is_s3(location) else LocalSink(Path(location))


class Sink(io.RawIOBase):
    """A file being written; it appears under its final name only when committed."""

    location: str

    def writable(self) -> bool:
        return True

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Forget what was written (after a failure); never raises."""


class LocalSink(Sink):
    def __init__(self, path: Path):
        super().__init__()
        self.location = str(path)
        self._path = path
        self._temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
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
        self._temporary.unlink(missing_ok=True)


class S3Sink(Sink):
    def __init__(self, location: str):
        super().__init__()
        from predictor.object_store import s3_client, s3_endpoint

        self.location = location
        self._bucket, self._key = _bucket_key(location, OutputError)
        self._endpoint = s3_endpoint()
        self._client = s3_client(self._endpoint)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []

    def write(self, data) -> int:  # type: ignore[override]
        self._buffer += data
        if len(self._buffer) >= PART_BYTES:
            self._upload_part()
        return len(data)

    def _call(self, operation: str, **arguments):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, operation)(Bucket=self._bucket, Key=self._key, **arguments)
        except (BotoCoreError, ClientError) as error:
            raise OutputError(
                f"cannot write {self.location} at {_where(self._endpoint)}: {error}"
            ) from None

    def _upload_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._call("create_multipart_upload")["UploadId"]
        number = len(self._parts) + 1
        response = self._call(
            "upload_part", UploadId=self._upload_id, PartNumber=number, Body=bytes(self._buffer)
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self._buffer.clear()

    def commit(self) -> None:
        try:
            if self._upload_id is None:
                self._call("put_object", Body=bytes(self._buffer))
                return
            self._upload_part()
            self._call(
                "complete_multipart_upload",
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        except OutputError:
            self.abort()
            raise

    def abort(self) -> None:
        if self._upload_id is None:
            return
        # If even this fails, the upload stays incomplete: invisible, and a bucket lifecycle
        # rule (AbortIncompleteMultipartUpload) removes it.
        with contextlib.suppress(OutputError):
            self._call("abort_multipart_upload", UploadId=self._upload_id)
        self._upload_id = None
