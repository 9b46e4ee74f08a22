"""Exact per-feature explanations for the folded logistic-regression model.

For ``log_odds = intercept + sum_i coef_i * (x_i - mean_i) / scale_i`` each term is the
feature's exact contribution; the intercept is the baseline (the log-odds of an instance
sitting at the training mean). No approximation is involved, so nothing else is offered:
other model types answer 501.
"""

from __future__ import annotations

import numpy as np

from predictor.responses import PROBABILITY_OUTPUT, decide_labels
from predictor.scoring import LinearScorer


class ExplanationUnavailable(NotImplementedError):
    """KServe maps NotImplementedError to HTTP 501."""


def explain_linear(
    scorer: LinearScorer,
    features: np.ndarray,
    feature_names: list[str],
    threshold: float,
    top_k: int,
) -> list[dict]:
    """Contributions to the log-odds of malignant, largest magnitude first.

    Returns:
        One dict per instance: label, probability, log-odds, baseline and the top ``top_k``
        contributions (feature, value, standardized value, contribution).
    """
    standardized = (features - scorer.mean) / scorer.scale
    contributions = standardized * scorer.coef
    baseline = scorer.intercept
    log_odds = baseline + contributions.sum(axis=1)
    probabilities = scorer.probability_malignant(features)
    labels = decide_labels(probabilities, threshold)
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :top_k]
    explanations = []
    for row in range(features.shape[0]):
        explanations.append(
            {
                "label": labels[row],
                PROBABILITY_OUTPUT: float(probabilities[row]),
                "log_odds": float(log_odds[row]),
                "baseline_log_odds": baseline,
                "contributions": [
                    {
                        "feature": feature_names[column],
                        "value": float(features[row, column]),
                        "standardized_value": float(standardized[row, column]),
                        "contribution": float(contributions[row, column]),
                    }
                    for column in order[row]
                ],
            }
        )
    return explanations


def unavailable(classifier: str) -> ExplanationUnavailable:
    return ExplanationUnavailable(
        f"explanations need a linear model (logistic_regression, whose per-feature "
        f"contributions are exact); this artifact's classifier is {classifier}, which has none"
    )
