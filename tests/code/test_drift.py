"""The drift window: notes folded into rings, most recent instances across processes, PSI."""

from __future__ import annotations

import asyncio
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from predictor import drift
from predictor.drift import DEFAULT_MIN_INSTANCES, DriftWindow
from predictor.drift_reference import DriftReference
from predictor.drift_window import HEADER, Ring, read_window
from predictor.loader import Artifact
from training.data import FEATURE_NAMES, load_bundled

AREAS = [FEATURE_NAMES.index(name) for name in ("mean area", "area error", "worst area")]
THRESHOLD = 0.5


@pytest.fixture(scope="module")
def reference(artifact: Artifact) -> DriftReference:
    assert artifact.drift_reference is not None
    return artifact.drift_reference


def cases(count: int, seed: int, area_factor: float = 1.0) -> np.ndarray:
    """WDBC-like cases: bundled rows with 2% multiplicative noise, areas scaled."""
    rng = np.random.default_rng(seed)
    rows = load_bundled().features[rng.integers(0, 569, count)]
    rows = rows * (1 + rng.normal(0, 0.02, rows.shape))
    rows[:, AREAS] *= area_factor
    return rows


def observe_one_by_one(window: DriftWindow, rows: np.ndarray, probability: float) -> None:
    for row in rows.tolist():
        window.observe_one(row, probability)


def test_below_the_minimum_the_figures_are_nan_but_the_count_is_reported(reference) -> None:
    window = DriftWindow(reference, THRESHOLD, capacity=1000, min_instances=300)
    observe_one_by_one(window, cases(299, seed=1), 0.9)
    figures = window.figures()
    assert figures.instances == 299 and figures.psi is None
    assert math.isnan(figures.predicted_malignant_ratio)
    window.observe_batch(cases(1, seed=2), np.array([0.9]))
    assert window.figures().instances == 300 and window.figures().psi is not None


def test_the_window_keeps_the_most_recent_instances_and_their_labels(reference) -> None:
    window = DriftWindow(reference, THRESHOLD, capacity=400, min_instances=100)
    observe_one_by_one(window, cases(500, seed=3), 0.9)  # malignant, then pushed out
    window.fold()
    batch = cases(300, seed=4)
    probabilities = np.r_[np.full(150, 0.1), np.full(150, THRESHOLD)]  # the threshold counts
    window.observe_batch(batch, probabilities)
    figures = window.figures()
    assert figures.instances == 400
    assert figures.predicted_malignant_ratio == (100 + 150) / 400


def test_a_batch_larger_than_the_window_leaves_its_last_instances(reference) -> None:
    window = DriftWindow(reference, THRESHOLD, capacity=300, min_instances=300)
    rows = np.r_[cases(1000, seed=5), cases(300, seed=6, area_factor=1.6)]
    window.observe_batch(rows, np.zeros(len(rows)))
    figures = window.figures()
    assert figures.instances == 300 and figures.predicted_malignant_ratio == 0.0
    assert figures.psi[FEATURE_NAMES.index("mean area")] >= 0.2


def test_in_distribution_cases_are_stable_and_scaled_areas_are_significant(reference) -> None:
    window = DriftWindow(reference, THRESHOLD)
    observe_one_by_one(window, cases(1500, seed=7), 0.2)
    stable = window.figures().psi
    assert stable.max() < 0.1, dict(zip(FEATURE_NAMES, stable.round(3), strict=True))
    observe_one_by_one(window, cases(1500, seed=8, area_factor=1.6), 0.2)
    drifted = window.figures().psi
    assert drifted[FEATURE_NAMES.index("mean area")] >= 0.2
    assert np.median(np.delete(drifted, AREAS)) < 0.1


def test_the_default_minimum_keeps_in_distribution_noise_out_of_the_significant_band(
    reference,
) -> None:
    """Why 300: the largest of 30 PSIs of in-distribution samples, 20 samples each size."""
    largest = {}
    for count in (100, DEFAULT_MIN_INSTANCES):
        largest[count] = [
            reference.psi(reference.bin_indices(cases(count, seed=100 + trial))).max()
            for trial in range(20)
        ]
    assert np.median(largest[100]) > 0.15  # fewer instances would read as drift
    assert max(largest[DEFAULT_MIN_INSTANCES]) < 0.2
    assert np.median(largest[DEFAULT_MIN_INSTANCES]) < 0.1


async def test_on_the_event_loop_notes_wait_for_a_fold_off_the_request_path(
    reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift, "FOLD_SECONDS", 0.05)
    window = DriftWindow(reference, THRESHOLD, capacity=100, min_instances=1)
    observe_one_by_one(window, cases(10, seed=9), 0.9)
    assert window._rings.window().count == 0  # noted, not folded yet
    await asyncio.sleep(0.2)
    assert window._rings.window().count == 10  # the timer folded them


async def test_instances_older_than_a_window_are_dropped_unbinned(reference) -> None:
    window = DriftWindow(reference, THRESHOLD, capacity=100, min_instances=1)
    observe_one_by_one(window, cases(1000, seed=10), 0.9)
    observe_one_by_one(window, cases(90, seed=11), 0.1)
    assert window._waiting <= 2 * 100  # bounded, however many requests came
    window.observe_batch(cases(150, seed=12), np.r_[np.full(140, 0.9), np.full(10, 0.1)])
    window.observe_batch(cases(5, seed=13), np.full(5, 0.1))
    figures = window.figures()  # a scrape folds first: the last 100, 90 of them malignant
    assert figures.instances == 100 and figures.predicted_malignant_ratio == 0.85


async def test_a_single_case_after_batches_that_fill_the_buffer_is_noted(reference) -> None:
    # Two big requests' last windows fill the buffer to the brim; the next single case
    # must still find a slot (it was a 500 under mixed big and single-case load).
    window = DriftWindow(reference, THRESHOLD, capacity=100, min_instances=1)
    window.observe_batch(cases(150, seed=14), np.full(150, 0.9))
    window.observe_batch(cases(150, seed=15), np.full(150, 0.9))
    window.observe_one(cases(1, seed=16)[0].tolist(), 0.1)
    figures = window.figures()
    assert figures.instances == 100 and figures.predicted_malignant_ratio == 0.99


def test_rings_of_every_process_are_merged_most_recent_first(reference, tmp_path) -> None:
    stale = tmp_path / "drift_1_0.drift"
    stale.write_bytes(b"left by a previous container")
    first = DriftWindow(reference, THRESHOLD, capacity=500, min_instances=1, directory=tmp_path)
    assert not stale.exists()
    observe_one_by_one(first, cases(400, seed=12), 0.9)  # older: 100 of them drop out
    first.fold()
    # What a --workers child does: unpickle the model and write into a ring of its own.
    second = pickle.loads(pickle.dumps(first))
    observe_one_by_one(second, cases(400, seed=13), 0.1)
    assert len(list(tmp_path.glob("drift_*.drift"))) == 2
    for window in (first, second):
        figures = window.figures()
        assert figures.instances == 500
        assert figures.predicted_malignant_ratio == 100 / 500


def test_a_ring_mid_write_is_not_read_torn(reference) -> None:
    buffer = bytearray(Ring.size(30, 10))
    ring = Ring(buffer, 30, 10)
    ring.append(1, np.ones(3, dtype=bool), np.zeros((3, 30), dtype=np.uint8))
    assert read_window(buffer, 30).count == 3
    magic, width, capacity, sequence, written = HEADER.unpack_from(buffer, 0)
    HEADER.pack_into(buffer, 0, magic, width, capacity, sequence + 1, written)  # a writer
    assert read_window(buffer, 30) is None
    assert read_window(buffer, 29) is None and read_window(b"short", 30) is None


def test_a_ring_file_is_this_process_s(reference, tmp_path: Path) -> None:
    DriftWindow(reference, THRESHOLD, directory=tmp_path)
    (path,) = tmp_path.glob("drift_*.drift")
    assert path.name.startswith(f"drift_{os.getpid()}_")
    assert path.stat().st_size == Ring.size(len(FEATURE_NAMES), drift.DEFAULT_WINDOW)


async def test_the_order_of_a_fold_is_kept_across_the_ring_s_wrap(reference) -> None:
    window = DriftWindow(reference, THRESHOLD, capacity=100, min_instances=10)
    window.observe_batch(cases(70, seed=14), np.zeros(70))
    window.fold()  # slots 0-69
    # One fold (on the loop, notes wait for it): 40 malignant singles, a benign batch of 10,
    # then 10 malignant singles; they wrap the ring (slots 70-99, then 0-29).
    observe_one_by_one(window, cases(40, seed=15), 0.9)
    window.observe_batch(cases(10, seed=16), np.zeros(10))
    observe_one_by_one(window, cases(10, seed=17), 0.9)
    window.fold()
    latest = window._rings.window().most_recent(20)  # the batch, then the last 10 singles
    assert latest.labels.tolist() == [0] * 10 + [1] * 10
