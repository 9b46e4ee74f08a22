"""The fast lane against KServe's own app, in one process, where a server cannot be made to fail.

``test_fast_lane_equivalence.py`` compares two real servers; here the lane and KServe's app
(built by the server's own ``create_application``) share one loaded model, so a model that
fails or is not ready can be set up, and both must answer it alike.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson
import pytest
from kserve import model_server as kserve_model_server
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.model_repository import ModelRepository
from kserve.protocol.model_repository_extension import ModelRepositoryExtension
from prometheus_client import REGISTRY

from predictor import batched_metrics
from predictor.model import BreastCancerModel
from predictor.serving.decoding import ClientInputDataPlane
from predictor.serving.drain import Drain
from predictor.serving.fast_lane import FastLane
from predictor.serving.limits import RequestLimitMiddleware
from predictor.serving.refusals import RefusedRoutesMiddleware
from predictor.serving.server import PredictorRESTServer
from predictor.settings import Settings
from tests.support import MODEL_NAME, load_example

PREDICT = f"/v1/models/{MODEL_NAME}:predict"
VALID_BYTES = orjson.dumps(load_example("valid_request.json"))


@pytest.fixture(scope="module")
def model(trained_dir) -> BreastCancerModel:
    loaded = BreastCancerModel(MODEL_NAME, trained_dir, Settings(max_instances=100))
    loaded.load()
    return loaded


@pytest.fixture(scope="module")
def apps(model: BreastCancerModel) -> tuple:
    """KServe's app as the server builds it, and the lane in front of it."""
    registry = ModelRepository()
    registry.update(model)
    dataplane = ClientInputDataPlane(model_registry=registry)
    rest = PredictorRESTServer(
        FASTAPI_APP_IMPORT_STRING,
        dataplane,
        ModelRepositoryExtension(model_registry=registry),
        0,
        settings=Settings(),
    )
    rest.create_application()
    kserve_app = kserve_model_server.app
    return kserve_app, FastLane(kserve_app, registry)


async def answers(apps: tuple, caplog=None, **request) -> list[tuple]:
    """(status, headers, body, KServe's log records) from KServe's app and from the lane."""
    results = []
    for app in apps:
        if caplog is not None:
            caplog.clear()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(PREDICT, **request)
        records = [
            (r.name, r.levelname, r.getMessage(), type(r.exc_info[1]) if r.exc_info else None)
            for r in (caplog.records if caplog is not None else [])
            if r.name == "kserve"
        ]
        results.append(
            (response.status_code, response.headers.multi_items(), response.content, records)
        )
    return results


async def test_an_unexpected_model_failure_is_answered_as_kserve_answers_it(
    apps, model, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(model, "scorer", None)  # predict now fails with an AttributeError
    kserve_logger = logging.getLogger("kserve")
    # Each record once, whether or not our log setup has stopped its propagation.
    monkeypatch.setattr(kserve_logger, "propagate", False)
    kserve_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.ERROR, logger="kserve"):
            kserve, lane = await answers(apps, caplog, json=load_example("valid_request.json"))
    finally:
        kserve_logger.removeHandler(caplog.handler)
    assert kserve == lane
    assert kserve[0] == 500 and b"AttributeError" in kserve[2]
    assert kserve[3] == [("kserve", "ERROR", "Exception:", AttributeError)]


async def test_the_failure_reaches_the_server_as_it_does_from_kserve(apps, model, monkeypatch):
    """KServe's server-error middleware answers, then re-raises to uvicorn (which logs it)."""
    monkeypatch.setattr(model, "scorer", None)
    for app in apps:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with pytest.raises(AttributeError):
                await client.post(PREDICT, json=load_example("valid_request.json"))


async def test_a_model_that_is_not_ready_is_left_to_kserve(apps, model, monkeypatch) -> None:
    monkeypatch.setattr(model, "ready", False)
    kserve, lane = await answers(apps, json=load_example("valid_request.json"))
    assert kserve == lane
    assert kserve[0] == 503


async def test_a_prediction_is_the_same_bytes_in_process(apps) -> None:
    kserve, lane = await answers(apps, json=load_example("valid_batch_request.json"))
    assert kserve == lane
    assert kserve[0] == 200


class KServeReached(Exception):
    """Raised by the stand-in for KServe's app: the lane handed the request on."""


async def kserve_stand_in(scope, receive, send) -> None:
    raise KServeReached(scope["path"])


async def post_to_lane_alone(model: BreastCancerModel, path: str, **request) -> httpx.Response:
    """POST to a lane for ``model`` whose server is the stand-in for KServe's app."""
    registry = ModelRepository()
    registry.update(model)
    transport = httpx.ASGITransport(app=FastLane(kserve_stand_in, registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, **request)


class UnhealthyModel(BreastCancerModel):
    """Loaded and ready, but its own health check says no."""

    async def healthy(self) -> bool:
        return False


async def test_a_model_with_its_own_failing_health_check_is_left_to_kserve(trained_dir) -> None:
    """The lane reads ``ready`` only where KServe's default ``healthy()`` would."""
    model = UnhealthyModel(MODEL_NAME, trained_dir)
    model.load()
    with pytest.raises(KServeReached):
        await post_to_lane_alone(model, PREDICT, content=VALID_BYTES)


V2_INFER = f"/v2/models/{MODEL_NAME}/infer"
V2_ONE = {"inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP64", "data": []}]}


def v2_one(**extra) -> dict:
    row = load_example("valid_request.json")["instances"][0]
    return {"inputs": [{**V2_ONE["inputs"][0], "data": row}], **extra}


@pytest.mark.parametrize(
    ("path", "body"),
    [(PREDICT, load_example("valid_request.json")), (V2_INFER, v2_one())],
    ids=["v1 predict", "v2 infer"],
)
async def test_the_lane_answers_valid_predictions_itself(model, path: str, body: dict) -> None:
    response = await post_to_lane_alone(model, path, json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "body",
    [
        v2_one(parameters={"binary_data_output": True}),
        v2_one(outputs=[{"name": "label", "parameters": {"binary_data": True}}]),
        {"inputs": "not a list"},
    ],
    ids=["binary outputs", "binary output of one", "not KServe's InferenceRequest"],
)
async def test_the_lane_leaves_what_it_does_not_imitate_to_kserve(model, body: dict) -> None:
    with pytest.raises(KServeReached):
        await post_to_lane_alone(model, V2_INFER, json=body)


def lane_with_layers(model, app, **limits) -> tuple[FastLane, Drain]:
    """The lane with the server's layer objects, as ``PredictorRESTServer.wrap`` builds it."""
    registry = ModelRepository()
    registry.update(model)
    drain = Drain()
    limited = RequestLimitMiddleware(app, Settings(**limits))
    lane = FastLane(
        app,
        registry,
        drain=drain,
        refusals=RefusedRoutesMiddleware(limited, enable_model_repository_api=False),
        limits=limited,
    )
    return lane, drain


async def post(app, path: str, **request) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, **request)


@pytest.mark.parametrize(
    ("path", "request_options", "draining"),
    [
        (PREDICT, {"json": load_example("valid_request.json")}, True),
        (f"{V2_INFER}?model_version=1", {"json": v2_one()}, False),
        # Valid JSON as it arrived: only the encoding says the limits layer must inflate it.
        (PREDICT, {"content": VALID_BYTES, "headers": {"content-encoding": "gzip"}}, False),
    ],
    ids=["draining", "refused route", "compressed body"],
)
async def test_what_a_layer_acts_on_is_left_to_the_layers(
    model, path: str, request_options: dict, draining: bool
) -> None:
    lane, drain = lane_with_layers(model, kserve_stand_in)
    drain.draining = draining
    with pytest.raises(KServeReached):
        await post(lane, path, **request_options)


async def test_a_body_nested_too_deep_gets_the_limits_400_from_the_lane(model):
    limits = RequestLimitMiddleware(kserve_stand_in, Settings(max_json_depth=4))
    registry = ModelRepository()
    registry.update(model)
    lane = FastLane(limits, registry, limits=limits)
    body = b'{"instances": [[1]], "x": [[[[[]]]]]}'
    answers = []
    for app in (limits, lane):
        response = await post(
            app, PREDICT, content=body, headers={"content-type": "application/json"}
        )
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0] == (400, {"error": "request body is nested 6 levels deep; at most 4 are "
                                "allowed (server flag --max_json_depth)"})  # fmt: skip


async def test_the_lane_counts_its_answers_in_the_request_metrics(model) -> None:
    lane, _ = lane_with_layers(model, kserve_stand_in)
    before = requests_counted("2xx"), requests_counted("4xx")
    assert (await post(lane, PREDICT, json=load_example("valid_request.json"))).status_code == 200
    assert (await post(lane, PREDICT, json={"instances": [[1]]})).status_code == 400
    assert (requests_counted("2xx"), requests_counted("4xx")) == (before[0] + 1, before[1] + 1)


async def test_a_body_that_never_arrives_gets_the_deadlines_408_from_the_lane(model) -> None:
    lane, _ = lane_with_layers(model, kserve_stand_in, request_timeout=0.2)
    scope = {
        "type": "http",
        "method": "POST",
        "path": PREDICT,
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"10")],
    }
    sent = []

    async def stalled() -> dict:
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    before = requests_counted("4xx")
    await asyncio.wait_for(lane(scope, stalled, send), timeout=5)
    assert sent[0]["status"] == 408
    assert b"not received within 0.2 s" in sent[1]["body"]
    assert requests_counted("4xx") == before + 1


def requests_counted(status_class: str) -> float:
    batched_metrics.flush()  # as a scrape does
    labels = {"endpoint": "predict", "status_class": status_class}
    return REGISTRY.get_sample_value("breast_cancer_http_requests_total", labels) or 0.0


async def test_a_chunked_body_past_the_limit_gets_the_limits_413_from_the_lane(model) -> None:
    """No Content-Length: the lane reads with the limits' own reader, which stops once the
    body outgrows the limit, and answers the 413 the limits answer without the lane."""
    limits = RequestLimitMiddleware(kserve_stand_in, Settings(max_body_bytes=100))
    registry = ModelRepository()
    registry.update(model)
    lane = FastLane(limits, registry, limits=limits)

    async def chunks():
        yield b'{"instances": [['
        yield b"1.0, " * 40
        yield b"1.0]]}"

    answers = []
    for app in (limits, lane):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(PREDICT, content=chunks())
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 413 and "at most 100 bytes" in answers[0][1]["error"]
