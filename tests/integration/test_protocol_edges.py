"""What a newcomer meets first: wrong methods, clean logs, tidy V2 JSON."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support import MODEL_NAME, RunningServer, load_example

PREDICT = f"/v1/models/{MODEL_NAME}:predict"
EXPLAIN = f"/v1/models/{MODEL_NAME}:explain"


@pytest.mark.parametrize("path", [PREDICT, EXPLAIN])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_wrong_method_on_a_verb_is_a_405_naming_post(
    method: str, path: str, server: RunningServer
) -> None:
    response = httpx.request(method, server.base_url + path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    verb = path.rsplit(":", 1)[1]
    assert response.json() == {"error": f":{verb} accepts POST only, got {method}"}


def wait_for_log(server: RunningServer, text: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while text not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    return server.log()


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/models/no-such-model:predict", load_example("valid_request.json"), 404),
        ("GET", PREDICT, None, 405),
        ("POST", PREDICT, load_example("invalid_type.json"), 400),
        ("POST", f"/v2/models/{MODEL_NAME}/infer", {"inputs": "nope"}, 422),
        ("GET", "/v2/repository/index", None, 404),
    ],
)
def test_every_rejected_request_is_one_warning_line_without_a_traceback(
    method: str, path: str, body, status: int, server: RunningServer
) -> None:
    marker = f"marker-{time.monotonic_ns()}"
    httpx.get(f"{server.base_url}/v1/models/{marker}")  # a 404 of its own, to find our place
    wait_for_log(server, marker)
    response = httpx.request(method, server.base_url + path, json=body)
    assert response.status_code == status
    # The line names the status, the request and the message the client got.
    line = f"rejected request ({status}) {method} {path}: {response.json()['error']}"
    log = wait_for_log(server, line)
    assert line in log
    ours = log[log.index(marker) :].splitlines()[1:]
    rejected = [line for line in ours if f"rejected request ({status})" in line]
    assert len(rejected) == 1 and " WARNING " in rejected[0], ours
    assert "Traceback" not in "\n".join(ours)


def test_the_log_has_no_deprecation_warning_after_requests(server: RunningServer) -> None:
    for _ in range(3):
        httpx.post(server.base_url + PREDICT, json=load_example("valid_request.json"))
    assert "Deprecat" not in server.log()


def test_v2_json_has_no_null_members(server: RunningServer) -> None:
    answers = [
        httpx.post(f"{server.base_url}/v2/models/{MODEL_NAME}/infer",
                   json=load_example("v2_infer_request.json")),
        httpx.get(f"{server.base_url}/v2/models/{MODEL_NAME}"),
        httpx.get(f"{server.base_url}/v2"),
    ]  # fmt: skip
    for answer in answers:
        assert answer.status_code == 200
        assert b"null" not in answer.content, answer.content
        assert int(answer.headers["content-length"]) == len(answer.content)
    infer = answers[0].json()
    assert "parameters" not in infer and all("parameters" not in o for o in infer["outputs"])
    assert "versions" not in answers[1].json()
