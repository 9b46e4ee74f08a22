"""Confirmed outcomes through the model: validated as :predict, scored, counted, nothing else."""

from __future__ import annotations

import orjson
import pytest
from kserve.errors import InvalidInput
from prometheus_client import REGISTRY

from predictor.feedback import CELLS
from predictor.model import BreastCancerModel
from tests.support import load_example

FEEDBACK = "breast_cancer_feedback_total"


def counts(model: BreastCancerModel) -> dict[str, float]:
    version = model.artifact.version
    return {
        cell: REGISTRY.get_sample_value(
            FEEDBACK, {"predicted": guess, "actual": truth, "model_version": version}
        )
        for (guess, truth), cell in CELLS.items()
    }


def test_the_four_counters_of_the_version_exist_from_load(model: BreastCancerModel) -> None:
    assert None not in counts(model).values()


def test_each_case_is_scored_and_counted_in_its_cell(model: BreastCancerModel) -> None:
    before = counts(model)
    answer = model.feedback(load_example("feedback_request.json"))
    expected = {"true_malignant": 2, "false_benign": 1, "false_malignant": 0, "true_benign": 2}
    assert answer["counted"] == 5 and answer["confusion"] == expected
    after = counts(model)
    assert {cell: after[cell] - before[cell] for cell in after} == expected
    missed = answer["feedback"][4]
    assert (missed["predicted"], missed["actual"]) == ("benign", "malignant")
    assert missed["probability_malignant"] < answer["threshold"]
    assert answer["model_version"] == model.artifact.version


def test_the_probabilities_are_the_ones_predict_answers(model: BreastCancerModel) -> None:
    body = load_example("feedback_request.json")
    predicted = model.predict(model.preprocess({"instances": body["instances"]}))
    answer = model.feedback(orjson_bytes(body))  # the route hands over the raw body
    assert [f["probability_malignant"] for f in answer["feedback"]] == [
        p["probability_malignant"] for p in predicted["predictions"]
    ]


@pytest.mark.parametrize("copies", [4, 8, 20])  # 20 to 100 cases: the batch paths too
def test_many_cases_are_counted_like_a_few(model: BreastCancerModel, copies: int) -> None:
    body = load_example("feedback_request.json")
    many = {key: value * copies for key, value in body.items()}
    few = model.feedback(body)["confusion"]
    assert model.feedback(many)["confusion"] == {cell: n * copies for cell, n in few.items()}


def orjson_bytes(body: dict) -> bytes:
    return orjson.dumps(body)


def with_outcomes(outcomes) -> dict:
    return {
        "instances": load_example("valid_batch_request.json")["instances"],
        "outcomes": outcomes,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [[1.0] * 30]}, 'request body has no "outcomes" key'),
        (with_outcomes("benign"), '"outcomes" must be a list of "malignant" or "benign"'),
        (with_outcomes(["benign"] * 3), '"outcomes" holds 3 outcome(s) for 4 instance(s)'),
        (
            with_outcomes(["benign", "Malignant", "benign", "benign"]),
            'outcome 1: expected "malignant" or "benign", got a string ("Malignant")',
        ),
        (with_outcomes(["benign", "benign", None, "benign"]), "outcome 2: expected"),
        (with_outcomes(["benign", "benign", "benign", 1]), "outcome 3: expected"),
        (b"{", "request body is not valid JSON"),
        ([], "request body must be a JSON object"),
    ],
    ids=[
        "no outcomes",
        "not a list",
        "too few",
        "capitalised",
        "null",
        "number",
        "not JSON",
        "list",
    ],
)
def test_bad_outcomes_are_refused_naming_the_problem_and_nothing_is_counted(
    model: BreastCancerModel, body, message: str
) -> None:
    before = counts(model)
    with pytest.raises(InvalidInput) as refused:
        model.feedback(body)
    assert message in str(refused.value)
    assert counts(model) == before


@pytest.mark.parametrize(
    "example",
    ["missing_features.json", "missing_key.json", "wrong_features_type.json", "invalid_type.json"],
)
def test_instances_are_refused_with_predict_s_own_message(
    model: BreastCancerModel, example: str
) -> None:
    body = {**load_example(example), "outcomes": ["benign"]}
    with pytest.raises(InvalidInput) as by_predict:
        model.preprocess(body)  # :predict ignores a key it does not know
    with pytest.raises(InvalidInput) as by_feedback:
        model.feedback(body)
    assert str(by_feedback.value) == str(by_predict.value)


def test_more_instances_than_allowed_are_refused_as_predict_does(model: BreastCancerModel) -> None:
    body = {"instances": [[15.0] * 30] * 101, "outcomes": ["benign"] * 101}
    with pytest.raises(InvalidInput, match="at most 100 are allowed"):
        model.feedback(body)
