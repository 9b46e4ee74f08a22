"""The fast lane changes speed, not answers: both servers, same requests, same bytes, same logs.

``python -m predictor --enable_fast_lane false`` (every request through KServe's app) and
``python -m predictor`` (V1 predictions through ``predictor/serving/fast_lane.py``) run side by
side; every request below must get the same status, body and headers (bar the date) from
both, and leave the same log lines, errors included: on the paths the lane answers, on those
it hands to KServe after reading the body, and on those it must leave alone.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

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
EXAMPLES = Path(__file__).parents[2] / "examples"
VALID = (EXAMPLES / "valid_request.json").read_bytes()
CLOUDEVENT_HEADERS = {"ce-specversion": "1.0", "ce-source": "test", "ce-type": "t", "ce-id": "1"}


@pytest.fixture(scope="module")
def servers(trained_dir: Path, tmp_path_factory) -> Iterator[tuple[RunningServer, RunningServer]]:
    """The predictor with its fast lane switched off, and as shipped (on)."""
    logs = tmp_path_factory.mktemp("fast-lane")
    extra = ("--max_instances", "100")
    with (
        running_predictor(trained_dir, logs, *extra, "--enable_fast_lane", "false") as plain,
        running_predictor(trained_dir, logs, *extra) as tuned,
    ):
        yield plain, tuned


def row() -> list[float]:
    return load_example("valid_request.json")["instances"][0]


def named() -> dict:
    return load_example("valid_named_request.json")["instances"][0]


def chunks() -> Iterator[bytes]:
    yield VALID[:100]
    yield VALID[100:]


def form(content: bytes) -> dict:
    return {"content": content, "headers": {"content-type": "application/x-www-form-urlencoded"}}


def typed(content_type: str, content: bytes = VALID) -> dict:
    return {"content": content, "headers": {"content-type": content_type}}


def tensor(rows: list[list], datatype: str = "FP64", **extra) -> dict:
    """A V2 request of one ``features`` tensor holding ``rows``, plus top-level ``extra``."""
    data = [value for values in rows for value in values]
    inputs = [{"name": "features", "shape": [len(rows), 30], "datatype": datatype, "data": data}]
    return {"json": {"inputs": inputs, **extra}}


def v2_bytes(content: bytes, content_type: str | None = "application/json") -> dict:
    return {"content": content, "headers": {"content-type": content_type} if content_type else {}}


def encoded(encoding: str, content: bytes) -> dict:
    return {"content": content, "headers": {**JSON, "content-encoding": encoding}}


REQUESTS = {
    "v1 one": ("POST", PREDICT, {"json": load_example("valid_request.json")}),
    "v1 one named": ("POST", PREDICT, {"json": load_example("valid_named_request.json")}),
    "v1 one of ints": ("POST", PREDICT, {"json": {"instances": [[round(v) for v in row()]]}}),
    "v1 two": ("POST", PREDICT, {"json": {"instances": [row(), named()]}}),
    "v1 batch": ("POST", PREDICT, {"json": {"instances": [row()] * 40}}),
    "v1 named batch": ("POST", PREDICT, {"json": {"instances": [named()] * 12}}),
    "v1 out of range": ("POST", PREDICT, {"json": load_example("out_of_range_request.json")}),
    "v1 boolean": ("POST", PREDICT, {"json": {"instances": [[True] * 30] * 12}}),
    "v1 one boolean": ("POST", PREDICT, {"json": {"instances": [[*row()[:-1], False]]}}),
    "v1 string": ("POST", PREDICT, {"json": {"instances": [[*row()[:-1], "1.5"]] * 12}}),
    "v1 one big integer": ("POST", PREDICT, {"json": {"instances": [[2**63 + 1, *row()[1:]]]}}),
    "v1 number beyond float64": (
        "POST",
        PREDICT,
        {"content": b'{"instances": [[' + b"9" * 400 + b"]]}", "headers": JSON},
    ),
    "v1 one too short": ("POST", PREDICT, {"json": {"instances": [row()[:-1]]}}),
    "v1 too many": ("POST", PREDICT, {"json": {"instances": [row()] * 101}}),
    "v1 empty instances": ("POST", PREDICT, {"json": {"instances": []}}),
    "v1 missing key": ("POST", PREDICT, {"json": {"inputs": []}}),
    "v1 non-ascii key": ("POST", PREDICT, {"json": {"instänces": [row()], "\u2603": 1}}),
    "v1 body is null": ("POST", PREDICT, {"content": b"null", "headers": JSON}),
    "v1 body is a string": ("POST", PREDICT, {"content": b'"instances"', "headers": JSON}),
    "v1 not json": ("POST", PREDICT, {"content": b"{", "headers": JSON}),
    "v1 NaN literal": ("POST", PREDICT, {"content": b'{"instances": [[NaN]]}', "headers": JSON}),
    "v1 empty body": ("POST", PREDICT, {"content": b"", "headers": JSON}),
    "v1 empty form body": ("POST", PREDICT, form(b"")),
    "v1 text/plain": ("POST", PREDICT, typed("text/plain", b'{"instances": [[1]]}')),
    "v1 form default": ("POST", PREDICT, {"content": b"mean radius=17.99"}),
    "v1 form default valid": ("POST", PREDICT, form(VALID)),
    "v1 no content type": ("POST", PREDICT, {"content": VALID}),
    "v1 json charset": ("POST", PREDICT, typed("application/json; charset=utf-8")),
    "v1 json upper case": ("POST", PREDICT, typed("Application/JSON")),
    "v1 ld+json": ("POST", PREDICT, typed("application/ld+json")),
    "v1 octet-stream": ("POST", PREDICT, typed("application/octet-stream")),
    "v1 two content types": (
        "POST",
        PREDICT,
        {"content": VALID, "headers": [("content-type", "text/plain"), ("content-type", "a/b")]},
    ),
    "v1 chunked": ("POST", PREDICT, {"content": chunks, "headers": JSON}),
    "v1 too deep": (
        "POST",
        PREDICT,
        {"content": b'{"instances": [[1]], "x": ' + b"[" * 40 + b"]" * 40 + b"}"},
    ),
    "v1 too large": ("POST", PREDICT, {"content": b" " * (16 * 1024 * 1024 + 1)}),
    "v1 gzip": ("POST", PREDICT, encoded("gzip", gzip.compress(VALID))),
    "v1 deflate": ("POST", PREDICT, encoded("deflate", zlib.compress(VALID))),
    "v1 corrupt gzip": ("POST", PREDICT, encoded("gzip", b"not gzip at all")),
    "v1 unsupported encoding": ("POST", PREDICT, encoded("br", VALID)),
    "v1 gzip inflates too large": (
        "POST",
        PREDICT,
        encoded("gzip", gzip.compress(b" " * (16 * 1024 * 1024 + 1))),
    ),
    "v1 cloudevent": (
        "POST",
        PREDICT,
        typed("application/cloudevents+json"),
    ),
    "v1 binary cloudevent": (
        "POST",
        PREDICT,
        {"json": load_example("valid_request.json"), "headers": CLOUDEVENT_HEADERS},
    ),
    "v1 one cloudevent header": (
        "POST",
        PREDICT,
        {"json": load_example("valid_request.json"), "headers": {"ce-id": "1"}},
    ),
    "v1 structured cloudevent as json": (
        "POST",
        PREDICT,
        {
            "json": {
                "specversion": "1.0",
                "id": "1",
                "source": "test",
                "type": "t",
                "time": "2026-01-01T00:00:00Z",
                "data": load_example("valid_request.json"),
            }
        },
    ),
    "v1 binary extension header": (
        "POST",
        PREDICT,
        {"content": VALID, "headers": {**JSON, "inference-header-content-length": "x"}},
    ),
    "v1 request id": (
        "POST",
        PREDICT,
        {"json": load_example("valid_request.json"), "headers": {"x-request-id": "r-1"}},
    ),
    "v1 query string": ("POST", PREDICT + "?x=1", {"json": load_example("valid_request.json")}),
    "v1 unknown model": ("POST", "/v1/models/nope:predict", {"json": {"instances": [row()]}}),
    "v1 empty model name": ("POST", "/v1/models/:predict", {"json": {"instances": [row()]}}),
    "v1 doubled verb": ("POST", PREDICT + ":predict", {"json": {"instances": [row()]}}),
    "v1 encoded name": (
        "POST",
        "/v1/models/breast%2Dcancer:predict",
        {"json": {"instances": [row()]}},
    ),
    "v1 trailing slash": ("POST", PREDICT + "/", {"json": {"instances": [row()]}}),
    "v1 GET on predict": ("GET", PREDICT, {}),
    "v1 PUT on predict": ("PUT", PREDICT, {"json": {"instances": [row()]}}),
    "v1 explain": ("POST", f"/v1/models/{MODEL_NAME}:explain", {"json": {"instances": [row()]}}),
    "v2 infer": ("POST", INFER, {"json": load_example("v2_infer_request.json")}),
    "v2 bad shape": ("POST", INFER, {"json": {"inputs": [BAD_TENSOR]}}),
    "v2 infer gzip": (
        "POST",
        INFER,
        encoded("gzip", gzip.compress((EXAMPLES / "v2_infer_request.json").read_bytes())),
    ),
    "v2 one": ("POST", INFER, tensor([row()])),
    "v2 one with id": ("POST", INFER, tensor([row()], id="request-7")),
    "v2 one nested data": (
        "POST",
        INFER,
        {
            "json": {
                "inputs": [{"name": "f", "shape": [1, 30], "datatype": "FP64", "data": [row()]}]
            }
        },
    ),
    "v2 one FP32": ("POST", INFER, tensor([row()], "FP32")),
    "v2 one of ints": ("POST", INFER, tensor([[round(v) for v in row()]])),
    "v2 batch": ("POST", INFER, tensor([row()] * 40)),
    "v2 out of range": (
        "POST",
        INFER,
        tensor([[v * 100 for v in row()], row()]),
    ),
    "v2 label only": ("POST", INFER, tensor([row()], outputs=[{"name": "label"}])),
    "v2 unknown output": ("POST", INFER, tensor([row()], outputs=[{"name": "nope"}])),
    "v2 binary output asked": (
        "POST",
        INFER,
        tensor([row()], parameters={"binary_data_output": True}),
    ),
    "v2 binary output of one": (
        "POST",
        INFER,
        tensor([row()], outputs=[{"name": "label", "parameters": {"binary_data": True}}]),
    ),
    "v2 request parameters": ("POST", INFER, tensor([row()], parameters={"note": "x"})),
    "v2 unknown key": ("POST", INFER, tensor([row()], extra_key=1)),
    "v2 INT64": ("POST", INFER, tensor([[round(v) for v in row()]], "INT64")),
    "v2 FP16 as JSON": ("POST", INFER, tensor([row()], "FP16")),
    "v2 strings": ("POST", INFER, tensor([["1.5"] * 30])),
    "v2 booleans": ("POST", INFER, tensor([[True] * 30], "BOOL")),
    "v2 two tensors": (
        "POST",
        INFER,
        {"json": {"inputs": [tensor([row()])["json"]["inputs"][0]] * 2}},
    ),
    "v2 no inputs": ("POST", INFER, {"json": {"inputs": []}}),
    "v2 missing inputs": ("POST", INFER, {"json": {"outputs": []}}),
    "v2 not an object": ("POST", INFER, v2_bytes(b"[1, 2]")),
    "v2 NaN literal": (
        "POST",
        INFER,
        v2_bytes(orjson.dumps(tensor([row()])["json"]).replace(b"17.99", b"NaN", 1)),
    ),
    "v2 not json": ("POST", INFER, v2_bytes(b"{")),
    "v2 empty body": ("POST", INFER, v2_bytes(b"")),
    "v2 no content type": ("POST", INFER, v2_bytes(orjson.dumps(tensor([row()])["json"]), None)),
    "v2 json charset": (
        "POST",
        INFER,
        v2_bytes(orjson.dumps(tensor([row()])["json"]), "application/json; charset=utf-8"),
    ),
    "v2 text/plain": (
        "POST",
        INFER,
        v2_bytes(orjson.dumps(tensor([row()])["json"]), "text/plain"),
    ),
    "v2 form default": (
        "POST",
        INFER,
        v2_bytes(orjson.dumps(tensor([row()])["json"]), "application/x-www-form-urlencoded"),
    ),
    "v2 request id header": (
        "POST",
        INFER,
        {**tensor([row()]), "headers": {"x-request-id": "r-2"}},
    ),
    "v2 unknown model": ("POST", "/v2/models/nope/infer", tensor([row()])),
    "v2 versioned": ("POST", f"/v2/models/{MODEL_NAME}/versions/1/infer", tensor([row()])),
    "v2 version in the query": ("POST", f"{INFER}?model_version=1", tensor([row()])),
    "v2 GET on infer": ("GET", INFER, {}),
    "ready": ("GET", f"/v1/models/{MODEL_NAME}", {}),
    "metadata": ("GET", f"/v2/models/{MODEL_NAME}", {}),
    "live": ("GET", "/v2/health/live", {}),
    "metrics": ("GET", "/metrics", {}),
}
# Differ between any two responses: dates, fresh ids (cloudevents, V2), the server's port.
IGNORED_HEADERS = {"date", "ce-id", "ce-time"}
FRESH_FIELDS = ("id", "time")
FRESH_ID = re.compile(rb'"id":"[0-9a-f-]{36}"')
# Differ between any two log lines: the time, the server's process id and ports.
LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.M)
# Differ between two servers' metrics: creation times, the process's own figures.
VOLATILE_METRIC = re.compile(r"^(process_|python_gc_|#).*$|^.*_created.*$|^.*_(sum|bucket).*$")


def normalised(response: httpx.Response, port: int) -> tuple:
    def neutral(text: str) -> str:
        return text.replace(f":{port}", ":PORT")

    headers = sorted(
        (k, neutral(v)) for k, v in response.headers.items() if k not in IGNORED_HEADERS
    )
    # A binary-extension answer starts with its JSON header, fresh id included.
    content = FRESH_ID.sub(b'"id":""', response.content)
    body: object = neutral(content.decode(errors="replace"))
    if response.headers.get("content-type", "").endswith("json") and body:
        body = response.json()
        if isinstance(body, dict):
            body = {k: (None if k in FRESH_FIELDS else v) for k, v in body.items()}
        headers = [(k, v) for k, v in headers if k != "content-length"]
    if response.request.url.path == "/metrics":
        lines = str(body).splitlines()
        body = [line for line in lines if not VOLATILE_METRIC.match(line)]
        headers = [(k, v) for k, v in headers if k != "content-length"]
    return response.status_code, headers, body


def new_log_lines(server: RunningServer, before: int) -> list[str]:
    """What the server logged since ``before`` (a byte offset), timestamps dropped."""
    with server.log_path.open("rb") as log:
        log.seek(before)
        text = log.read().decode(errors="replace")
    return LOG_PREFIX.sub("", text).replace(f":{server.http_port}", ":PORT").splitlines()


@pytest.mark.parametrize("name", list(REQUESTS))
def test_same_answer_with_and_without_the_fast_lane(servers, name: str) -> None:
    method, path, options = REQUESTS[name]
    answers, raw, logs = [], [], []
    for server in servers:
        before = server.log_path.stat().st_size
        sent = {k: v() if callable(v) else v for k, v in options.items()}  # fresh generators
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            response = client.request(method, path, **sent)
        answers.append(normalised(response, server.http_port))
        raw.append(response.content)
        logs.append(new_log_lines(server, before))
    assert answers[0] == answers[1]
    if name.startswith("v1") and "cloudevent" not in name:
        assert raw[0] == raw[1]  # V1 bodies are byte-identical, not just equal as JSON
    if name.startswith("v2"):  # byte-identical too, bar the fresh response id
        assert FRESH_ID.sub(b'"id":""', raw[0]) == FRESH_ID.sub(b'"id":""', raw[1])
    assert logs[0] == logs[1]
