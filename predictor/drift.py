"""The drift window: the last ``--drift_window`` scored instances, binned, and their PSI.

A prediction copies its features and probability into this process's waiting buffer
(:meth:`DriftWindow.observe_one`: one ``struct.pack_into`` of its 30 floats, so nothing of
the request is kept alive; a batch, :meth:`DriftWindow.observe_batch`: one numpy copy);
nothing else happens on the request path. The waiting instances are folded in bulk, off it:
binned against the training reference in one vectorised pass and written into this
process's ring (``predictor.drift_window``), :data:`FOLD_SECONDS` after the first one since
the last fold, and before this process answers a scrape. So another worker's instances
reach the pod's figures within a second; this process's own ones at once. The buffer holds
two windows: when it is full the older half, which can no longer be in the window, is
dropped unbinned, so under heavy load a fold bins at most one window a second.

Counted: valid predictions of V1 ``:predict``, V2 REST ``/infer`` and gRPC. Not counted:
``:explain`` (it re-examines a case usually predicted already; counting it would weigh that
case twice) nor ``:feedback`` (confirmed outcomes of old cases, not today's traffic). Called
on the event loop's thread, as the model's handlers are.
"""

from __future__ import annotations

import asyncio
import math
import os
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from predictor.drift_reference import DriftReference
from predictor.drift_window import LocalRing, SharedRings, remove_stale_rings

# The directory of prometheus_client's multi-process mode (read by that name by the library
# itself): set for every process when --workers > 1, so their rings are shared there.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_WINDOW = 1000
# Below this many instances the largest of 30 PSIs of in-distribution samples is too noisy
# to read (tests/code/test_drift.py): median 0.22 at 100 instances, 0.08 at 300.
DEFAULT_MIN_INSTANCES = 300
FOLD_SECONDS = 1.0


@dataclass(frozen=True)
class DriftFigures:
    """What the window says: how many instances, and (from the minimum on) PSI per feature
    and the share of malignant labels; None and NaN below it."""

    instances: int
    psi: np.ndarray | None
    predicted_malignant_ratio: float


class DriftWindow:
    """This process's notes and ring, and the pod's figures over every process's rings."""

    def __init__(
        self,
        reference: DriftReference,
        threshold: float,
        capacity: int = DEFAULT_WINDOW,
        min_instances: int = DEFAULT_MIN_INSTANCES,
        directory: Path | None = None,
    ):
        """``directory``: where every serving process keeps its ring (None: in memory, one
        process). Rings left there by an earlier run are removed: call this in the process
        that loads the model, before any worker starts."""
        self.reference = reference
        self.threshold = threshold
        self.capacity = capacity
        self.min_instances = min_instances
        self.directory = directory
        if directory is not None:
            remove_stale_rings(directory)
        self._open()

    @classmethod
    def from_environment(cls, reference: DriftReference, threshold: float, **options: Any):
        directory = os.environ.get(METRICS_DIR_ENV)
        return cls(
            reference, threshold, directory=Path(directory) if directory else None, **options
        )

    def _open(self) -> None:
        width = len(self.reference.feature_names)
        self._full = 2 * self.capacity
        self._features = np.empty((self._full, width), dtype=np.float64)
        self._probabilities = np.empty(self._full, dtype=np.float64)
        self._probability_slots = memoryview(self._probabilities)
        self._pack_row = struct.Struct(f"{width}d").pack_into
        self._row_bytes = 8 * width
        self._waiting = 0  # instances in the buffer since the last fold
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        if self.directory is None:
            self._rings = LocalRing(width, self.capacity)
        else:
            self._rings = SharedRings(self.directory, width, self.capacity)

    def __getstate__(self) -> dict:
        # --workers > 1 pickles the model to each worker, which opens a ring of its own.
        kept = ("reference", "threshold", "capacity", "min_instances", "directory")
        return {name: self.__dict__[name] for name in kept}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

    def observe_one(self, features: Sequence[float], probability: float) -> None:
        """Note one scored instance: its values (finite floats) and probability."""
        waiting = self._waiting
        self._pack_row(self._features, waiting * self._row_bytes, *features)
        self._probability_slots[waiting] = probability
        self._waiting = waiting = waiting + 1
        if waiting == 1:
            self._schedule()
        elif waiting == self._full:
            self._keep_last(self.capacity)

    def observe_batch(self, features: np.ndarray, probabilities: np.ndarray) -> None:
        """Note scored instances: a float64 matrix and its probabilities."""
        count = min(len(features), self.capacity)
        waiting = self._waiting
        if waiting + count >= self._full:  # a full buffer leaves observe_one no slot
            waiting = self._keep_last(self.capacity - count)
        self._features[waiting : waiting + count] = features[-count:]
        self._probabilities[waiting : waiting + count] = probabilities[-count:]
        self._waiting = waiting + count
        if waiting == 0:
            self._schedule()

    def _keep_last(self, count: int) -> int:
        """Drop all but the last ``count`` waiting instances (older than a whole window of
        this process's); how many are left."""
        waiting = self._waiting
        kept = min(waiting, count)
        self._features[:kept] = self._features[waiting - kept : waiting]
        self._probabilities[:kept] = self._probabilities[waiting - kept : waiting]
        self._waiting = kept
        return kept

    def _schedule(self) -> None:
        loop = asyncio._get_running_loop()  # None off the loop; public get_running_loop raises
        if loop is None or loop.is_closed():
            self.fold()
        else:
            self._timer = loop.call_later(FOLD_SECONDS, self.fold)

    def fold(self) -> None:
        """Bin the instances noted so far and write them into this process's ring."""
        with self._lock:
            waiting, self._waiting = self._waiting, 0
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            if waiting:
                first = max(0, waiting - self.capacity)
                bins = self.reference.bin_indices(self._features[first:waiting])
                labels = self._probabilities[first:waiting] >= self.threshold
                self._rings.own.append(time.monotonic_ns(), labels, bins)

    def figures(self) -> DriftFigures:
        """The figures of the pod's last ``capacity`` instances (all processes' rings)."""
        self.fold()
        window = self._rings.window().most_recent(self.capacity)
        if window.count < self.min_instances:
            return DriftFigures(window.count, None, math.nan)
        ratio = float(np.count_nonzero(window.labels)) / window.count
        return DriftFigures(window.count, self.reference.psi(window.bins), ratio)
