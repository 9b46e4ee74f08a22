"""``linear_model.json``: the folded logistic regression as plain numbers, read without unpickling.

Floats are written by ``json`` as the shortest decimal that parses back to the same double
(``repr``), so the predictor scores with bit-for-bit the weights training folded (tested).
The threshold lives in ``metadata.json``; the feature order is in both and must agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

from predictor.artifact import parse_json_object
from predictor.scoring import LinearScorer

LINEAR_MODEL_FILENAME = "linear_model.json"
DESCRIPTION = (
    "StandardScaler + LogisticRegression folded: p(malignant) = sigmoid(x . weights + bias), "
    "x in feature_names order; weights = coef / scale, bias = intercept - sum(coef * mean / "
    "scale). coef, mean, scale and intercept give the exact per-feature explanations."
)
VECTORS = ("weights", "coef", "mean", "scale")
SCALARS = ("bias", "intercept")


def dump_linear_model(scorer: LinearScorer, feature_names: Sequence[str]) -> bytes:
    """Serialise a folded model (bytes that ``load_linear_model`` reads back exactly)."""
    document = {
        "description": DESCRIPTION,
        "feature_names": list(feature_names),
        **{name: [float(v) for v in getattr(scorer, name)] for name in VECTORS},
        **{name: float(getattr(scorer, name)) for name in SCALARS},
    }
    return json.dumps(document, indent=2, allow_nan=False).encode() + b"\n"


def load_linear_model(content: bytes, feature_names: Sequence[str]) -> LinearScorer:
    """Parse ``linear_model.json`` for a model whose metadata lists ``feature_names``.

    Raises:
        ValueError: Not the expected document, a non-finite number, a wrong vector length, a
            scale that is not positive, or a feature order different from ``feature_names``.
    """
    document = parse_json_object(content, ("feature_names", *VECTORS, *SCALARS))
    if document["feature_names"] != list(feature_names):
        raise ValueError("its feature_names differ from metadata.json's (names or order)")
    width = len(feature_names)
    vectors = {name: _vector(document, name, width) for name in VECTORS}
    scalars = {name: _number(document[name], name) for name in SCALARS}
    if not np.all(vectors["scale"] > 0):
        raise ValueError("scale must be positive for every feature")
    return LinearScorer(**vectors, **scalars)


def _vector(document: dict, name: str, width: int) -> np.ndarray:
    values = document[name]
    if not isinstance(values, list) or len(values) != width:
        raise ValueError(f"{name} must be a list of {width} numbers")
    return np.array([_number(v, name) for v in values], dtype=np.float64)


def _number(value: object, name: str) -> float:
    # bool is an int subclass: true/false are not weights.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must hold finite numbers, got {value!r}")
    return float(value)
