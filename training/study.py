"""How well does the chosen threshold carry over to unseen rows? Repeat the whole procedure.

``uv run python -m training.study [--splits 30] [--target-sensitivity 0.98 0.99]``

For each random stratified split of the bundled data (75% seen, 25% unseen) it runs ``train``
on the seen rows exactly as ``python -m training`` does, then measures the served decision
(probability >= threshold) on the unseen rows. It prints a markdown table for the README.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from training.data import Dataset, load_bundled
from training.train import TrainingConfig, train

UNSEEN_FRACTION = 0.25
SENSITIVITY_FLOOR = 0.97


def study(target: float, splits: int) -> dict[str, float]:
    """Unseen-row metrics of the full procedure over ``splits`` random splits.

    Returns:
        Means and spreads of sensitivity, specificity and ROC-AUC, and the share of splits
        whose unseen sensitivity reaches SENSITIVITY_FLOOR.
    """
    data = load_bundled()
    sensitivity, specificity, auc = [], [], []
    for split in range(splits):
        seen_x, unseen_x, seen_y, unseen_y = train_test_split(
            data.features,
            data.labels,
            test_size=UNSEEN_FRACTION,
            stratify=data.labels,
            random_state=split,
        )
        result = train(Dataset(seen_x, seen_y, "study"), TrainingConfig(target_sensitivity=target))
        probabilities = result.pipeline.predict_proba(unseen_x)[:, 1]
        malignant = probabilities >= result.threshold
        sensitivity.append(malignant[unseen_y == 1].mean())
        specificity.append((~malignant)[unseen_y == 0].mean())
        auc.append(roc_auc_score(unseen_y, probabilities))
    sens = np.array(sensitivity)
    return {
        "target": target,
        "sensitivity_mean": sens.mean(),
        "sensitivity_min": sens.min(),
        "share_at_floor": float((sens >= SENSITIVITY_FLOOR).mean()),
        "specificity_mean": float(np.mean(specificity)),
        "specificity_min": float(np.min(specificity)),
        "roc_auc_mean": float(np.mean(auc)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=30)
    parser.add_argument("--target-sensitivity", type=float, nargs="+", default=[0.98, 0.99])
    options = parser.parse_args()
    print(
        f"| target sensitivity | unseen sensitivity mean (min) | splits with sensitivity >= "
        f"{SENSITIVITY_FLOOR} | unseen specificity mean (min) | ROC-AUC mean |"
    )
    print("|---|---|---|---|---|")
    for target in options.target_sensitivity:
        row = study(target, options.splits)
        print(
            f"| {target} | {row['sensitivity_mean']:.3f} ({row['sensitivity_min']:.3f}) | "
            f"{row['share_at_floor']:.0%} | {row['specificity_mean']:.3f} "
            f"({row['specificity_min']:.3f}) | {row['roc_auc_mean']:.4f} |"
        )


if __name__ == "__main__":
    main()
