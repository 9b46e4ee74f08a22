"""Validation rules: every rejected shape is a 400 (InvalidInput) naming instance and field."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest

from predictor.validation import INSTANCES_KEY, MAX_REPORTED_PROBLEMS, FeatureValidator
from training.data import FEATURE_NAMES

N = len(FEATURE_NAMES)
ROW = [float(i + 1) for i in range(N)]
MAX_INSTANCES = 5


@pytest.fixture
def validator() -> FeatureValidator:
    return FeatureValidator(list(FEATURE_NAMES), max_instances=MAX_INSTANCES)


def named(row: list) -> dict:
    return dict(zip(FEATURE_NAMES, row, strict=True))


def with_value(position: int, value) -> list:
    row = list(ROW)
    row[position] = value
    return row


REJECTED = {
    "body is a list": ([ROW], "must be a JSON object"),
    "body is a number": (3, "must be a JSON object"),
    "missing instances": ({"inputs": [ROW]}, f'no "{INSTANCES_KEY}" key'),
    "instances not a list": ({"instances": {"a": 1}}, "must be a list of instances, got an object"),
    "instances a string": ({"instances": "1,2"}, "must be a list of instances, got a string"),
    "empty instances": ({"instances": []}, "is empty"),
    "too many instances": ({"instances": [ROW] * (MAX_INSTANCES + 1)}, "at most 5"),
    "too few values": ({"instances": [ROW[:-1]]}, f"instance 0: expected {N} values"),
    "too many values": ({"instances": [ROW, [*ROW, 1.0]]}, f"instance 1: expected {N} values"),
    "string value": ({"instances": [with_value(2, "1.5")]}, "instance 0, feature 'mean perimeter'"),
    "null value": ({"instances": [with_value(0, None)]}, "got null"),
    "boolean value": ({"instances": [with_value(4, True)]}, "got a boolean (true)"),
    "nested list value": ({"instances": [with_value(5, [1.0])]}, "got a list"),
    "object value": ({"instances": [with_value(5, {"v": 1})]}, "got an object"),
    "NaN value": ({"instances": [with_value(7, math.nan)]}, "got nan"),
    "infinite value": ({"instances": [with_value(8, math.inf)]}, "got inf"),
    "integer beyond float64": ({"instances": [with_value(1, 10**400)]}, "401 digits, beyond"),
    "instance is a number": ({"instances": [ROW, 1.0]}, "instance 1: expected a list"),
    "one instance's numbers without their list": (
        {"instances": ROW[:MAX_INSTANCES]},
        f'"instances" holds {MAX_INSTANCES} number(s), not instances: an instance is a list of '
        f'{N} numbers (or an object), so one instance is sent as {{"instances": [[{N} numbers]]}}',
    ),
    "instance is null": ({"instances": [ROW, None]}, "instance 1: expected a list"),
    "named missing feature": (
        {"instances": [{k: v for k, v in named(ROW).items() if k != "worst area"}]},
        "missing feature(s) 'worst area'",
    ),
    "named unknown feature": (
        {"instances": [{**named(ROW), "radius": 1.0}]},
        "unknown feature(s) 'radius'",
    ),
    "named string value": (
        {"instances": [named(with_value(0, "x"))]},
        "instance 0, feature 'mean radius'",
    ),
    "mixed good and bad kinds": ({"instances": [ROW, "row"]}, "instance 1"),
    "not JSON bytes": (b"instances=1", "not valid JSON"),
    "truncated JSON bytes": (b'{"instances": [[1.0', "not valid JSON"),
}


@pytest.mark.parametrize(("payload", "message"), REJECTED.values(), ids=REJECTED.keys())
def test_v1_rejects(validator: FeatureValidator, payload, message: str) -> None:
    with pytest.raises(InvalidInput, match=_literal(message)):
        validator.v1(payload)


def test_v1_accepts_positional_named_and_mixed_ints(validator: FeatureValidator) -> None:
    ints = [int(v) for v in ROW]
    matrix = validator.v1({"instances": [ROW, named(ROW), ints]})
    assert matrix.dtype == np.float64
    assert matrix.shape == (3, N)
    np.testing.assert_array_equal(matrix[0], matrix[1])
    np.testing.assert_array_equal(matrix[2], np.array(ints, dtype=float))


def test_v1_accepts_json_bytes_from_any_content_type(validator: FeatureValidator) -> None:
    matrix = validator.v1(b'{"instances": [[' + ",".join(map(str, ROW)).encode() + b"]]}")
    np.testing.assert_array_equal(matrix[0], ROW)


def test_v1_named_order_does_not_matter(validator: FeatureValidator) -> None:
    reversed_object = dict(reversed(list(named(ROW).items())))
    np.testing.assert_array_equal(validator.v1({"instances": [reversed_object]})[0], ROW)


def test_v1_reports_at_most_a_few_problems(validator: FeatureValidator) -> None:
    bad = {"instances": [[None] * N]}
    with pytest.raises(InvalidInput) as raised:
        validator.v1(bad)
    assert str(raised.value).count("got null") == MAX_REPORTED_PROBLEMS


def v2_request(data, shape, datatype="FP64", inputs=1) -> InferRequest:
    tensors = [InferInput("features", shape, datatype, data) for _ in range(inputs)]
    return InferRequest(model_name="breast-cancer", infer_inputs=tensors)


def test_v2_accepts_flat_and_nested(validator: FeatureValidator) -> None:
    flat = validator.v2(v2_request(ROW + ROW, [2, N]))
    nested = validator.v2(v2_request([ROW, ROW], [2, N]))
    np.testing.assert_array_equal(flat, nested)
    assert flat.shape == (2, N)


def test_v2_one_instance_is_its_values_as_python_floats(validator: FeatureValidator) -> None:
    """As V1 returns one instance (flat data): the values the matrix path gives, as floats."""
    ints = [round(value) for value in ROW]
    for data in (ROW, ints):
        values = validator.v2(v2_request(data, [1, N]))
        assert type(values) is list and all(type(value) is float for value in values)
        np.testing.assert_array_equal(values, validator.v2(v2_request(data * 2, [2, N]))[0])


V2_REJECTED = {
    "two inputs": (v2_request(ROW, [1, N], inputs=2), "exactly 1 input"),
    "int datatype": (v2_request(ROW, [1, N], datatype="INT64"), "datatype must be one of"),
    "bytes datatype": (v2_request(ROW, [1, N], datatype="BYTES"), "got 'BYTES'"),
    "wrong width": (v2_request(ROW, [2, N // 2]), f"shape must be [N, {N}]"),
    "one-dimensional": (v2_request(ROW, [N]), "shape must be"),
    "zero rows": (v2_request([], [0, N]), "N >= 1"),
    "data shorter than shape": (v2_request(ROW, [2, N]), f"holds {N} values"),
    "string in data": (v2_request(with_value(3, "1"), [1, N]), "feature 'mean area'"),
    "boolean in data": (v2_request(with_value(1, False), [1, N]), "got a boolean"),
    "NaN in data": (v2_request(with_value(9, math.nan), [1, N]), "finite number"),
    "huge integer in data": (v2_request(with_value(2, -(10**400)), [1, N]), "beyond float64"),
    "too many rows": (v2_request(ROW * 6, [6, N]), "at most 5"),
}


@pytest.mark.parametrize(("request_", "message"), V2_REJECTED.values(), ids=V2_REJECTED.keys())
def test_v2_rejects(validator: FeatureValidator, request_, message: str) -> None:
    with pytest.raises(InvalidInput, match=_literal(message)):
        validator.v2(request_)


def _literal(text: str) -> str:
    import re

    return re.escape(text)
