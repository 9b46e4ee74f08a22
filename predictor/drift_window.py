"""The recently scored instances of every serving process: one small ring buffer each.

A ring holds a process's last ``capacity`` instances as what the drift figures need: when
each was noted (``time.monotonic_ns``, one clock for every process on the machine, plus its
position in its fold, so a process's instances never tie), its predicted label and its bin
per feature (one byte each; ``predictor.drift_reference``).
With one serving process the ring is a ``bytearray``. With ``--workers`` above 1 (or
``PROMETHEUS_MULTIPROC_DIR`` set), each process's ring is a memory-mapped file
``drift_<pid>_<n>.drift`` in the directory prometheus_client's multi-process mode uses, and a
scrape, whichever process answers it, merges every file and keeps the most recent instances
overall: one figure for the pod, not one per process.

Layout: a 32-byte header (magic, features, capacity, sequence, instances written), then the
times (int64 nanoseconds), labels (uint8) and bins (uint8, ``features`` per instance). A
writer makes the sequence odd while it writes and even again after; a reader retries a copy
that began on an odd sequence or saw it change (a seqlock: no lock shared between
processes).
"""

from __future__ import annotations

import itertools
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"BCDRIFT2"
HEADER = struct.Struct("<8sIIQQ")  # magic, features, capacity, sequence, written
FILE_PATTERN = "drift_*.drift"
READ_ATTEMPTS = 5
# Between attempts: a writer's append takes microseconds.
RETRY_SECONDS = 0.0002
# Rings opened by this process: a model unpickled again in the same process gets a new file.
_opened = itertools.count()


@dataclass(frozen=True)
class Window:
    """Instances of one or more rings: times, labels (1 = malignant) and bins."""

    times: np.ndarray
    labels: np.ndarray
    bins: np.ndarray

    @property
    def count(self) -> int:
        return len(self.times)

    def most_recent(self, limit: int) -> Window:
        """The ``limit`` most recently noted instances (all when there are fewer)."""
        if self.count <= limit:
            return self
        keep = np.argsort(self.times, kind="stable")[-limit:]
        return Window(self.times[keep], self.labels[keep], self.bins[keep])

    @staticmethod
    def merge(windows: list[Window], features: int) -> Window:
        if not windows:
            empty = np.empty(0, np.int64), np.empty(0, np.uint8)
            return Window(*empty, np.empty((0, features), np.uint8))
        return Window(
            np.concatenate([w.times for w in windows]),
            np.concatenate([w.labels for w in windows]),
            np.concatenate([w.bins for w in windows]),
        )


class Ring:
    """One process's last ``capacity`` instances in a writable buffer (see the module)."""

    def __init__(self, buffer: bytearray | mmap.mmap, features: int, capacity: int):
        self.buffer, self.features, self.capacity = buffer, features, capacity
        HEADER.pack_into(buffer, 0, MAGIC, features, capacity, 0, 0)
        self._written = 0
        self._sequence = 0
        self._lock = threading.Lock()
        self._times, self._labels, self._bins = _views(buffer, features, capacity)

    @staticmethod
    def size(features: int, capacity: int) -> int:
        return HEADER.size + capacity * (8 + 1 + features)

    def append(self, nanoseconds: int, labels: np.ndarray, bins: np.ndarray) -> None:
        """Note instances (at most ``capacity``), in the order they were scored, folded at
        ``nanoseconds`` (``time.monotonic_ns``, read after the previous append finished)."""
        count = len(labels)
        order = np.arange(count)
        with self._lock:
            slots = (self._written + order) % self.capacity
            self._publish()  # odd: writing
            self._times[slots] = nanoseconds + order
            self._labels[slots] = labels
            self._bins[slots] = bins
            self._written += count
            self._publish()  # even: done

    def _publish(self) -> None:
        self._sequence += 1
        HEADER.pack_into(
            self.buffer, 0, MAGIC, self.features, self.capacity, self._sequence, self._written
        )

    def window(self) -> Window:
        """A copy of this ring's instances."""
        with self._lock:
            return read_window(self.buffer, self.features) or Window.merge([], self.features)


def _views(buffer, features: int, capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times = np.frombuffer(buffer, np.int64, capacity, HEADER.size)
    labels = np.frombuffer(buffer, np.uint8, capacity, HEADER.size + 8 * capacity)
    bins = np.frombuffer(buffer, np.uint8, capacity * features, HEADER.size + 9 * capacity)
    return times, labels, bins.reshape(capacity, features)


def read_window(buffer: bytes | bytearray | mmap.mmap, features: int) -> Window | None:
    """A consistent copy of the instances of a ring's buffer (written by any process), or
    None when it is not a ring of ``features`` features or stays mid-write."""
    if len(buffer) < HEADER.size:
        return None
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(RETRY_SECONDS)
        magic, width, capacity, sequence, written = HEADER.unpack_from(buffer, 0)
        if magic != MAGIC or width != features or len(buffer) < Ring.size(width, capacity):
            return None
        if sequence % 2:
            continue
        times, labels, bins = (view.copy() for view in _views(buffer, width, capacity))
        if HEADER.unpack_from(buffer, 0)[3] != sequence:
            continue
        filled = min(written, capacity)
        return Window(times[:filled], labels[:filled], bins[:filled])
    return None


class LocalRing:
    """This process's ring in memory: the window when one process serves."""

    def __init__(self, features: int, capacity: int):
        self.own = Ring(bytearray(Ring.size(features, capacity)), features, capacity)

    def window(self) -> Window:
        return self.own.window()


class SharedRings:
    """This process's ring as a file in ``directory``, and every process's rings merged."""

    def __init__(self, directory: Path, features: int, capacity: int):
        self.directory, self.features = directory, features
        path = directory / f"drift_{os.getpid()}_{next(_opened)}.drift"
        size = Ring.size(features, capacity)
        with path.open("w+b") as handle:
            handle.truncate(size)
            # The mapping outlives the file object (mmap keeps its own descriptor).
            self.own = Ring(mmap.mmap(handle.fileno(), size), features, capacity)

    def window(self) -> Window:
        windows = []
        for path in sorted(self.directory.glob(FILE_PATTERN)):
            window = _read_file(path, self.features)
            if window is not None:
                windows.append(window)
        return Window.merge(windows, self.features)


def _read_file(path: Path, features: int) -> Window | None:
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < HEADER.size:
                return None
            with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as mapped:
                return read_window(mapped, features)
    except OSError:  # a file being replaced or removed: that process's ring is not read
        return None


def remove_stale_rings(directory: Path) -> None:
    """Remove rings of processes of an earlier run (a restarted container's emptyDir)."""
    for path in directory.glob(FILE_PATTERN):
        path.unlink(missing_ok=True)
