"""Human-readable progress and the closing summary table (stderr)."""

from __future__ import annotations

import sys

SUMMARY_METRICS = ("roc_auc", "accuracy", "sensitivity", "specificity", "precision", "brier")


def progress(message: str) -> None:
    print(f"[training] {message}", file=sys.stderr, flush=True)


def summary_table(metrics: dict) -> str:
    """Hold-out and out-of-fold metrics side by side, the hold-out prediction sets, then the
    hold-out confusion matrix."""
    holdout = metrics["holdout"]
    out_of_fold = metrics["cross_validation"]["out_of_fold"]
    lines = [
        f"{'metric (positive = malignant)':<30} {'hold-out':>10} {'train OOF':>10}",
        f"{'-' * 30} {'-' * 10} {'-' * 10}",
    ]
    for name in SUMMARY_METRICS:
        lines.append(f"{name:<30} {holdout[name]:>10.4f} {out_of_fold[name]:>10.4f}")
    lines.append(f"{'threshold':<30} {metrics['threshold']:>10.4f}")
    sets = metrics.get("prediction_sets")
    if sets:
        lines += [
            f"{'set coverage (target ' + str(sets['target_coverage']) + ')':<30} "
            f"{sets['coverage']:>10.4f}",
            f"{'set coverage, malignant':<30} {sets['coverage_malignant']:>10.4f}",
            f"{'two-label sets (share)':<30} {sets['two_label_share']:>10.4f}",
        ]
    lines += [
        "",
        "hold-out confusion matrix      predicted malignant  predicted benign",
        f"  actual malignant             {holdout['true_malignant']:>19}  "
        f"{holdout['false_benign']:>16}",
        f"  actual benign                {holdout['false_malignant']:>19}  "
        f"{holdout['true_benign']:>16}",
    ]
    return "\n".join(lines)
