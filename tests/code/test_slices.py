"""Big V1 predictions in slices: the same bytes as in one go, and other requests in between."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import orjson
import pytest
from kserve.errors import InvalidInput
from kserve.model_repository import ModelRepository

from bench.payloads import training_rows
from predictor.model import BreastCancerModel
from predictor.serving import sliced_json
from predictor.serving.admission import InstanceBudget
from predictor.serving.fast_lane import FastLane
from predictor.settings import Settings
from tests.support import MODEL_NAME

PREDICT = f"/v1/models/{MODEL_NAME}:predict"
BIG = 10_000
JSON_TYPE = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def model(trained_dir: Path) -> BreastCancerModel:
    loaded = BreastCancerModel(MODEL_NAME, trained_dir, Settings(max_instances=BIG))
    loaded.load()
    return loaded


@pytest.fixture(scope="module")
def rows(trained_dir: Path) -> list[list[float]]:
    return training_rows(trained_dir, BIG)


def with_out_of_range(rows: list[list[float]]) -> list[list[float]]:
    changed = [list(row) for row in rows]
    for index in (3, 1500, 9999):
        changed[index][7] = 1e6  # far beyond the training range: a warning each
    return changed


def named(rows: list[list[float]], names: list[str]) -> list[dict]:
    return [dict(zip(names, row, strict=True)) for row in rows]


def whole(model: BreastCancerModel, payload: dict) -> bytes:
    return model.answer(payload, {}, cloudevent=False)[0]


@pytest.mark.parametrize("size", [1000, 7, 333])
@pytest.mark.parametrize("kind", ["in range", "out of range", "named", "integers"])
async def test_a_sliced_answer_is_the_whole_answer_byte_for_byte(model, rows, kind, size):
    count = BIG if size >= 333 else 100
    chosen = {
        "in range": rows[:count],
        "out of range": with_out_of_range(rows)[:count],
        "named": named(rows[:count], model.validator.feature_names),
        "integers": [[round(value) + 1 for value in row] for row in rows[:count]],
    }[kind]
    payload = {"instances": chosen}
    sliced = await model.answer_in_slices(payload, size)
    assert sliced is not None and sliced == whole(model, payload)


@pytest.mark.parametrize(
    "bad",
    [(2500, 4, "a string"), (9000, 0, None), (10, 29, True)],
    ids=["string in a later slice", "null", "boolean in the first slice"],
)
async def test_a_bad_value_in_any_slice_is_the_same_400_as_in_one_go(model, rows, bad) -> None:
    row, column, value = bad
    instances = [list(r) for r in rows]
    instances[row][column] = value
    payload = {"instances": instances}
    with pytest.raises(InvalidInput) as in_one_go:
        whole(model, payload)
    with pytest.raises(InvalidInput) as in_slices:
        await model.answer_in_slices(payload, 1000)
    assert str(in_slices.value) == str(in_one_go.value)
    assert f"instance {row}" in str(in_slices.value)


async def test_small_requests_are_left_to_the_whole_pipeline(model, rows) -> None:
    assert await model.answer_in_slices({"instances": rows[:1000]}, 1000) is None
    assert await model.answer_in_slices({"instances": rows}, 0) is None


@pytest.mark.parametrize("dump", [orjson.dumps, lambda doc: json.dumps(doc).encode()])
async def test_a_plain_body_parsed_in_pieces_is_the_whole_parse(rows, dump) -> None:
    body = dump({"instances": rows})
    pieces = sliced_json.sliced(body, 1000)
    assert pieces is not None and pieces.count == BIG and 9 <= len(pieces.pieces) <= 11
    assert await pieces.instances(32) == orjson.loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances":[[1,2],[3,4],[5,6]],"parameters":{}}',  # another key
        b'{"instances":[[1,"2"],[3,4],[5,6]]}',  # a string
        b' {"instances":[[1,2],[3,4],[5,6]]}',  # not how plain bodies begin
        b'{"instances":[[1,2],[3,4]]}',  # not more instances than a slice
    ],
)
def test_other_bodies_are_parsed_whole(body: bytes) -> None:
    assert sliced_json.sliced(body, 2) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances":[[1,2],[3,4],[5,6],]}',  # a stray comma: the whole does not parse
        b'{"instances":[[1,[2],3],[4,[5],6]]}',  # cut inside an instance
        b'{"instances":[[1,2],[3,NaN],[5,6],[7,8]]}',  # KServe answers NaN
        b'{"instances":[[1,2],[3,4],[[[[[[[[9]]]]]]]],[5,6]]}',  # deeper than allowed
    ],
)
async def test_pieces_that_do_not_parse_or_are_too_deep_leave_it_to_the_whole(body) -> None:
    pieces = sliced_json.sliced(body, 1)
    assert pieces is not None
    assert await pieces.instances(8) is None


def lane(model: BreastCancerModel, budget: InstanceBudget, size: int) -> FastLane:
    registry = ModelRepository()
    registry.update(model)

    async def nothing_else(scope, receive, send) -> None:  # every request here is the lane's
        raise AssertionError(f"the lane left {scope['path']} to the server")

    return FastLane(nothing_else, registry, budget=budget, slice_instances=size)


async def post(app: FastLane, body: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(PREDICT, content=body, headers=JSON_TYPE)


@pytest.mark.parametrize("size", [1000, 0])
async def test_a_single_case_is_answered_while_a_big_request_is_worked_on(model, rows, size):
    """In slices, the single case is answered while the big request still holds its
    instances; in one go (size 0), the big request has finished before it is even read."""
    budget = InstanceBudget(50_000)
    app = lane(model, budget, size)
    big_body = orjson.dumps({"instances": rows})
    big = asyncio.create_task(post(app, big_body))
    for _ in range(1000):  # until the big request has been read and admitted
        await asyncio.sleep(0)
        if budget.in_flight or big.done():
            break
    single = await post(app, orjson.dumps({"instances": rows[:1]}))
    in_flight_when_answered = budget.in_flight
    answer = await big
    assert single.status_code == 200 and answer.status_code == 200
    assert in_flight_when_answered == (BIG if size else 0)
    assert budget.in_flight == 0
    # The same bytes either way, and as the model's whole pipeline gives them.
    assert answer.content == whole(model, {"instances": rows})
