"""The numpy-only scorer: its sigmoid against SciPy's, and its JSON file read back exactly."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from scipy.special import expit

from predictor.linear_model import dump_linear_model, load_linear_model
from predictor.scoring import LinearScorer, sigmoid

ULP = np.finfo(np.float64).eps
LOG_ODDS = np.concatenate(
    [
        np.linspace(-800.0, 800.0, 400_001),
        np.geomspace(1e-300, 1e300, 2_001),
        -np.geomspace(1e-300, 1e300, 2_001),
        [0.0, -0.0, 5e-324, -5e-324, np.inf, -np.inf],
    ]
)


def test_sigmoid_matches_scipy_expit_to_a_few_ulp() -> None:
    ours, scipy = sigmoid(LOG_ODDS), expit(LOG_ODDS)
    representable = scipy > 0
    relative = np.abs(ours - scipy)[representable] / scipy[representable]
    assert relative.max() <= 8 * ULP
    # Where expit underflows to 0 ours is the (tiny, more accurate) exp(z), never more.
    assert ours[~representable].max() <= 1e-300


def test_sigmoid_never_overflows_and_keeps_its_limits() -> None:
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values = sigmoid(LOG_ODDS)
    assert values.min() == 0.0 and values.max() == 1.0
    assert sigmoid(np.array([0.0]))[0] == 0.5
    assert np.all(np.diff(sigmoid(np.linspace(-40, 40, 10_001))) >= 0)


@pytest.fixture
def scorer() -> LinearScorer:
    """Weights with full 17-digit mantissas, the kind training produces."""
    rng = np.random.default_rng(3)
    return LinearScorer(
        weights=rng.normal(size=30) / 7,
        bias=float(rng.normal() / 3),
        coef=rng.normal(size=30) / 11,
        mean=rng.uniform(0, 2500, size=30),
        scale=rng.uniform(1e-3, 600, size=30),
        intercept=float(rng.normal() / 13),
    )


def test_linear_model_json_reads_back_bit_for_bit(scorer: LinearScorer) -> None:
    names = [f"feature {i}" for i in range(30)]
    loaded = load_linear_model(dump_linear_model(scorer, names), names)
    for name in ("weights", "coef", "mean", "scale"):
        assert getattr(loaded, name).tobytes() == getattr(scorer, name).tobytes()
    assert (loaded.bias, loaded.intercept) == (scorer.bias, scorer.intercept)


def test_linear_model_json_parses_the_same_with_orjson(scorer: LinearScorer) -> None:
    content = dump_linear_model(scorer, [f"f{i}" for i in range(30)])
    assert orjson.loads(content) == json.loads(content)
