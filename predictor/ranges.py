"""Out-of-range inputs: still scored (they are valid numbers) but never silently trusted."""

from __future__ import annotations

from collections.abc import Sequence
from operator import gt, lt

import numpy as np

from predictor.metrics import record_out_of_range


class RangeChecker:
    """Flags values outside ``[min - margin * span, max + margin * span]`` of the training rows."""

    def __init__(
        self, feature_names: list[str], low: list[float], high: list[float], margin: float
    ):
        self.feature_names = feature_names
        self.training_low = np.asarray(low, dtype=np.float64)
        self.training_high = np.asarray(high, dtype=np.float64)
        span = self.training_high - self.training_low
        self.low = self.training_low - margin * span
        self.high = self.training_high + margin * span
        self._low_list, self._high_list = self.low.tolist(), self.high.tolist()

    def contains(self, values: Sequence[float]) -> bool:
        """True when every value of one instance is in range (no warning, nothing counted).

        Plain float comparisons: for one instance cheaper than numpy's, and the same answer.
        """
        return not (any(map(lt, values, self._low_list)) or any(map(gt, values, self._high_list)))

    def outside(self, features: np.ndarray) -> np.ndarray | None:
        """Which values are out of range (a boolean matrix), or None when none is.

        Counts nothing: :meth:`warnings` adds the metrics; the batch CLI needs none.
        """
        outside = (features < self.low) | (features > self.high)
        return outside if outside.any() else None

    def warnings(self, features: np.ndarray) -> list[list[dict]] | None:
        """Per-instance warnings, or None when every value is in range (the common case)."""
        outside = self.outside(features)
        if outside is None:
            return None
        per_feature = outside.sum(axis=0)
        record_out_of_range(
            {self.feature_names[c]: int(per_feature[c]) for c in np.flatnonzero(per_feature)},
            int(outside.any(axis=1).sum()),
        )
        result: list[list[dict]] = [[] for _ in range(features.shape[0])]
        for row, column in np.argwhere(outside):
            result[row].append(
                {
                    "feature": self.feature_names[column],
                    "value": float(features[row, column]),
                    "training_min": float(self.training_low[column]),
                    "training_max": float(self.training_high[column]),
                    "message": "outside the training range; the prediction is less reliable",
                }
            )
        return result
