"""POST :feedback on the real server: routed, limited, refused and counted like :predict."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import orjson

from tests.integration.test_metrics_workers import scrape
from tests.support import MODEL_NAME, RunningServer, load_example, running_predictor

FEEDBACK_URL = f"/v1/models/{MODEL_NAME}:feedback"


def requests_counted(server: RunningServer, status_class: str) -> float:
    key = f'breast_cancer_http_requests_total{{endpoint="feedback",status_class="{status_class}"}}'
    return scrape(server).get(key, 0.0)


def feedback_counted(server: RunningServer, predicted: str, actual: str) -> float:
    samples = scrape(server)
    prefix = f'breast_cancer_feedback_total{{actual="{actual}",model_version="'
    return next(
        value
        for key, value in samples.items()
        if key.startswith(prefix) and key.endswith(f'predicted="{predicted}"}}')
    )


def test_outcomes_are_counted_and_the_answer_says_what(server: RunningServer) -> None:
    missed_before = feedback_counted(server, "benign", "malignant")
    answered_before = requests_counted(server, "2xx")
    # Plain `curl -d` sends a form content type: the body is JSON all the same.
    response = httpx.post(
        server.base_url + FEEDBACK_URL,
        content=(Path(__file__).parents[2] / "examples" / "feedback_request.json").read_bytes(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["confusion"]["false_benign"] == 1
    assert feedback_counted(server, "benign", "malignant") == missed_before + 1
    assert requests_counted(server, "2xx") == answered_before + 1


def test_a_bad_outcome_is_a_400_naming_it_and_counted_as_a_feedback_4xx(
    server: RunningServer,
) -> None:
    refused_before = requests_counted(server, "4xx")
    body = {**load_example("feedback_request.json"), "outcomes": ["benign"] * 4 + ["cancer"]}
    response = httpx.post(server.base_url + FEEDBACK_URL, json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": 'outcome 4: expected "malignant" or "benign", got a string ("cancer")'
    }
    assert requests_counted(server, "4xx") == refused_before + 1


def test_an_invalid_instance_is_predict_s_400(server: RunningServer) -> None:
    body = {**load_example("invalid_type.json"), "outcomes": ["malignant"]}
    predicted = httpx.post(f"{server.base_url}/v1/models/{MODEL_NAME}:predict", json=body)
    response = httpx.post(server.base_url + FEEDBACK_URL, json=body)
    assert (response.status_code, response.json()) == (400, predicted.json())


def test_other_methods_are_a_405_and_other_models_a_404(server: RunningServer) -> None:
    response = httpx.get(server.base_url + FEEDBACK_URL)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json() == {"error": ":feedback accepts POST only, got GET"}
    other = httpx.post(f"{server.base_url}/v1/models/other:feedback", json={})
    assert other.status_code == 404 and "other" in other.json()["error"]


def test_the_request_limits_apply(server: RunningServer) -> None:
    deep = b'{"instances": ' + b"[" * 40 + b"]" * 40 + b', "outcomes": []}'
    response = httpx.post(server.base_url + FEEDBACK_URL, content=deep)
    assert response.status_code == 400 and "--max_json_depth" in response.json()["error"]
    compressed = gzip.compress(orjson.dumps(load_example("feedback_request.json")))
    response = httpx.post(
        server.base_url + FEEDBACK_URL,
        content=compressed,
        headers={"content-encoding": "gzip"},
    )
    assert response.status_code == 200 and response.json()["counted"] == 5


def test_a_body_over_the_size_limit_is_a_413(trained_dir: Path, tmp_path: Path) -> None:
    body = orjson.dumps(load_example("feedback_request.json"))
    with running_predictor(trained_dir, tmp_path, "--max_body_bytes", str(len(body) - 1)) as server:
        response = httpx.post(server.base_url + FEEDBACK_URL, content=body)
    assert response.status_code == 413 and "--max_body_bytes" in response.json()["error"]
