"""Metrics at a decision threshold, and choosing that threshold for a target sensitivity."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score


def select_threshold(labels: np.ndarray, probabilities: np.ndarray, target: float) -> float:
    """Pick the highest threshold whose sensitivity on these rows is at least ``target``.

    The highest such threshold keeps specificity as high as the target allows. Call it with
    out-of-fold probabilities of the training rows only, never with the hold-out split.

    Args:
        labels: 1 = malignant, 0 = benign.
        probabilities: Predicted probability of malignant for each row.
        target: Required sensitivity (malignant recall), in (0, 1].

    Returns:
        The threshold: predict malignant when probability >= threshold.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    positives = np.sort(probabilities[labels == 1])[::-1]
    if positives.size == 0:
        raise ValueError("no malignant rows to choose a threshold from")
    needed = math.ceil(target * positives.size - 1e-9)
    return float(positives[needed - 1])


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float
) -> dict[str, float | int]:
    """Compute the reported metrics, labelled explicitly (positive class = malignant).

    Args:
        labels: 1 = malignant, 0 = benign.
        probabilities: Predicted probability of malignant.
        threshold: Predict malignant when probability >= threshold.

    Returns:
        roc_auc, accuracy, sensitivity, specificity, precision, brier and the confusion
        matrix counts (true/false malignant/benign).
    """
    predicted = probabilities >= threshold
    actual = labels == 1
    tp = int(np.sum(predicted & actual))
    fn = int(np.sum(~predicted & actual))
    tn = int(np.sum(~predicted & ~actual))
    fp = int(np.sum(predicted & ~actual))
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "accuracy": (tp + tn) / len(labels),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "brier": float(brier_score_loss(labels, probabilities)),
        "true_malignant": tp,
        "false_benign": fn,
        "true_benign": tn,
        "false_malignant": fp,
    }


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0
