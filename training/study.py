"""How well do the threshold and the prediction sets carry over to unseen rows? Repeat it all.

``uv run python -m training.study [--splits 30] [--target-sensitivity 0.98 0.99]
[--coverage 0.95]``

For each random stratified split of the bundled data (75% seen, 25% unseen) it runs ``train``
on the seen rows exactly as ``python -m training`` does (hold-out, calibration and fit rows
all come from the seen rows), then measures the served decision (probability >= threshold)
and the served prediction sets on the unseen rows. It prints two markdown tables for
training/README.md: the threshold's sensitivity and specificity, and the sets' coverage and size.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from training.conformal import set_report
from training.data import Dataset, load_bundled
from training.train import TrainingConfig, train

UNSEEN_FRACTION = 0.25
SENSITIVITY_FLOOR = 0.97
SET_FIGURES = ("coverage", "coverage_malignant", "two_label_share", "mean_set_size")


def seen_and_unseen(splits: int) -> Iterator[tuple[Dataset, np.ndarray, np.ndarray]]:
    """The bundled data split ``splits`` times (seeds 0, 1, ...): the seen rows as a
    ``Dataset`` for ``train``, and the unseen rows' features and labels."""
    data = load_bundled()
    for split in range(splits):
        seen_x, unseen_x, seen_y, unseen_y = train_test_split(
            data.features,
            data.labels,
            test_size=UNSEEN_FRACTION,
            stratify=data.labels,
            random_state=split,
        )
        yield Dataset(seen_x, seen_y, "study"), unseen_x, unseen_y


def study(target: float, splits: int, coverage: float = TrainingConfig.coverage) -> dict:
    """Unseen-row metrics of the full procedure over ``splits`` random splits.

    Returns:
        Means and spreads of sensitivity, specificity and ROC-AUC, the share of splits whose
        unseen sensitivity reaches SENSITIVITY_FLOOR, and per figure of the prediction sets
        (``set_<figure>``: coverage, coverage_malignant, two_label_share, mean_set_size) the
        mean over splits (every split has as many unseen rows, so the mean is also the share
        over all unseen rows), ``..._min`` and ``..._max``; ``one_label_contradictions``
        summed over splits.
    """
    sensitivity, specificity, auc, sets = [], [], [], []
    config = TrainingConfig(target_sensitivity=target, coverage=coverage)
    for seen, unseen_x, unseen_y in seen_and_unseen(splits):
        result = train(seen, config)
        probabilities = result.pipeline.predict_proba(unseen_x)[:, 1]
        malignant = probabilities >= result.threshold
        sensitivity.append(malignant[unseen_y == 1].mean())
        specificity.append((~malignant)[unseen_y == 0].mean())
        auc.append(roc_auc_score(unseen_y, probabilities))
        served = result.calibration.prediction_sets(result.threshold)
        sets.append(set_report(unseen_y, probabilities, served))
    sens = np.array(sensitivity)
    row = {
        "target": target,
        "coverage_target": coverage,
        "sensitivity_mean": sens.mean(),
        "sensitivity_min": sens.min(),
        "share_at_floor": float((sens >= SENSITIVITY_FLOOR).mean()),
        "specificity_mean": float(np.mean(specificity)),
        "specificity_min": float(np.min(specificity)),
        "roc_auc_mean": float(np.mean(auc)),
        "one_label_contradictions": sum(r["one_label_contradictions"] for r in sets),
    }
    for figure in SET_FIGURES:
        values = [r[figure] for r in sets]
        row[f"set_{figure}"] = float(np.mean(values))
        row[f"set_{figure}_min"] = float(np.min(values))
        row[f"set_{figure}_max"] = float(np.max(values))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=30)
    parser.add_argument("--target-sensitivity", type=float, nargs="+", default=[0.98, 0.99])
    parser.add_argument("--coverage", type=float, default=TrainingConfig.coverage)
    options = parser.parse_args()
    rows = [study(t, options.splits, options.coverage) for t in options.target_sensitivity]
    print(
        f"| target sensitivity | unseen sensitivity mean (min) | splits with sensitivity >= "
        f"{SENSITIVITY_FLOOR} | unseen specificity mean (min) | ROC-AUC mean |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['target']} | {row['sensitivity_mean']:.3f} ({row['sensitivity_min']:.3f}) | "
            f"{row['share_at_floor']:.0%} | {row['specificity_mean']:.3f} "
            f"({row['specificity_min']:.3f}) | {row['roc_auc_mean']:.4f} |"
        )
    print()
    print(
        f"| target sensitivity | set coverage (target {options.coverage}) mean (min) | "
        "malignant set coverage mean (min) | two-label sets mean (max) | mean set size | "
        "one-label sets contradicting the label |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['target']} | {row['set_coverage']:.3f} ({row['set_coverage_min']:.3f}) | "
            f"{row['set_coverage_malignant']:.3f} ({row['set_coverage_malignant_min']:.3f}) | "
            f"{row['set_two_label_share']:.1%} ({row['set_two_label_share_max']:.1%}) | "
            f"{row['set_mean_set_size']:.3f} | "
            f"{row['one_label_contradictions']} |"
        )


if __name__ == "__main__":
    main()
