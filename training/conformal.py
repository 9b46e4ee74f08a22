"""Prediction sets by class-conditional (Mondrian) split conformal prediction, as plain functions.

The served model never fits the calibration rows (``train`` sets them aside before any
fitting). A row's nonconformity for a class is one minus the probability the model gives
that class: ``1 - p`` for malignant, ``p`` for benign. Per class c, with n_c calibration rows
of that class and ``k = ceil((n_c + 1) * coverage)``, c is in the set of a new instance when
its nonconformity for c is at most the k-th smallest of the calibration rows'. For a new row
of class c exchangeable with them, that holds with probability at least ``coverage`` (and
below ``coverage + 1 / (n_c + 1)``), for each class separately: the guarantee holds for
malignant cases themselves, not only on average over both classes. In terms of ``p``:

- malignant is in the set when ``p`` is at least the (n_m + 1 - k_m)-th smallest malignant
  calibration probability;
- benign is in the set when ``p`` is at most the k_b-th smallest benign calibration
  probability;
- with fewer than ``coverage / (1 - coverage)`` rows of a class (19 at 0.95) no rank is high
  enough: that class is always in the set, which keeps the guarantee and tells nothing.

The served set joins the conformal set with the served label (``predictor.prediction_sets``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL
from predictor.prediction_sets import PredictionSets

METHOD = (
    "split conformal, class-conditional (Mondrian): nonconformity 1 - the model's probability "
    "of the class, one quantile per class over calibration rows the model never fitted; the "
    "served set also holds the served label"
)


@dataclass(frozen=True)
class Calibration:
    """The cut points of one calibration and the rows behind them."""

    coverage: float
    malignant_if_at_least: float
    benign_if_at_most: float
    rows: dict[str, int]
    # Rows of a class needed for a cut point at this coverage (fewer: the class is always in).
    rows_needed: int

    def prediction_sets(self, threshold: float) -> PredictionSets:
        return PredictionSets(
            self.coverage, self.malignant_if_at_least, self.benign_if_at_most, threshold
        )

    def to_metadata(self) -> dict:
        """What ``metadata.json`` records under ``prediction_sets`` (the predictor reads it)."""
        return {
            "method": METHOD,
            "coverage": self.coverage,
            "malignant_if_at_least": self.malignant_if_at_least,
            "benign_if_at_most": self.benign_if_at_most,
            "calibration_rows": self.rows,
            "rows_needed_per_class": self.rows_needed,
        }


def conformal_rank(rows: int, coverage: float) -> int:
    """``ceil((rows + 1) * coverage)``: the rank of the calibration nonconformity to keep
    (above ``rows`` means no calibration row is high enough)."""
    return math.ceil((rows + 1) * coverage - 1e-9)


def rows_needed(coverage: float) -> int:
    """The fewest rows of a class for which ``conformal_rank`` is at most the row count."""
    rows = 1
    while conformal_rank(rows, coverage) > rows:
        rows += 1
    return rows


def calibrate(labels: np.ndarray, probabilities: np.ndarray, coverage: float) -> Calibration:
    """The class-conditional cut points from calibration rows.

    Args:
        labels: 1 = malignant, 0 = benign, of rows the model never fitted.
        probabilities: The model's probability of malignant for each.
        coverage: Wanted probability, per class, that the set holds the true label; in (0, 1).

    Returns:
        The cut points; a class with too few rows gets the cut that always includes it.
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    actual = np.asarray(labels) == 1
    scores = np.asarray(probabilities, dtype=np.float64)
    malignant = np.sort(scores[actual])
    benign = np.sort(scores[~actual])
    rank_malignant = conformal_rank(malignant.size, coverage)
    rank_benign = conformal_rank(benign.size, coverage)
    # The k-th smallest 1 - p of malignant rows is 1 - the (n + 1 - k)-th smallest p.
    malignant_cut = (
        float(malignant[malignant.size - rank_malignant])
        if rank_malignant <= malignant.size
        else 0.0
    )
    benign_cut = float(benign[rank_benign - 1]) if rank_benign <= benign.size else 1.0
    return Calibration(
        coverage=coverage,
        malignant_if_at_least=malignant_cut,
        benign_if_at_most=benign_cut,
        rows={POSITIVE_LABEL: int(malignant.size), NEGATIVE_LABEL: int(benign.size)},
        rows_needed=rows_needed(coverage),
    )


def set_report(labels: np.ndarray, probabilities: np.ndarray, sets: PredictionSets) -> dict:
    """How the served sets did on labelled rows (the hold-out split, or a study's unseen rows).

    The sets are the predictor's own (``PredictionSets.sets``); the label is its rule,
    malignant when the probability reaches the threshold.

    Returns:
        target_coverage, coverage (share of rows whose set holds the true label),
        coverage_malignant, coverage_benign, two_label_share, mean_set_size and
        one_label_contradictions (one-label sets other than the served label: 0 by design).
    """
    actual = np.asarray(labels) == 1
    truth = np.where(actual, POSITIVE_LABEL, NEGATIVE_LABEL)
    scores = np.asarray(probabilities, dtype=np.float64)
    served_sets = sets.sets(scores)
    served_labels = np.where(scores >= sets.threshold, POSITIVE_LABEL, NEGATIVE_LABEL)
    covered = np.array(
        [label in labels_in for label, labels_in in zip(truth, served_sets, strict=True)]
    )
    sizes = np.array([len(labels_in) for labels_in in served_sets])
    contradictions = sum(
        len(labels_in) == 1 and labels_in[0] != label
        for labels_in, label in zip(served_sets, served_labels, strict=True)
    )
    return {
        "target_coverage": sets.coverage,
        "coverage": float(covered.mean()),
        "coverage_malignant": _share(covered[actual]),
        "coverage_benign": _share(covered[~actual]),
        "two_label_share": float(np.mean(sizes == 2)),
        "mean_set_size": float(sizes.mean()),
        "one_label_contradictions": int(contradictions),
    }


def _share(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else float("nan")
