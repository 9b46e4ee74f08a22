"""Canaries for ``predictor/serving/kserve_mirror.py``: stock KServe's V1 predict, mirrored.

The fast lane answers ``POST /v1/models/<name>:predict`` without KServe's app, so it repeats
what KServe's endpoint and error handlers do. When one of these fails, KServe changed that
behaviour: change the lane to match (``tests/bench/test_fast_lane_equivalence.py`` then shows
whether the two paths agree again).
"""

from __future__ import annotations

import json

import httpx
import pytest
from kserve import Model

from predictor.serving.kserve_mirror import (
    CLOUDEVENT_KEY,
    JSON_CONTENT_TYPES,
    KSERVE_ERROR_STATUS,
    KSERVE_HEALTHY,
)
from tests.support import RunningServer

pytestmark = pytest.mark.upstream
PREDICT = "/v1/models/breast-cancer:predict"
# Sent by uvicorn, not by KServe's app.
SERVER_HEADERS = {"date", "server"}


def predict(server: RunningServer, body: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{server.base_url}{PREDICT}", content=body, headers=headers or {})


def app_headers(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k not in SERVER_HEADERS]


def test_a_bytes_answer_is_sent_as_is_with_only_its_length(stock: RunningServer) -> None:
    """Mirrored: the lane sends the model's bytes with the model's headers plus
    ``content-length`` (KServe's ``Response(content=..., headers=...)``)."""
    response = predict(stock, json.dumps({"bytes": "answer é"}).encode())
    assert response.status_code == 200
    assert response.content == "answer é".encode()
    assert app_headers(response) == [("content-length", str(len("answer é".encode())))]


@pytest.mark.parametrize(
    ("content_type", "payload_type"),
    [
        *((content_type, "dict") for content_type in sorted(JSON_CONTENT_TYPES)),
        (None, "dict"),
        ("application/json; charset=utf-8", "bytes"),
        ("application/x-www-form-urlencoded", "bytes"),
        ("text/plain", "bytes"),
    ],
)
def test_json_is_parsed_for_exactly_these_content_types(
    stock: RunningServer, content_type: str | None, payload_type: str
) -> None:
    """Mirrored: ``kserve_mirror.JSON_CONTENT_TYPES`` are parsed before the model sees the body;
    any other content type reaches the model as bytes."""
    headers = {"content-type": content_type} if content_type else {}
    response = predict(stock, b'{"instances": [1]}', headers)
    assert response.status_code == 200
    assert response.json()["payload_type"] == payload_type


def test_a_json_body_shaped_as_a_cloudevent_is_unwrapped(stock: RunningServer) -> None:
    """Mirrored: the lane hands JSON objects with a ``specversion`` key to KServe, which
    passes only their ``data`` to the model. When this fails, that hand-over may go."""
    event = {"specversion": "1.0", "id": "1", "source": "s", "type": "t", "time": "now"}
    assert CLOUDEVENT_KEY in event
    response = predict(stock, json.dumps({**event, "data": "inner"}).encode(), {})
    assert response.json()["payload_type"] == "str"


@pytest.mark.parametrize("error", list(KSERVE_ERROR_STATUS), ids=lambda error: error.__name__)
def test_kserve_errors_are_answered_with_their_status_and_message(
    stock: RunningServer, error: type[Exception]
) -> None:
    """Mirrored: ``kserve_mirror.KSERVE_ERROR_STATUS`` and the JSONResponse bytes of the answer."""
    response = predict(stock, json.dumps({"raise": error.__name__}).encode())
    assert response.status_code == KSERVE_ERROR_STATUS[error]
    content = json.dumps({"error": str(error("raised"))}, separators=(",", ":")).encode()
    assert response.content == content
    assert app_headers(response) == [
        ("content-length", str(len(content))),
        ("content-type", "application/json"),
    ]


def test_any_other_error_is_a_500_naming_its_type(stock: RunningServer) -> None:
    """Mirrored: the lane's catch-all answer (``"<Type> : <message>"``)."""
    response = predict(stock, json.dumps({"raise": "ValueError"}).encode())
    assert response.status_code == 500
    assert response.json() == {"error": "ValueError : raised"}


async def test_a_models_default_health_check_is_its_ready_attribute() -> None:
    """Mirrored: the lane reads ``ready`` for a model that keeps KServe's ``healthy()``
    (``KSERVE_HEALTHY``), and awaits any other."""
    model = Model("m")
    assert type(model).healthy is KSERVE_HEALTHY
    for ready in (False, True):
        model.ready = ready
        assert await model.healthy() is ready
