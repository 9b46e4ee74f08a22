"""The speed-ups in predictor/ must give exactly what the straightforward code gave.

Each fast path is compared with its reference: validation's packing of every value as a C
double with the per-value type check, one instance checked without numpy with the per-value
walk, one instance scored in Python floats with numpy's matrix product, the pre-serialised
V1 body with orjson's rendering of the dict, the synchronous pipeline (``answer``) with
KServe's ``Model.__call__``, the label lookup with ``np.where``.
"""

from __future__ import annotations

import logging
import math
import pickle

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kserve import Model
from kserve.errors import InvalidInput
from kserve.metrics import PRE_HIST_TIME, PREDICT_HIST_TIME
from kserve.model import InferenceVerb
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse
from sklearn.datasets import load_breast_cancer

from predictor import batched_metrics, validation
from predictor.model import BreastCancerModel, ValidatedBatch
from predictor.prediction_sets import SETS, PredictionSets
from predictor.responses import (
    ORJSON_OPTIONS,
    AnswerContext,
    OnePrediction,
    decide_labels,
    v1_body,
    v1_json,
)
from predictor.serving.logs import configure_logging
from predictor.settings import Settings
from predictor.validation import FeatureValidator
from training.data import FEATURE_NAMES

N = len(FEATURE_NAMES)
ROWS = 12  # at least validation.PACKED_MIN_ROWS: the packed path is the one tried first
ROW = [float(i + 1) for i in range(N)]


@pytest.fixture
def validator() -> FeatureValidator:
    return FeatureValidator(list(FEATURE_NAMES), max_instances=10_000)


def exact(validator: FeatureValidator, payload) -> np.ndarray:
    """The reference: the per-value type check only (vectorised path switched off)."""
    saved = validation.PACKED_MIN_ROWS
    validation.PACKED_MIN_ROWS = 10**9
    try:
        return validator.v1(payload)
    finally:
        validation.PACKED_MIN_ROWS = saved


def outcome(function, payload):
    try:
        return "ok", function(payload)
    except InvalidInput as error:
        return "rejected", str(error)


def assert_same_outcome(validator: FeatureValidator, payload) -> None:
    fast = outcome(validator.v1, payload)
    reference = outcome(lambda p: exact(validator, p), payload)
    assert fast[0] == reference[0]
    if fast[0] == "ok":
        assert fast[1].dtype == np.float64
        np.testing.assert_array_equal(fast[1], reference[1])
    else:
        assert fast[1] == reference[1]


def batch(value, position: int = 7, row: int = 5) -> dict:
    rows = [list(ROW) for _ in range(ROWS)]
    rows[row][position] = value
    return {"instances": rows}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "got a boolean (true)"),
        (False, "got a boolean (false)"),
        ("1.5", "got a string"),
        (None, "got null"),
        ([1.0], "got a list"),
        ({"v": 1.0}, "got an object"),
        (math.nan, "got nan"),
        (math.inf, "got inf"),
    ],
)
def test_vectorised_path_still_rejects_non_numbers(validator, value, message) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        validator.v1(batch(value))
    assert_same_outcome(validator, batch(value))


def test_booleans_hidden_among_many_zeros_and_ones_are_found(validator) -> None:
    rows = [[0.0] * N for _ in range(ROWS)]
    rows[-1][-1] = True
    assert_same_outcome(validator, {"instances": rows})
    rows = [[1] * N for _ in range(ROWS)]  # ints: every cell is a 0/1 candidate
    rows[3][4] = True
    with pytest.raises(InvalidInput, match="got a boolean"):
        validator.v1({"instances": rows})


@pytest.mark.parametrize(
    "rows",
    [
        [[int(v) for v in ROW]] * ROWS,  # ints only
        [ROW, [int(v) for v in ROW]] * (ROWS // 2),  # ints and floats
        [[*ROW[:-1], 2**63 + 1]] * ROWS,  # beyond int64, rounded to a double
        [[*ROW[:-1], 10**30]] * ROWS,
        [[*ROW[:-1], 2**53 + 1]] * ROWS,  # not a double: rounds like float(int)
        [[0.0] * N] * ROWS,  # all zeros: too many 0/1 cells, exact path
        [[-0.0, *ROW[1:]]] * ROWS,
    ],
)
def test_vectorised_path_accepts_exactly_what_the_exact_path_accepts(validator, rows) -> None:
    assert_same_outcome(validator, {"instances": rows})


def test_named_instances_take_the_vectorised_path_too(validator) -> None:
    named = [dict(zip(FEATURE_NAMES, ROW, strict=True)) for _ in range(ROWS)]
    assert_same_outcome(validator, {"instances": named})
    named[2]["mean area"] = "3"
    assert_same_outcome(validator, {"instances": named})


JSON_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 0.0, 1.0, True, False, None, "1.5", "x", [], {}]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.lists(
        st.floats(min_value=-1e6, max_value=1e6) | st.integers(-5, 5),
        min_size=N,
        max_size=N,
    ),
    count=st.integers(min_value=1, max_value=40),
    edits=st.lists(st.tuples(st.integers(0, 39), st.integers(0, N - 1), JSON_VALUES), max_size=4),
)
def test_any_batch_gets_the_same_answer_as_the_exact_path(base, count, edits) -> None:
    validator = FeatureValidator(list(FEATURE_NAMES), max_instances=10_000)
    rows = [list(base) for _ in range(count)]
    for row, column, value in edits:
        if row < count:
            rows[row][column] = value
    assert_same_outcome(validator, {"instances": rows})


def one_by_one(validator: FeatureValidator, instance) -> np.ndarray:
    """The reference for one instance: the per-value walk that names every problem."""
    return validator._checked_one_by_one([instance])


@settings(max_examples=300, deadline=None)
@given(
    base=st.lists(st.floats(-1e6, 1e6) | st.integers(-5, 5), min_size=N, max_size=N),
    edits=st.lists(st.tuples(st.integers(0, N - 1), JSON_VALUES), max_size=2),
    as_object=st.booleans(),
)
def test_one_instance_gets_the_same_answer_as_the_per_value_walk(base, edits, as_object):
    validator = FeatureValidator(list(FEATURE_NAMES), max_instances=10_000)
    for column, value in edits:
        base[column] = value
    instance = dict(zip(FEATURE_NAMES, base, strict=True)) if as_object else base
    fast = outcome(validator.v1_features, {"instances": [instance]})
    reference = outcome(lambda i: one_by_one(validator, i), instance)
    assert fast[0] == reference[0]
    if fast[0] == "ok":
        # A sequence of floats, or (values whose sum overflows) the matrix of the slow path.
        np.testing.assert_array_equal(np.array(fast[1], ndmin=2, dtype=float), reference[1])
    else:
        assert fast[1] == reference[1]


@pytest.mark.parametrize("row", [ROW, [int(v) for v in ROW], [1e308, 1e308, *ROW[2:]]])
def test_one_instance_stays_python_floats_unless_its_sum_overflows(validator, row) -> None:
    features = validator.v1_features({"instances": [row]})
    if row[0] == 1e308:
        assert isinstance(features, np.ndarray) and features.shape == (1, N)
    else:
        assert not isinstance(features, np.ndarray)
        assert all(type(value) is float for value in features)
    np.testing.assert_array_equal(np.array(features, ndmin=2), [row])


@pytest.fixture(scope="module")
def scorer(trained_dir):
    loaded = BreastCancerModel("breast-cancer", trained_dir)
    loaded.load()
    assert loaded.scorer.kind == "linear"
    return loaded.scorer


def test_one_instance_scores_as_numpy_does_to_the_last_bits(scorer) -> None:
    rows = load_breast_cancer().data
    numpy_scores = scorer.probability_malignant(rows)
    python_scores = np.array([scorer.probability_of_one(row) for row in rows.tolist()])
    # math.fsum rounds the sum once; BLAS rounds it its own way (it differs between a row
    # alone and the same row in a batch by as much): the last bits only.
    np.testing.assert_allclose(python_scores, numpy_scores, rtol=1e-14, atol=1e-300)
    assert np.array_equal(python_scores >= 0.5, numpy_scores >= 0.5)


@pytest.mark.parametrize("scale", [1e3, 1e200, -1e200, 1e308, -1e308, None])
@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
def test_one_instance_at_the_extremes_scores_as_numpy_does(scorer, scale) -> None:
    """Log-odds far beyond exp's range, products that overflow to infinity, and infinities
    of both signs (None: numpy's answer is nan)."""
    if scale is None:
        row = [1e308] * len(scorer.weights)
    else:
        row = (np.sign(scorer.weights) * scale).tolist()
    expected = scorer.probability_malignant(np.array([row]))[0]
    assert scorer.probability_of_one(row) == pytest.approx(expected, nan_ok=True, abs=1e-15)


@pytest.mark.parametrize("count", [1, 2, 16, 17, 1000])
def test_labels_match_np_where(count: int) -> None:
    probabilities = np.random.default_rng(count).random(count)
    probabilities[0] = 0.5
    expected = np.where(probabilities >= 0.5, "malignant", "benign").tolist()
    labels = decide_labels(probabilities, 0.5)
    assert labels == expected
    assert all(type(label) is str for label in labels)


# Cut points on both sides of the threshold (two-label sets on either label), and none.
CUTS = st.one_of(
    st.none(),
    st.tuples(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0)),
)


def answer_context(cuts, threshold: float, name: str = "m", version: str = "v1") -> AnswerContext:
    sets = None if cuts is None else PredictionSets(0.95, *cuts, threshold=threshold)
    return AnswerContext(threshold, name, version, sets)


@settings(max_examples=300, deadline=None)
@given(
    probabilities=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=60),
    threshold=st.floats(min_value=0.0, max_value=1.0),
    cuts=CUTS,
)
def test_v1_json_is_orjson_of_v1_body(probabilities, threshold, cuts) -> None:
    context = answer_context(cuts, threshold)
    array = np.array(probabilities, dtype=np.float64)
    body = v1_body(array, context)
    expected = orjson.dumps(body, option=ORJSON_OPTIONS)
    assert v1_json(array, context) == expected
    assert v1_json(array.tolist(), context) == expected  # one instance's form
    if len(probabilities) == 1:
        assert OnePrediction(context).json(probabilities[0]) == expected
    has_sets = context.prediction_sets is not None
    assert all(("prediction_set" in p) == has_sets for p in body["predictions"])


@pytest.mark.parametrize("probability", [0.0, 1.0, 5e-324, 0.2, 0.19999999999999998, 1 / 3])
@pytest.mark.parametrize("cuts", [None, (0.9, 0.3), (0.1, 0.15), (0.2, 0.2)])
def test_one_prediction_is_v1_json_of_one_instance(probability: float, cuts) -> None:
    context = answer_context(cuts, 0.2, "breast-cancer", "x")
    assert OnePrediction(context).json(probability) == v1_json([probability], context)


@pytest.mark.parametrize("cuts", [None, (0.3, 0.4)])
def test_v1_json_for_a_big_batch_and_extreme_values(cuts) -> None:
    context = answer_context(cuts, 0.2, "breast-cancer", "x")
    rng = np.random.default_rng(7)
    array = np.concatenate([rng.random(20_000), [0.0, 1.0, 5e-324, 1e-7, 1 / 3, 0.5]])
    expected = orjson.dumps(v1_body(array, context), option=ORJSON_OPTIONS)
    assert v1_json(array, context) == expected


@pytest.mark.parametrize("count", [1, 5, 1000])
def test_set_codes_match_the_rule_instance_by_instance(count: int) -> None:
    """The vectorised codes and sets are code_of's, which is the documented rule."""
    sets = PredictionSets(0.95, 0.3, 0.4, threshold=0.2)
    probabilities = np.random.default_rng(count).random(count)
    expected = []
    for probability in probabilities.tolist():
        labels = []
        if probability < 0.2 or probability <= 0.4:
            labels.append("benign")
        if probability >= 0.2 or probability >= 0.3:
            labels.append("malignant")
        expected.append(labels)
    assert sets.sets(probabilities) == expected
    assert sets.set_names(probabilities) == [",".join(labels) for labels in expected]
    assert [SETS[sets.code_of(p)] for p in probabilities.tolist()] == expected


# ---- the synchronous pipeline (answer) ---------------------------------------------------------


@pytest.fixture
def big_model(trained_dir) -> BreastCancerModel:
    loaded = BreastCancerModel("breast-cancer", trained_dir, Settings(max_instances=100))
    loaded.load()
    return loaded


def training_row(model: BreastCancerModel) -> list[float]:
    return ((model.ranges.training_low + model.ranges.training_high) / 2).tolist()


async def test_v1_call_returns_the_bytes_orjson_renders_from_predict(big_model) -> None:
    row = training_row(big_model)
    for count in (1, 2, 40):
        payload = {"instances": [row] * count}
        body, headers = await big_model(payload, headers={})
        expected = big_model.predict(big_model.preprocess(payload))
        assert body == orjson.dumps(expected, option=ORJSON_OPTIONS)
        assert headers == {"content-type": "application/json"}
        # and what KServe's own __call__ returns: the dict itself
        reference, _ = await Model.__call__(big_model, payload, headers={})
        assert orjson.loads(body) == orjson.loads(orjson.dumps(reference))


async def test_out_of_range_values_keep_their_warnings(big_model) -> None:
    row = training_row(big_model)
    row[3] = 1e9
    body, _ = await big_model({"instances": [row] * 20}, headers={})
    predictions = orjson.loads(body)["predictions"]
    assert all(p["warnings"][0]["feature"] == FEATURE_NAMES[3] for p in predictions)


async def test_cloudevent_requests_keep_the_dict(big_model) -> None:
    payload = {"instances": [training_row(big_model)]}
    headers = {"content-type": "application/cloudevents+json"}
    body, response_headers = await big_model(payload, headers=headers)
    assert isinstance(body, dict) and response_headers == {}


async def test_explain_and_v2_are_unchanged(big_model) -> None:
    row = training_row(big_model)
    explanation, _ = await big_model({"instances": [row]}, {}, InferenceVerb.EXPLAIN)
    assert isinstance(explanation, dict) and "explanations" in explanation
    tensor = InferInput("features", [1, N], "FP64", row)
    request = InferRequest(model_name="breast-cancer", infer_inputs=[tensor])
    response, headers = await big_model(request, headers={})
    assert isinstance(response, InferResponse) and headers == {}


def histogram_count(histogram, name: str) -> float:
    batched_metrics.flush()  # as a scrape does
    child = histogram.labels(model_name=name)
    return next(s.value for s in child.collect()[0].samples if s.name.endswith("_count"))


async def test_histograms_are_observed_even_when_a_stage_fails(big_model) -> None:
    name = big_model.name
    before = histogram_count(PRE_HIST_TIME, name), histogram_count(PREDICT_HIST_TIME, name)
    await big_model({"instances": [training_row(big_model)]}, headers={})
    with pytest.raises(InvalidInput):
        await big_model({"instances": [[True] * N]}, headers={})
    after = histogram_count(PRE_HIST_TIME, name), histogram_count(PREDICT_HIST_TIME, name)
    assert after == (before[0] + 2, before[1] + 1)


async def test_latency_line_when_latency_logging_is_on(big_model, caplog) -> None:
    big_model.enable_latency_logging = True
    trace = logging.getLogger("kserve.trace")
    trace.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="kserve.trace"):
            await big_model({"instances": [training_row(big_model)]}, {"x-request-id": "r-1"})
    finally:
        trace.removeHandler(caplog.handler)
    assert any("requestId: r-1, preprocess_ms:" in r.getMessage() for r in caplog.records)


def test_model_survives_pickling_for_workers(big_model) -> None:
    copy = pickle.loads(pickle.dumps(big_model))  # metric children: per process, not pickled
    for features in (np.array([training_row(big_model)] * 2), training_row(big_model)):
        batch_ = ValidatedBatch(features)
        assert copy.predict_json(batch_) == big_model.predict_json(batch_)


class AsyncPredictModel(BreastCancerModel):
    """A subclass whose predict is a coroutine: answer() cannot run it."""

    async def predict(self, payload, headers=None):
        return BreastCancerModel.predict(self, payload, headers)


async def test_a_subclass_with_an_async_handler_takes_kserves_pipeline(trained_dir) -> None:
    model = AsyncPredictModel("breast-cancer", trained_dir)
    model.load()
    assert not model.answers_synchronously
    payload = {"instances": [training_row(model)]}
    response, headers = await model(payload, headers={})
    assert isinstance(response, dict) and headers == {}  # KServe's __call__ returns the dict
    assert response["predictions"][0]["label"] in ("benign", "malignant")


def test_access_logger_has_no_handler_when_off() -> None:
    access = logging.getLogger("uvicorn.access")
    try:
        configure_logging(Settings())
        assert not access.hasHandlers()  # uvicorn then skips building the line's arguments
        configure_logging(Settings(enable_access_log=True))
        assert access.hasHandlers()
    finally:
        configure_logging(Settings())
