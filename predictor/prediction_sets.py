"""Prediction sets: every label a calibration on unseen rows cannot rule out, plus the label.

Training calibrates two cut points on rows the served model never fitted (class-conditional
split conformal, ``training/conformal.py``) and records them in ``metadata.json`` under
``prediction_sets``: malignant is in the conformal set when the probability is at least
``malignant_if_at_least``, benign when it is at most ``benign_if_at_most``. The served set
is that conformal set joined with the served label (``probability >= threshold``), so:

- a one-label set is always the label (the union only adds labels, so coverage can only
  rise above the calibrated one);
- a two-label set, ``["benign", "malignant"]``, says the model cannot tell at the stated
  coverage: indeterminate, refer;
- the set is never empty.

Labels in a set are in class order (benign, malignant). Over the Open Inference Protocol the
set is one BYTES element per instance, its labels joined by commas (``"benign,malignant"``).
Artifacts trained before prediction sets existed carry no cut points: they are served
without ``prediction_set``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL

PREDICTION_SET = "prediction_set"
METADATA_KEY = "prediction_sets"
SET_SEPARATOR = ","
# Set codes: label malignant (1) + 2 when the other label is in the set too.
BENIGN_ONLY, MALIGNANT_ONLY, BOTH_LABEL_BENIGN, BOTH_LABEL_MALIGNANT = range(4)
BOTH = [NEGATIVE_LABEL, POSITIVE_LABEL]
# The set of each code (the same list objects every time: they are only serialised).
SETS = ([NEGATIVE_LABEL], [POSITIVE_LABEL], BOTH, BOTH)
SET_NAMES = tuple(SET_SEPARATOR.join(labels) for labels in SETS)


def _object_array(items: tuple) -> np.ndarray:
    """A 1-D object array holding ``items`` themselves (numpy would nest equal-length lists)."""
    array = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        array[index] = item
    return array


# Up to this many instances Python comparisons beat numpy's per-call overhead (as for labels).
SMALL_BATCH = 16
_SETS = _object_array(SETS)
_SET_NAMES = _object_array(SET_NAMES)


@dataclass(frozen=True, slots=True)
class PredictionSets:
    """The cut points of one artifact and the decision threshold they are joined with."""

    coverage: float
    malignant_if_at_least: float
    benign_if_at_most: float
    threshold: float

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> PredictionSets | None:
        """The artifact's cut points, or None for an artifact trained without them.

        Raises:
            ValueError: ``prediction_sets`` present but not an object of numbers in [0, 1]
                (coverage in (0, 1)), naming the key.
        """
        recorded = metadata.get(METADATA_KEY)
        if recorded is None:
            return None
        if not isinstance(recorded, dict):
            raise ValueError(f"{METADATA_KEY} must be an object, got {type(recorded).__name__}")
        values = {
            name: _probability(recorded, name)
            for name in ("coverage", "malignant_if_at_least", "benign_if_at_most")
        }
        if not 0.0 < values["coverage"] < 1.0:
            raise ValueError(f"{METADATA_KEY}.coverage must be in (0, 1), got {values['coverage']}")
        threshold = metadata.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"threshold must be a number, got {threshold!r}")
        return cls(threshold=float(threshold), **values)

    def code_of(self, probability: float) -> int:
        """The set code of one probability (an index into ``SETS``)."""
        if probability >= self.threshold:
            return BOTH_LABEL_MALIGNANT if probability <= self.benign_if_at_most else MALIGNANT_ONLY
        return BOTH_LABEL_BENIGN if probability >= self.malignant_if_at_least else BENIGN_ONLY

    def codes(self, probabilities: np.ndarray | list[float]) -> np.ndarray:
        """Set codes of many probabilities (vectorised ``code_of``)."""
        values = np.asarray(probabilities, dtype=np.float64)
        malignant = values >= self.threshold
        other = np.where(
            malignant, values <= self.benign_if_at_most, values >= self.malignant_if_at_least
        )
        return malignant.view(np.uint8) + 2 * other.view(np.uint8)

    def sets(self, probabilities: np.ndarray | list[float]) -> list[list[str]]:
        """Each instance's set, as V1 answers it."""
        if len(probabilities) <= SMALL_BATCH:
            return [SETS[self.code_of(p)] for p in _floats(probabilities)]
        return _SETS[self.codes(probabilities)].tolist()

    def set_names(self, probabilities: np.ndarray | list[float]) -> list[str]:
        """Each instance's set as one comma-joined string, as V2 and gRPC answer it."""
        if len(probabilities) <= SMALL_BATCH:
            return [SET_NAMES[self.code_of(p)] for p in _floats(probabilities)]
        return _SET_NAMES[self.codes(probabilities)].tolist()


def _floats(probabilities: np.ndarray | list[float]) -> list[float]:
    return probabilities if type(probabilities) is list else probabilities.tolist()


def _probability(recorded: dict, name: str) -> float:
    value = recorded.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{METADATA_KEY}.{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{METADATA_KEY}.{name} must be in [0, 1], got {value!r}")
    return float(value)
