"""Write artifact versions to a directory (atomically) or an ``s3://`` prefix (pointer last).

A reader only ever follows ``LATEST``; it is replaced after the version it names is complete,
so an interrupted run leaves the previous model in place and loadable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from predictor.artifact import LATEST_FILENAME, ArtifactError, verify_artifact

STAGING_PREFIX = ".staging-"
S3_SCHEME = "s3://"
S3_MAX_ATTEMPTS = 5
S3_TIMEOUT_SECONDS = 10


class StorageError(Exception):
    """The destination cannot be written or read; the message names it."""


def is_s3(destination: str) -> bool:
    return destination.startswith(S3_SCHEME)


# ---- local directory / PVC ---------------------------------------------------------------


def write_local(destination: Path, version: str, files: Mapping[str, bytes], keep: int) -> Path:
    """Write ``files`` as ``destination/version`` and point ``LATEST`` at it, atomically.

    Args:
        destination: The output directory (created if needed).
        version: Name of the new version directory.
        files: Filenames to contents.
        keep: How many version directories to keep, newest first (>= 1).

    Returns:
        The new version directory.
    """
    try:
        destination.mkdir(parents=True, exist_ok=True)
        staging = destination / f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        for name, content in files.items():
            _write_durably(staging / name, content)
        _fsync_dir(staging)
        final = destination / version
        os.rename(staging, final)
        _fsync_dir(destination)
        pointer = destination / f"{STAGING_PREFIX}{LATEST_FILENAME}-{uuid.uuid4().hex[:8]}"
        _write_durably(pointer, f"{version}\n".encode())
        os.replace(pointer, destination / LATEST_FILENAME)
        _fsync_dir(destination)
    except OSError as error:
        raise StorageError(f"cannot write the model to {destination}: {error}") from error
    _prune_local(destination, keep, current=version)
    return final


def _write_durably(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _prune_local(destination: Path, keep: int, current: str) -> None:
    """Remove leftovers of interrupted runs and versions beyond ``keep`` (never the current)."""
    versions = sorted(
        (p for p in destination.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
        reverse=True,
    )
    stale = [p for p in versions[keep:] if p.name != current]
    stale += [p for p in destination.iterdir() if p.name.startswith(STAGING_PREFIX)]
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def local_artifact_is_valid(destination: Path) -> bool:
    """True when ``destination`` holds an artifact whose every recorded hash matches."""
    try:
        verify_artifact(destination)
    except ArtifactError:
        return False
    return True


# ---- s3:// -------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StorageError(f"{uri!r} is not an s3://bucket/prefix URI")
        return cls(parsed.netloc, parsed.path.strip("/"))

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)


def s3_endpoint(environ: Mapping[str, str] = os.environ) -> str | None:
    """The endpoint from ``AWS_ENDPOINT_URL`` or KServe's ``S3_ENDPOINT`` (+ ``S3_USE_HTTPS``)."""
    endpoint = environ.get("AWS_ENDPOINT_URL") or environ.get("S3_ENDPOINT")
    if endpoint and "://" not in endpoint:
        scheme = "http" if environ.get("S3_USE_HTTPS", "1") == "0" else "https"
        endpoint = f"{scheme}://{endpoint}"
    return endpoint or None


def s3_client(endpoint: str | None, max_attempts: int = S3_MAX_ATTEMPTS):
    """A client with bounded retries (exponential backoff) and short timeouts."""
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=S3_TIMEOUT_SECONDS,
        read_timeout=S3_TIMEOUT_SECONDS,
    )
    return boto3.client("s3", endpoint_url=endpoint, config=config)


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


def s3_artifact_is_valid(uri: str, client) -> bool:
    """True when ``uri`` holds a complete artifact (its current version checked in a temp dir)."""
    location = S3Location.parse(uri)
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(scratch)
        try:
            pointer = local / LATEST_FILENAME
            client.download_file(location.bucket, location.key(LATEST_FILENAME), str(pointer))
            version = pointer.read_text(encoding="utf-8").strip()
            (local / version).mkdir()
            prefix = location.key(version) + "/"
            listing = client.list_objects_v2(Bucket=location.bucket, Prefix=prefix)
            for item in listing.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                client.download_file(location.bucket, item["Key"], str(local / version / name))
        except (BotoCoreError, ClientError, OSError, ValueError):
            return False
        return local_artifact_is_valid(local)
