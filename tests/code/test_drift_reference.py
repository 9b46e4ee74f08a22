"""The training distribution in the artifact: decile bins, ties, constant columns, PSI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from predictor.drift_reference import (
    DRIFT_REFERENCE_FILENAME,
    EMPTY_SHARE,
    build_reference,
    dump_reference,
    load_reference,
)
from predictor.loader import Artifact
from training.data import FEATURE_NAMES, load_bundled

NAMES = ("spread", "ties", "constant")


@pytest.fixture(scope="module")
def awkward():
    """100 rows: one spread-out column, one mostly zeros, one constant; 30 malignant."""
    rows = np.column_stack(
        [np.arange(100.0), np.r_[np.zeros(70), np.arange(1.0, 31.0)], np.full(100, 7.5)]
    )
    return rows, np.r_[np.ones(30), np.zeros(70)]


def test_deciles_of_a_spread_column_make_ten_bins_of_a_tenth(awkward) -> None:
    rows, labels = awkward
    reference = build_reference(rows, labels, NAMES)
    assert len(reference.cuts[0]) == 9
    np.testing.assert_allclose(reference.shares[0], np.full(10, 0.1))
    assert reference.malignant_ratio == 0.3 and reference.rows == 100


def test_tied_deciles_are_merged_and_shares_are_counted_not_assumed(awkward) -> None:
    rows, labels = awkward
    reference = build_reference(rows, labels, NAMES)
    cuts, shares = reference.cuts[1], reference.shares[1]
    assert cuts[0] == 0.0 and np.all(np.diff(cuts) > 0)
    assert len(cuts) < 9 and len(shares) == len(cuts) + 1
    assert shares[0] == 0.7  # every zero in the first bin, (-inf, 0]
    assert math.isclose(shares.sum(), 1.0)


def test_a_constant_column_keeps_one_cut_and_flags_any_value_above_it(awkward) -> None:
    rows, labels = awkward
    reference = build_reference(rows, labels, NAMES)
    assert reference.cuts[2].tolist() == [7.5]
    assert reference.shares[2].tolist() == [1.0, 0.0]
    bins = reference.bin_indices(np.array([[0.0, 0.0, 7.5], [0.0, 0.0, 7.6]]))
    assert bins[:, 2].tolist() == [0, 1]


def test_values_beyond_the_training_range_fall_in_the_outer_bins(awkward) -> None:
    rows, labels = awkward
    reference = build_reference(rows, labels, NAMES)
    bins = reference.bin_indices(np.array([[-1e9, -1e9, -1e9], [1e9, 1e9, 1e9]]))
    assert bins[0].tolist() == [0, 0, 0]
    assert bins[1].tolist() == [len(c) for c in reference.cuts]
    assert bins.dtype == np.uint8


def test_the_training_rows_themselves_have_zero_psi(awkward) -> None:
    rows, labels = awkward
    reference = build_reference(rows, labels, NAMES)
    np.testing.assert_allclose(reference.psi(reference.bin_indices(rows)), 0.0, atol=1e-12)


def test_psi_is_the_textbook_sum_with_the_empty_share_for_empty_bins(awkward) -> None:
    rows, labels = awkward
    reference = build_reference(rows, labels, NAMES)
    window = rows[:20] + np.array([0.0, 0.0, 1.0])  # spread: two low bins; constant: all above it
    psi = reference.psi(reference.bin_indices(window))
    spread_window = np.r_[0.5, 0.5, np.full(8, EMPTY_SHARE)]
    expected = np.sum((spread_window - 0.1) * np.log(spread_window / 0.1))
    assert math.isclose(psi[0], expected, rel_tol=1e-12)
    constant_window, constant_training = np.array([EMPTY_SHARE, 1.0]), np.array([1.0, EMPTY_SHARE])
    expected = np.sum(
        (constant_window - constant_training) * np.log(constant_window / constant_training)
    )
    assert math.isclose(psi[2], expected, rel_tol=1e-12) and psi[2] > 0.2


def test_the_file_reads_back_exactly(awkward) -> None:
    rows, labels = awkward
    reference = build_reference(rows, labels, NAMES)
    again = load_reference(dump_reference(reference), NAMES)
    for name in ("cuts", "shares"):
        for mine, theirs in zip(getattr(reference, name), getattr(again, name), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    assert (again.malignant_ratio, again.rows) == (0.3, 100)


def edited(reference_bytes: bytes, change) -> bytes:
    document = json.loads(reference_bytes)
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["features"].reverse(), "features differ from metadata"),
        (
            lambda d: d["features"][0]["cuts"].reverse(),
            "'spread': cuts must be strictly increasing",
        ),
        (lambda d: d["features"][1]["shares"].pop(), "'ties': shares must be"),
        (lambda d: d["features"][0]["shares"].__setitem__(0, 0.5), "sum to 1"),
        (lambda d: d["features"][2].__setitem__("cuts", []), "non-empty list of finite numbers"),
        (lambda d: d.__setitem__("malignant_ratio", 1.5), "malignant_ratio must be"),
        (lambda d: d.__setitem__("rows", True), "rows must be an integer"),
        (lambda d: d.pop("features"), "lacks features"),
    ],
    ids=["order", "cuts", "share count", "share sum", "no cuts", "ratio", "rows", "no features"],
)
def test_a_malformed_reference_is_refused_naming_the_problem(awkward, change, message) -> None:
    rows, labels = awkward
    content = edited(dump_reference(build_reference(rows, labels, NAMES)), change)
    with pytest.raises(ValueError, match=message):
        load_reference(content, NAMES)


def test_training_records_the_fitted_rows_only(artifact: Artifact) -> None:
    reference = artifact.drift_reference
    assert reference is not None
    assert DRIFT_REFERENCE_FILENAME in {p.name for p in artifact.directory.iterdir()}
    rows = artifact.metadata["metrics"]["rows"]
    # The rows the served model was fitted on: not the calibration rows, not the hold-out.
    assert reference.rows == rows["fit"] < rows["train"] < rows["train"] + rows["holdout"]
    assert reference.feature_names == FEATURE_NAMES
    counts = artifact.metadata["training_data"]["class_counts"]
    everything = counts["malignant"] / (counts["malignant"] + counts["benign"])
    assert abs(reference.malignant_ratio - everything) < 0.01  # stratified split
    psi = reference.psi(reference.bin_indices(load_bundled().features))
    assert psi.max() < 0.05  # all 569 rows hardly differ from their fitted part
