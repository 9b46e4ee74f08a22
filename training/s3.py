"""Publish artifact versions under an ``s3://bucket/prefix``: the version's files, then ``LATEST``.

Uploads retry with exponential backoff; ``LATEST`` is uploaded only after every file of the
version (``SHA256SUMS`` last among them), so a reader never follows it to an incomplete one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from predictor.artifact import LATEST_FILENAME
from predictor.object_store import S3_MAX_ATTEMPTS as S3_MAX_ATTEMPTS
from predictor.object_store import parse_s3_uri, s3_client, s3_endpoint
from training.storage import StorageError, local_artifact_is_valid


@dataclass(frozen=True)
class S3Destination:
    """An ``s3://bucket/prefix`` reached with bounded retries and short timeouts."""

    uri: str
    client: Any
    endpoint: str | None

    @classmethod
    def from_uri(cls, uri: str) -> S3Destination:
        S3Location.parse(uri)  # a malformed URI fails before anything else happens
        endpoint = s3_endpoint()
        return cls(uri, s3_client(endpoint), endpoint)

    def holds_valid_artifact(self, version: str | None = None) -> bool:
        return s3_artifact_is_valid(self.uri, self.client, version)

    def preflight(self) -> None:
        check_s3_reachable(self.uri, self.client, self.endpoint)

    def publish(self, version: str, files: Mapping[str, bytes]) -> None:
        write_s3(self.uri, version, files, self.client, self.endpoint)

    def fetch_current(self, scratch: Path) -> Path | None:
        return fetch_s3_current(self.uri, self.client, self.endpoint, scratch)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        try:
            bucket, key = parse_s3_uri(uri)
        except ValueError as error:
            raise StorageError(str(error)) from None
        return cls(bucket, key.strip("/"))

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)


def check_s3_reachable(uri: str, client, endpoint: str | None) -> None:
    """List one key under the prefix: the endpoint answers, the bucket exists, the credentials
    are accepted. Cheap, and it cannot prove write permission; a refused upload still fails
    later with exit 3, the previous version staying current.

    Raises:
        StorageError: Naming the endpoint and bucket, with S3's reason.
    """
    location = S3Location.parse(uri)
    try:
        client.list_objects_v2(Bucket=location.bucket, Prefix=location.key(), MaxKeys=1)
    except (BotoCoreError, ClientError) as error:
        raise StorageError(
            f"cannot reach s3://{location.bucket}/{location.prefix} at endpoint "
            f"{endpoint or 'AWS default'} (bucket {location.bucket!r}): {error}"
        ) from error


def write_s3(uri: str, version: str, files: Mapping[str, bytes], client, endpoint: str | None):
    """Upload ``files`` under ``uri/version/`` in order, then replace ``uri/LATEST``.

    Raises:
        StorageError: Naming the endpoint, bucket and key that failed after the retries.
    """
    location = S3Location.parse(uri)
    uploads = [(location.key(version, name), content) for name, content in files.items()]
    uploads.append((location.key(LATEST_FILENAME), f"{version}\n".encode()))
    for key, content in uploads:
        try:
            client.put_object(Bucket=location.bucket, Key=key, Body=content)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(
                f"cannot upload s3://{location.bucket}/{key} to endpoint "
                f"{endpoint or 'AWS default'} (bucket {location.bucket!r}): {error}; "
                f"LATEST still names the previous version"
            ) from error


def s3_artifact_is_valid(uri: str, client, version: str | None = None) -> bool:
    """True when ``uri`` holds a complete ``version`` (None: the one ``LATEST`` names), checked
    in a temp dir."""
    location = S3Location.parse(uri)
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(scratch)
        try:
            pointer = local / LATEST_FILENAME
            if version is None:
                client.download_file(location.bucket, location.key(LATEST_FILENAME), str(pointer))
                version = pointer.read_text(encoding="utf-8").strip()
            else:
                pointer.write_text(f"{version}\n", encoding="utf-8")
            _download_version(location, client, version, local)
        except (BotoCoreError, ClientError, OSError, ValueError):
            return False
        return local_artifact_is_valid(local)


def fetch_s3_current(uri: str, client, endpoint: str | None, scratch: Path) -> Path | None:
    """Copy ``LATEST`` and the version it names into ``scratch``; None without ``LATEST``.

    A ``LATEST`` naming something that is not one version directory is copied as it is (the
    predictor's loader then says what is wrong with it).

    Raises:
        StorageError: The prefix cannot be read (other than ``LATEST`` being absent).
    """
    location = S3Location.parse(uri)
    pointer = scratch / LATEST_FILENAME
    try:
        client.download_file(location.bucket, location.key(LATEST_FILENAME), str(pointer))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return None
        raise _read_error(location, endpoint, error) from error
    except BotoCoreError as error:
        raise _read_error(location, endpoint, error) from error
    version = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if version and "/" not in version and not version.startswith("."):
        try:
            _download_version(location, client, version, scratch)
        except (BotoCoreError, ClientError) as error:
            raise _read_error(location, endpoint, error) from error
    return scratch


def _download_version(location: S3Location, client, version: str, local: Path) -> None:
    """Every object under ``version/`` into ``local/version``."""
    (local / version).mkdir()
    prefix = location.key(version) + "/"
    listing = client.list_objects_v2(Bucket=location.bucket, Prefix=prefix)
    for item in listing.get("Contents", []):
        name = item["Key"].rsplit("/", 1)[-1]
        client.download_file(location.bucket, item["Key"], str(local / version / name))


def _read_error(location: S3Location, endpoint: str | None, error: Exception) -> StorageError:
    return StorageError(
        f"cannot read the current model under s3://{location.bucket}/{location.prefix} at "
        f"endpoint {endpoint or 'AWS default'} (bucket {location.bucket!r}): {error}"
    )
