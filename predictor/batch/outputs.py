"""What the batch CLI writes: the scored rows' columns and the refused rows' file.

Output columns, in order: every input column that is not a feature (passed through as its
text, unchanged), then

- ``probability_malignant``: as the API's, written in the shortest form that reads back as
  the same float64;
- ``label``: ``malignant`` when the probability reaches the artifact's threshold, else
  ``benign`` (``predictor.labels``, as in the API);
- ``prediction_set``: for an artifact with prediction sets, the labels of the row's set
  joined by ``,`` (``benign,malignant``: indeterminate), as the V2 output carries it;
- ``out_of_range``: the features outside the training range (the server's
  ``--range_margin`` rule), separated by ``;``, empty when none: the API's per-instance
  warnings, compactly (the value is in the input, the training range in the model card);
- ``model_version``: the artifact version that scored the row.

The errors file has ``row`` (1-based data row number: the header is not a row) and
``message``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from predictor.labels import LABEL_OUTPUT, PROBABILITY_OUTPUT, decide_labels
from predictor.loader import Artifact
from predictor.prediction_sets import PREDICTION_SET
from predictor.ranges import RangeChecker

OUT_OF_RANGE_COLUMN = "out_of_range"
MODEL_VERSION_COLUMN = "model_version"
# Every column the output may add (prediction_set only for an artifact with prediction sets).
SCORE_COLUMNS = (
    PROBABILITY_OUTPUT, LABEL_OUTPUT, PREDICTION_SET, OUT_OF_RANGE_COLUMN, MODEL_VERSION_COLUMN
)  # fmt: skip
OUT_OF_RANGE_SEPARATOR = ";"
ROW_COLUMN = "row"
MESSAGE_COLUMN = "message"
ERRORS_SCHEMA = pa.schema([(ROW_COLUMN, pa.int64()), (MESSAGE_COLUMN, pa.string())])


def output_schema(passthrough: list[str], prediction_sets: bool) -> pa.Schema:
    """The output file's columns: the passed-through ones, then the scores."""
    scores = [(PROBABILITY_OUTPUT, pa.float64()), (LABEL_OUTPUT, pa.string())]
    if prediction_sets:
        scores.append((PREDICTION_SET, pa.string()))
    scores += [(OUT_OF_RANGE_COLUMN, pa.string()), (MODEL_VERSION_COLUMN, pa.string())]
    return pa.schema([(name, pa.string()) for name in passthrough] + scores)


class Scorer:
    """Scores checked features with the artifact, and lays out the output columns."""

    def __init__(self, artifact: Artifact, range_margin: float):
        self.artifact = artifact
        names = artifact.feature_names
        self.ranges = RangeChecker(names, artifact.feature_min, artifact.feature_max, range_margin)
        self._names = np.array(names, dtype=object)

    def columns(self, features: np.ndarray) -> list[pa.Array]:
        """The score columns for rows whose features the checker passed, in the order of
        :func:`output_schema`."""
        artifact = self.artifact
        count = features.shape[0]
        probabilities = artifact.scorer.probability_malignant(features)
        labels = pa.array(decide_labels(probabilities, artifact.threshold), type=pa.string())
        columns = [pa.array(probabilities, type=pa.float64()), labels]
        if artifact.prediction_sets is not None:
            names = artifact.prediction_sets.set_names(probabilities)
            columns.append(pa.array(names, type=pa.string()))
        return [
            *columns,
            self._out_of_range(features),
            pa.array(np.full(count, artifact.version, dtype=object), type=pa.string()),
        ]

    def _out_of_range(self, features: np.ndarray) -> pa.Array:
        outside = self.ranges.outside(features)
        if outside is None:
            return pa.nulls(features.shape[0], type=pa.string())
        text = np.full(features.shape[0], None, dtype=object)
        for row in np.flatnonzero(outside.any(axis=1)).tolist():
            text[row] = OUT_OF_RANGE_SEPARATOR.join(self._names[outside[row]])
        return pa.array(text, type=pa.string())


def errors_batch(refused: list[tuple[int, str]]) -> pa.RecordBatch:
    """Refused rows as a batch of the errors file."""
    rows, messages = zip(*refused, strict=True) if refused else ((), ())
    return pa.record_batch(
        [pa.array(rows, type=pa.int64()), pa.array(messages, type=pa.string())],
        schema=ERRORS_SCHEMA,
    )
