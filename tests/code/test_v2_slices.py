"""Big plain V2 JSON requests in slices: the same answer bytes as in one go, other requests
answered in between, and every other request left to the one-go path."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from kserve.errors import InvalidInput
from kserve.model_repository import ModelRepository
from kserve.protocol.infer_type import InferInput, InferRequest

from bench.payloads import training_rows
from predictor.model import BreastCancerModel
from predictor.serving import sliced_v2
from predictor.serving.admission import InstanceBudget
from predictor.serving.fast_lane import FastLane
from predictor.settings import Settings
from tests.artifact_edits import copy_without_prediction_sets
from tests.support import MODEL_NAME

INFER = f"/v2/models/{MODEL_NAME}/infer"
BIG = 10_000
SLICE = 1000
JSON_TYPE = {"content-type": "application/json"}
LEFT_TO_THE_SERVER = b"left to KServe's app"


def loaded(model_dir: Path) -> BreastCancerModel:
    model = BreastCancerModel(MODEL_NAME, model_dir, Settings(max_instances=BIG))
    model.load()
    return model


@pytest.fixture(scope="module")
def with_sets(trained_dir: Path) -> BreastCancerModel:
    model = loaded(trained_dir)
    assert model.artifact.prediction_sets is not None
    return model


@pytest.fixture(scope="module")
def without_sets(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BreastCancerModel:
    destination = tmp_path_factory.mktemp("v2-slices") / "no-sets"
    model = loaded(copy_without_prediction_sets(trained_dir, destination))
    assert model.artifact.prediction_sets is None
    return model


@pytest.fixture(scope="module")
def rows(trained_dir: Path) -> list[list[float]]:
    return training_rows(trained_dir, BIG)


def lane(model: BreastCancerModel, size: int, budget: InstanceBudget | None = None) -> FastLane:
    registry = ModelRepository()
    registry.update(model)

    async def server(scope, receive, send) -> None:  # what the lane leaves, answered alike
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": LEFT_TO_THE_SERVER})

    return FastLane(server, registry, budget=budget, slice_instances=size)


async def post(app: FastLane, body: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(INFER, content=body, headers=JSON_TYPE)


def v2_body(rows: list[list], datatype: str = "FP64", spaced: bool = False, **extra) -> bytes:
    tensor = {"name": "features", "shape": [len(rows), len(rows[0])], "datatype": datatype}
    document = {**extra, "inputs": [{**tensor, "data": [v for row in rows for v in row]}]}
    return json.dumps(document).encode() if spaced else orjson.dumps(document)


def without_new_id(content: bytes) -> bytes:
    """The answer with the uuid KServe's way draws for a request without id replaced."""
    drawn = orjson.loads(content)["id"]
    uuid.UUID(drawn)
    return content.replace(drawn.encode(), b"<uuid>")


async def both_ways(model: BreastCancerModel, body: bytes) -> tuple[httpx.Response, ...]:
    return await post(lane(model, 0), body), await post(lane(model, SLICE), body)


def out_of_range(rows: list[list[float]]) -> list[list[float]]:
    changed = [list(row) for row in rows]
    for index in (3, len(rows) // 2 + 1, len(rows) - 1):
        changed[index][7] = 1e6  # far beyond the training range: a warning each
    return changed


@pytest.mark.parametrize("sets", ["with sets", "without sets"])
@pytest.mark.parametrize("count", [1001, 1999, 2000, 2001, BIG])
@pytest.mark.parametrize(
    "kind", ["FP64", "FP32", "id", "spaced", "integers", "out of range", "empty id"]
)
async def test_a_plain_request_in_slices_is_answered_byte_for_byte_as_in_one_go(
    request, rows, sets, count, kind
) -> None:
    model = request.getfixturevalue(sets.replace(" ", "_"))
    chosen = rows[:count]
    if kind == "integers":
        chosen = [[round(v) + 1 for v in row[:15]] + row[15:] for row in chosen]
    if kind == "out of range":
        chosen = out_of_range(chosen)
    extra = {"id": f"request-{count}"} if kind == "id" else {"id": ""} if kind == "empty id" else {}
    body = v2_body(chosen, "FP32" if kind == "FP32" else "FP64", kind == "spaced", **extra)
    pieces = sliced_v2.sliced(body, SLICE, JSON_TYPE, MODEL_NAME)
    assert pieces is not None and pieces.count == count  # the new way, to the end:
    assert type(await model.answer_in_slices(await pieces.instances(32), SLICE)) is bytes
    one_go, sliced = await both_ways(model, body)
    assert one_go.status_code == sliced.status_code == 200
    if kind == "id":
        assert sliced.content == one_go.content
    else:
        assert without_new_id(sliced.content) == without_new_id(one_go.content)
    answer = orjson.loads(sliced.content)
    assert [len(output["data"]) for output in answer["outputs"]] == [count] * (
        3 if sets == "with sets" else 2
    )
    assert ("parameters" in answer) == (kind in ("out of range", "integers"))


def problem(rows: list[list[float]], change: str) -> bytes:
    """A big request that the one-go path refuses, or that is not plain."""
    chosen = [list(row) for row in rows[:2500]]
    if change in ("string", "boolean", "null"):
        chosen[2200][4] = {"string": "4.2", "boolean": True, "null": None}[change]
        return v2_body(chosen)
    if change == "huge integer":
        chosen[1700][1] = 0.123456789  # then written as an integer beyond float64
        return v2_body(chosen).replace(b"0.123456789", b"9" * 400)
    if change == "nested rows":
        return orjson.dumps(
            {
                "inputs": [
                    {"name": "features", "shape": [2500, 30], "datatype": "FP64", "data": chosen}
                ]
            }
        )
    document = orjson.loads(v2_body(chosen))
    tensor = document["inputs"][0]
    if change == "29 features":
        tensor["shape"] = [2586, 29]
    elif change == "too few values":
        tensor["shape"] = [2501, 30]
    elif change == "INT64":
        tensor["datatype"] = "INT64"
    elif change == "fp64 in lower case":
        tensor["datatype"] = "fp64"
    elif change == "too many instances":
        tensor["shape"] = [BIG + 1, 30]
        tensor["data"] = tensor["data"] * 5
    elif change == "outputs":
        document["outputs"] = [{"name": "label"}]
    elif change == "binary output":
        document["parameters"] = {"binary_data_output": True}
    elif change == "numeric id":
        document["id"] = 7
    return orjson.dumps(document)


PROBLEMS = [
    "string", "boolean", "null", "huge integer", "nested rows", "29 features", "too few values",
    "INT64", "fp64 in lower case", "too many instances", "outputs", "binary output", "numeric id",
]  # fmt: skip


# What the one-go path answers; 299: the lane leaves the request to KServe's app (a body
# orjson does not parse, binary outputs asked for, a body KServe's pydantic model refuses).
STATUS_OF = dict.fromkeys(PROBLEMS, 400) | {
    "huge integer": 299,
    "nested rows": 200,
    "fp64 in lower case": 200,
    "outputs": 200,
    "binary output": 299,
    "numeric id": 299,
}


@pytest.mark.parametrize("change", PROBLEMS)
async def test_any_other_big_request_is_answered_as_in_one_go(with_sets, rows, change) -> None:
    one_go, sliced = await both_ways(with_sets, problem(rows, change))
    assert sliced.status_code == one_go.status_code == STATUS_OF[change]
    if b'"id":"' in one_go.content and sliced.status_code == 200:
        assert without_new_id(sliced.content) == without_new_id(one_go.content)
    else:
        assert sliced.content == one_go.content


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[1,2,NaN]}]}',
        b'{"inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[1,2,,3]}]}',
        b'{"inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[1,2,3,]}]}',
        b'{"inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[1,2,1e400]}]}',
    ],
)
async def test_pieces_that_do_not_parse_leave_it_to_the_whole_body(body: bytes) -> None:
    pieces = sliced_v2.sliced(body, 1, {}, MODEL_NAME)
    assert pieces is not None and pieces.count == 3
    assert await pieces.instances(8) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"\\"data\\":[1,2,3]","inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[]}]}',
        b'{"inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[1,2,3]}],"x":1}',
        b'{"inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[1,2,3]}]}garbage',
        b'{"inputs":[{"name":"f","shape":[3.0,1],"datatype":"FP64","data":[1,2,3]}]}',
        b'{"inputs":[{"name":"f","shape":[2,1],"datatype":"FP64","data":[1,2,3]}]}',
    ],
    ids=["escapes", "another key", "trailing bytes", "float dimension", "not more than a slice"],
)
def test_other_bodies_are_not_sliced(body: bytes) -> None:
    assert sliced_v2.sliced(body, 2, {}, MODEL_NAME) is None


def test_only_bodies_kserve_parses_as_json_are_sliced() -> None:
    body = b'{"inputs":[{"name":"f","shape":[3,1],"datatype":"FP64","data":[1,2,3]}]}'
    for content_type in ("application/json", "Application/JSON; charset=utf-8"):
        assert sliced_v2.sliced(body, 2, {"content-type": content_type}, MODEL_NAME) is not None
    assert sliced_v2.sliced(body, 2, {"content-type": "text/plain"}, MODEL_NAME) is None


async def test_rows_in_some_slices_only_are_refused_as_in_one_go(with_sets, rows) -> None:
    """KServe's pydantic path can hand the model nested data: the validator flattens a
    tensor only when every item is a row, so the whole request decides."""
    data: list = [[v] for row in rows[:1000] for v in row] + [
        v for row in rows[1000:2000] for v in row
    ]
    request = InferRequest(MODEL_NAME, [InferInput("features", [2000, 30], "FP64", data)])
    with pytest.raises(InvalidInput) as in_one_go:
        with_sets.answer(request, {}, cloudevent=False)
    with pytest.raises(InvalidInput) as in_slices:
        await with_sets.answer_in_slices(request, SLICE)
    assert str(in_slices.value) == str(in_one_go.value)


@pytest.mark.parametrize("size", [SLICE, 0])
async def test_a_single_case_is_answered_while_a_big_v2_request_is_worked_on(with_sets, rows, size):
    """In slices, the single case is answered while the big request still holds its
    instances; in one go (size 0), the big request has finished before it is even read."""
    budget = InstanceBudget(50_000)
    app = lane(with_sets, size, budget)
    big = asyncio.create_task(post(app, v2_body(rows, id="big")))
    for _ in range(1000):  # until the big request has been read and admitted
        await asyncio.sleep(0)
        if budget.in_flight or big.done():
            break
    single = await post(app, v2_body(rows[:1]))
    in_flight_when_answered = budget.in_flight
    answer = await big
    assert single.status_code == 200 and answer.status_code == 200
    assert in_flight_when_answered == (BIG if size else 0)
    assert budget.in_flight == 0
