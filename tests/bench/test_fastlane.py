"""The fast lane against KServe's own app, in one process, where a server cannot be made to fail.

``test_fastpath_equivalence.py`` compares two real servers; here the lane and KServe's app
(built by the server's own ``create_application``) share one loaded model, so a model that
fails or is not ready can be set up, and both must answer it alike.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from kserve import model_server as kserve_model_server
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.model_repository import ModelRepository
from kserve.protocol.model_repository_extension import ModelRepositoryExtension

from predictor.model import BreastCancerModel, ModelOptions
from predictor.serving.decoding import ClientInputDataPlane
from predictor.serving.fastlane import FastLane
from predictor.serving.limits import Limits
from predictor.serving.logs import LogSettings
from predictor.serving.server import PredictorRESTServer, ServerOptions
from tests.support import MODEL_NAME, load_example

PREDICT = f"/v1/models/{MODEL_NAME}:predict"


@pytest.fixture(scope="module")
def model(trained_dir) -> BreastCancerModel:
    loaded = BreastCancerModel(MODEL_NAME, trained_dir, ModelOptions(max_instances=100))
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
        options=ServerOptions(),
        limits=Limits(),
        log=LogSettings(),
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
    registry = ModelRepository()
    registry.update(model)
    transport = httpx.ASGITransport(app=FastLane(kserve_stand_in, registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(path, json=body)
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
    registry = ModelRepository()
    registry.update(model)
    transport = httpx.ASGITransport(app=FastLane(kserve_stand_in, registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(KServeReached):
            await client.post(V2_INFER, json=body)
