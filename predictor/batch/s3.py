"""``s3://`` inputs and outputs of the batch CLI, with training's S3 settings and client.

An output object is uploaded in parts of 8 MiB as it is written (a multipart upload; one PUT
when it is smaller): S3 makes the object exist only when the upload completes, all at once,
and a failed run aborts the upload, so nothing appears under the key. A CSV input is read once,
in order, from its first byte; a Parquet input is read where the reader asks (ranged GETs).
"""

from __future__ import annotations

import contextlib
import io

from predictor.batch.storage import InputError, OutputError, Sink
from predictor.object_store import parse_s3_uri, s3_client, s3_endpoint

PART_BYTES = 8 << 20


def _where(endpoint: str | None) -> str:
    return f"endpoint {endpoint or 'AWS default'}"


def _bucket_key(location: str, error: type[Exception]) -> tuple[str, str]:
    try:
        bucket, key = parse_s3_uri(location)
    except ValueError as problem:
        raise error(str(problem)) from None
    if not key or key.endswith("/"):
        raise error(f"{location} names no object (expected s3://bucket/key)")
    return bucket, key


class S3Input(io.RawIOBase):
    """An object's body, read once from its first byte; S3 errors become InputError."""

    def __init__(self, location: str, body, endpoint: str | None):
        super().__init__()
        self._location, self._body, self._endpoint = location, body, endpoint
        self._offset = 0

    @classmethod
    def open(cls, location: str) -> tuple[S3Input, int]:
        from botocore.exceptions import BotoCoreError, ClientError

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


class S3Sink(Sink):
    def __init__(self, location: str):
        super().__init__()
        self.location = location
        self._bucket, self._key = _bucket_key(location, OutputError)
        self._endpoint = s3_endpoint()
        self._client = s3_client(self._endpoint)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self._committed = False

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
            else:
                self._upload_part()
                self._call(
                    "complete_multipart_upload",
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self._upload_id = None
        except OutputError:
            self.abort()
            raise
        self._committed = True

    def abort(self) -> None:
        # If this fails too, an upload stays incomplete: invisible, and a bucket lifecycle rule
        # (AbortIncompleteMultipartUpload) removes it.
        with contextlib.suppress(OutputError):
            if self._committed:
                self._call("delete_object")
            elif self._upload_id is not None:
                self._call("abort_multipart_upload", UploadId=self._upload_id)
        self._upload_id = None


class S3RangeFile(io.RawIOBase):
    """An object read where its reader asks, one ranged GET per read (a Parquet file: its
    footer, then the column chunks of the row groups of a shard)."""

    def __init__(self, location: str):
        super().__init__()
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors = (BotoCoreError, ClientError)
        self._location = location
        self._endpoint = s3_endpoint()
        self._bucket, self._key = _bucket_key(location, InputError)
        self._client = s3_client(self._endpoint)
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=self._key)
        except self._errors as error:
            raise InputError(
                f"cannot read {location} at {_where(self._endpoint)}: {error}"
            ) from None
        self._size = int(head["ContentLength"])
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def readinto(self, buffer) -> int:  # type: ignore[override]
        count = min(len(buffer), self._size - self._position)
        if count <= 0:
            return 0
        span = f"bytes={self._position}-{self._position + count - 1}"
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=self._key, Range=span)["Body"]
            data = body.read()
        except (*self._errors, OSError) as error:
            raise InputError(
                f"lost {self._location} at byte {self._position} ({_where(self._endpoint)}): "
                f"{error}"
            ) from None
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
