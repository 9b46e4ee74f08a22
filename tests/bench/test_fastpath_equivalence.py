"""``predictor.fastpath`` changes speed, not answers: both servers, same requests, same bytes.

``python -m predictor --enable_fastpath false`` and ``python -m predictor`` run side by side;
every request below must get the same status, body and headers (bar the date) from both,
errors included, on the paths the direct V1 route takes and on those it must leave alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from kserve.errors import InvalidInput
from timing_asgi import TimingMiddleware
from timing_asgi.integrations import StarletteScopeToName

from predictor.serving import fastpath
from predictor.serving.fastpath import DirectV1Predict
from tests.support import (
    MODEL_NAME,
    RunningServer,
    load_example,
    running_predictor,
)

PREDICT = f"/v1/models/{MODEL_NAME}:predict"
INFER = f"/v2/models/{MODEL_NAME}/infer"
JSON = {"content-type": "application/json"}
BAD_TENSOR = {"name": "f", "shape": [1, 29], "datatype": "FP64", "data": [0] * 29}


@pytest.fixture(scope="module")
def servers(trained_dir: Path, tmp_path_factory) -> Iterator[tuple[RunningServer, RunningServer]]:
    """The predictor with its server fast path switched off, and as shipped (on)."""
    logs = tmp_path_factory.mktemp("fastpath")
    extra = ("--max_instances", "100")
    with (
        running_predictor(trained_dir, logs, *extra, "--enable_fastpath", "false") as plain,
        running_predictor(trained_dir, logs, *extra) as tuned,
    ):
        yield plain, tuned


def row() -> list[float]:
    return load_example("valid_request.json")["instances"][0]


def named() -> dict:
    return load_example("valid_named_request.json")["instances"][0]


REQUESTS = {
    "v1 one": ("POST", PREDICT, {"json": load_example("valid_request.json")}),
    "v1 batch": ("POST", PREDICT, {"json": {"instances": [row()] * 40}}),
    "v1 named batch": ("POST", PREDICT, {"json": {"instances": [named()] * 12}}),
    "v1 out of range": ("POST", PREDICT, {"json": load_example("out_of_range_request.json")}),
    "v1 boolean": ("POST", PREDICT, {"json": {"instances": [[True] * 30] * 12}}),
    "v1 string": ("POST", PREDICT, {"json": {"instances": [[*row()[:-1], "1.5"]] * 12}}),
    "v1 too many": ("POST", PREDICT, {"json": {"instances": [row()] * 101}}),
    "v1 missing key": ("POST", PREDICT, {"json": {"inputs": []}}),
    "v1 not json": ("POST", PREDICT, {"content": b"{", "headers": JSON}),
    "v1 text/plain": (
        "POST",
        PREDICT,
        {"content": b'{"instances": [[1]]}', "headers": {"content-type": "text/plain"}},
    ),
    "v1 form default": ("POST", PREDICT, {"content": b"mean radius=17.99"}),
    "v1 too deep": (
        "POST",
        PREDICT,
        {"content": b'{"instances": [[1]], "x": ' + b"[" * 40 + b"]" * 40 + b"}"},
    ),
    "v1 cloudevent": (
        "POST",
        PREDICT,
        {
            "json": load_example("valid_request.json"),
            "headers": {"content-type": "application/cloudevents+json"},
        },
    ),
    "v1 binary cloudevent": (
        "POST",
        PREDICT,
        {
            "json": load_example("valid_request.json"),
            "headers": {
                "ce-specversion": "1.0",
                "ce-source": "test",
                "ce-type": "t",
                "ce-id": "1",
            },
        },
    ),
    "v1 query string": ("POST", PREDICT + "?x=1", {"json": load_example("valid_request.json")}),
    "v1 unknown model": ("POST", "/v1/models/nope:predict", {"json": {"instances": [row()]}}),
    "v1 doubled verb": ("POST", PREDICT + ":predict", {"json": {"instances": [row()]}}),
    "v1 encoded name": (
        "POST",
        "/v1/models/breast%2Dcancer:predict",
        {"json": {"instances": [row()]}},
    ),
    "v1 trailing slash": ("POST", PREDICT + "/", {"json": {"instances": [row()]}}),
    "v1 GET on predict": ("GET", PREDICT, {}),
    "v1 explain": ("POST", f"/v1/models/{MODEL_NAME}:explain", {"json": {"instances": [row()]}}),
    "v2 infer": ("POST", INFER, {"json": load_example("v2_infer_request.json")}),
    "v2 bad shape": ("POST", INFER, {"json": {"inputs": [BAD_TENSOR]}}),
    "ready": ("GET", f"/v1/models/{MODEL_NAME}", {}),
    "metadata": ("GET", f"/v2/models/{MODEL_NAME}", {}),
    "live": ("GET", "/v2/health/live", {}),
}
# Differ between any two responses: dates, fresh ids (cloudevents, V2), the server's port.
IGNORED_HEADERS = {"date", "ce-id", "ce-time"}
FRESH_FIELDS = ("id", "time")


def normalised(response: httpx.Response, port: int) -> tuple:
    def neutral(text: str) -> str:
        return text.replace(f":{port}", ":PORT")

    headers = sorted(
        (k, neutral(v)) for k, v in response.headers.items() if k not in IGNORED_HEADERS
    )
    body: object = neutral(response.content.decode(errors="replace"))
    if response.headers.get("content-type", "").endswith("json") and body:
        body = response.json()
        if isinstance(body, dict):
            body = {k: (None if k in FRESH_FIELDS else v) for k, v in body.items()}
        headers = [(k, v) for k, v in headers if k != "content-length"]
    return response.status_code, headers, body


@pytest.mark.parametrize("name", list(REQUESTS))
def test_same_answer_with_and_without_fastpath(servers, name: str) -> None:
    method, path, options = REQUESTS[name]
    answers, raw = [], []
    for server in servers:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            response = client.request(method, path, **options)
        answers.append(normalised(response, server.http_port))
        raw.append(response.content)
    assert answers[0] == answers[1]
    if name.startswith("v1") and "cloudevent" not in name:
        assert raw[0] == raw[1]  # V1 bodies are byte-identical, not just equal as JSON


class Endpoints:
    """KServe-like handlers (module level, so FastAPI resolves their annotations)."""

    async def ready(self, model_name: str) -> dict:
        return {"name": model_name}

    async def predict(self, model_name: str, request: Request) -> Response:
        body = await request.body()
        if body == b"bad":
            raise InvalidInput("bad body")
        return Response(content=model_name.encode() + b":" + body)


class NoTimings:
    def timing(self, *args, **kwargs) -> None:
        pass


async def invalid_input(_request: Request, error: InvalidInput) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=400)


def kserve_like_app(tuned: bool) -> FastAPI:
    """A FastAPI app with KServe's V1 route layout, TimingMiddleware and an error handler."""
    app = FastAPI()
    endpoints = Endpoints()
    router = APIRouter(prefix="/v1")
    router.add_api_route("/models/{model_name}", endpoints.ready, methods=["GET"])
    router.add_api_route(
        "/models/{model_name}:predict", endpoints.predict, methods=["POST"], response_model=None
    )
    app.include_router(router)
    app.add_middleware(
        TimingMiddleware, client=NoTimings(), metric_namer=StarletteScopeToName("x", app)
    )
    app.add_exception_handler(InvalidInput, invalid_input)
    if tuned:
        fastpath.tune_app(app, keep_timing=False)
    return app


async def test_tune_app_installs_the_direct_route_and_drops_timing() -> None:
    plain, tuned = kserve_like_app(False), kserve_like_app(True)
    calls = [
        ("POST", "/v1/models/m:predict", b"x"),
        ("POST", "/v1/models/m:predict", b"bad"),
        ("POST", "/v1/models/a:b:predict", b"y"),
        ("GET", "/v1/models/m", b""),
        ("GET", "/v1/models/m:predict", b""),
        ("POST", "/v1/models/m", b""),
        ("POST", "/v1/models/m:predict/", b""),
        ("POST", "/v1/nothing", b""),
    ]
    for method, path, content in calls:
        answers = []
        for app in (plain, tuned):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.request(method, path, content=content)
            answers.append((response.status_code, response.content))
        assert answers[0] == answers[1], (method, path)
    layers, layer = [], tuned.middleware_stack
    while layer is not None:
        layers.append(type(layer))
        layer = getattr(layer, "app", None)
    assert DirectV1Predict in layers
    assert TimingMiddleware not in layers
