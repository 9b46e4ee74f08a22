"""The drift window: the last ``--drift_window`` scored instances, binned, and their PSI.

A prediction notes its features and probability with one ``list.append``
(:meth:`DriftWindow.observe`); nothing else happens on the request path. The notes are
folded in bulk, off it: binned against the training reference in one vectorised pass and
written into this process's ring (``predictor.drift_window``), at most
:data:`FOLD_SECONDS` after the first note of a batch, at once when :data:`FOLD_AT` notes are
waiting, and before this process answers a scrape. So another worker's instances reach the
pod's figures within a second; this process's own ones at once.

Counted: valid predictions of V1 ``:predict``, V2 REST ``/infer`` and gRPC. Not counted:
``:explain`` (it re-examines a case usually predicted already; counting it would weigh that
case twice) nor ``:feedback`` (confirmed outcomes of old cases, not today's traffic).
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
from itertools import chain
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
FOLD_AT = 512


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
        self._notes: list[tuple[Any, Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        if self.directory is None:
            self._rings = LocalRing(width, self.capacity)
        else:
            self._rings = SharedRings(self.directory, width, self.capacity)

    def __getstate__(self) -> dict:
        # --workers > 1 pickles the model to each worker, which opens a ring of its own.
        state = dict(self.__dict__)
        for name in ("_notes", "_timer", "_lock", "_rings"):
            state.pop(name)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

    def observe(self, features: Any, probability: Any) -> None:
        """Note scored instances: one (a sequence of floats and its probability) or a batch
        (a float64 matrix and its probabilities)."""
        notes = self._notes
        notes.append((features, probability))
        if len(notes) == 1 or len(notes) == FOLD_AT:
            self._schedule(len(notes))

    def _schedule(self, waiting: int) -> None:
        loop = asyncio._get_running_loop()  # None off the loop; public get_running_loop raises
        if loop is None or loop.is_closed():
            self.fold()
        elif waiting == 1:
            self._timer = loop.call_later(FOLD_SECONDS, self.fold)
        else:
            loop.call_soon(self.fold)

    def fold(self) -> None:
        """Bin the instances noted so far and write them into this process's ring."""
        with self._lock:
            notes, self._notes = self._notes, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if notes:
            features, probabilities = _stack(notes, len(self.reference.feature_names))
            features, probabilities = features[-self.capacity :], probabilities[-self.capacity :]
            bins = self.reference.bin_indices(features)
            self._rings.own.append(time.monotonic_ns(), probabilities >= self.threshold, bins)

    def figures(self) -> DriftFigures:
        """The figures of the pod's last ``capacity`` instances (all processes' rings)."""
        self.fold()
        window = self._rings.window().most_recent(self.capacity)
        if window.count < self.min_instances:
            return DriftFigures(window.count, None, math.nan)
        ratio = float(np.count_nonzero(window.labels)) / window.count
        return DriftFigures(window.count, self.reference.psi(window.bins), ratio)


def _stack(notes: list[tuple[Any, Any]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """The noted instances as one matrix and their probabilities, in the order noted."""
    matrices: list[np.ndarray] = []
    probabilities: list[np.ndarray] = []
    singles: list[Sequence[float]] = []  # consecutive one-instance notes
    single_probabilities: list[float] = []
    for features, probability in notes:
        if not isinstance(features, np.ndarray):
            singles.append(features)
            single_probabilities.append(probability)
            continue
        if singles:
            matrices.append(_matrix(singles, width))
            probabilities.append(np.array(single_probabilities, dtype=np.float64))
            singles, single_probabilities = [], []
        matrices.append(features)
        probabilities.append(np.asarray(probability, dtype=np.float64))
    if singles:
        matrices.append(_matrix(singles, width))
        probabilities.append(np.array(single_probabilities, dtype=np.float64))
    return np.concatenate(matrices), np.concatenate(probabilities)


def _matrix(rows: list[Sequence[float]], width: int) -> np.ndarray:
    """Rows of floats straight into a float64 matrix in C (faster than np.array)."""
    matrix = np.empty((len(rows), width), dtype=np.float64)
    struct.pack_into(f"{matrix.size}d", matrix, 0, *chain.from_iterable(rows))
    return matrix
