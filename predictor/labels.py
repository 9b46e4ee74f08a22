"""The decision every answer carries: the label a probability gets at the artifact's threshold.

Shared by the server's responses (``predictor.responses``) and the batch CLI
(``predictor.batch``); it imports only numpy, so the batch CLI never loads KServe.
"""

from __future__ import annotations

import numpy as np

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL

# Output names of the API (V1 keys, V2 output tensors) and the batch CLI's CSV columns.
PROBABILITY_OUTPUT = "probability_malignant"
LABEL_OUTPUT = "label"
# Indexed by (probability >= threshold): an object array hands back the same str objects.
_LABELS = np.array([NEGATIVE_LABEL, POSITIVE_LABEL], dtype=object)
# Up to this many predictions a Python comprehension beats numpy's per-call overhead.
SMALL_BATCH = 16
# One instance's probability is a Python list of one float (no array was worth building).
Probabilities = np.ndarray | list[float]


def as_list(probabilities: Probabilities) -> list[float]:
    return probabilities if type(probabilities) is list else probabilities.tolist()


def decide_labels(probabilities: Probabilities, threshold: float) -> list[str]:
    """Malignant when the probability reaches the artifact's threshold."""
    if len(probabilities) <= SMALL_BATCH:
        return [
            POSITIVE_LABEL if probability >= threshold else NEGATIVE_LABEL
            for probability in as_list(probabilities)
        ]
    return _LABELS[(np.asarray(probabilities) >= threshold).view(np.uint8)].tolist()
