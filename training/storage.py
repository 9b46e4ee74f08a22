"""Where a training run publishes its artifact, and writing one to a directory or PVC.

A reader either follows ``LATEST`` or is pointed at one version directory (the Helm chart pins
each release revision to its own). ``LATEST`` is replaced after the version it names is
complete, so an interrupted run leaves the previous model in place and loadable. ``s3://``
destinations are in ``training/s3.py``, imported only for them (boto3 takes about a second to
import).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from predictor.artifact import LATEST_FILENAME, ArtifactError, verify_artifact

STAGING_PREFIX = ".staging-"
S3_SCHEME = "s3://"


class StorageError(Exception):
    """The destination cannot be written or read; the message names it."""


class Destination(Protocol):
    """A place training publishes versions to: a directory (or PVC) or an ``s3://`` prefix."""

    def holds_valid_artifact(self, version: str | None = None) -> bool:
        """True when ``version`` (None: the one ``LATEST`` names) exists and its every recorded
        hash matches (nothing unpickled)."""

    def preflight(self) -> None:
        """Raise StorageError now for what would make publishing fail after training."""

    def publish(self, version: str, files: Mapping[str, bytes]) -> None:
        """Write ``files`` as ``version`` (replacing one of that name), then point ``LATEST``
        at it; raise StorageError."""

    def fetch_current(self, scratch: Path) -> Path | None:
        """A local directory holding ``LATEST`` and the version it names (copied into
        ``scratch`` when remote), unchecked; None when there is no ``LATEST``. Raises
        StorageError when the destination cannot be read."""


def open_destination(output: str, keep_versions: int) -> Destination:
    """The destination ``--output`` names; StorageError for a malformed ``s3://`` URI."""
    if output.startswith(S3_SCHEME):
        from training.s3 import S3Destination  # boto3 only for s3:// (about 1 s of imports)

        return S3Destination.from_uri(output)
    return LocalDestination(Path(output), keep_versions)


@dataclass(frozen=True)
class LocalDestination:
    """A directory or PVC mount; versions beyond the ``keep`` most recently written are removed."""

    directory: Path
    keep: int

    def holds_valid_artifact(self, version: str | None = None) -> bool:
        return local_artifact_is_valid(self.directory / version if version else self.directory)

    def preflight(self) -> None:
        check_local_writable(self.directory)

    def publish(self, version: str, files: Mapping[str, bytes]) -> None:
        write_local(self.directory, version, files, keep=self.keep)

    def fetch_current(self, scratch: Path) -> Path | None:
        return self.directory if (self.directory / LATEST_FILENAME).is_file() else None


def check_local_writable(destination: Path) -> None:
    """Prove a version directory can be created under ``destination``, leaving nothing behind.

    Creates and removes one staging directory in ``destination``, or in its nearest existing
    ancestor when ``destination`` does not exist yet (``write_local`` creates the rest).

    Raises:
        StorageError: Naming the directory that refused and the operating system's reason.
    """
    absolute = destination.absolute()
    try:
        existing = next(p for p in (absolute, *absolute.parents) if p.exists())
        if not existing.is_dir():
            raise StorageError(
                f"cannot write the model to {destination}: {existing} is not a directory"
            )
        Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}write-check-", dir=existing)).rmdir()
    except OSError as error:
        raise StorageError(
            f"cannot write the model to {destination}: a new directory cannot be created "
            f"there ({error})"
        ) from error


def write_local(destination: Path, version: str, files: Mapping[str, bytes], keep: int) -> Path:
    """Write ``files`` as ``destination/version`` and point ``LATEST`` at it, atomically.

    A version directory of the same name is replaced: a chart release revision names its
    version after itself, and revision numbers start again at 1 when a release is installed
    anew on a claim kept from an earlier one.

    Args:
        destination: The output directory (created if needed).
        version: Name of the new version directory.
        files: Filenames to contents.
        keep: How many version directories to keep, most recently written first (>= 1).

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
        if final.exists():
            # Moved aside with the staging prefix, so the prune below removes it.
            replaced = f"{STAGING_PREFIX}replaced-{version}-{uuid.uuid4().hex[:8]}"
            os.rename(final, destination / replaced)
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
    """Remove leftovers of interrupted runs and versions beyond ``keep`` (never the current).

    Versions are ranked by when they were written (their directory's mtime, then name), not by
    name alone: revision names such as ``rev-10`` do not sort by age, and a replaced
    ``rev-1`` is the newest version, not the oldest.
    """
    versions = sorted(
        (p for p in destination.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
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
