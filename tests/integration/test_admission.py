"""Bounded admission on a real server: a burst past the budget is refused with 503 and
Retry-After (gRPC: RESOURCE_EXHAUSTED), nothing else fails, readiness stays 200, and the
server answers normally once the burst is gone."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import orjson
import pytest
from kserve import InferenceGRPCClient, InferInput, InferRequest

from bench.fairness import PATHS, body_of, fairness
from bench.payloads import training_rows
from predictor.serving.admission import RETRY_AFTER_HEADER
from tests.support import MODEL_NAME, RunningServer, running_predictor

BUDGET = 5000
BIG = 5000
REFUSED_METRIC = 'breast_cancer_requests_refused_total{reason="overloaded"}'


@pytest.fixture(scope="module")
def admitting(trained_dir: Path, tmp_path_factory) -> Iterator[RunningServer]:
    """A server whose budget holds one big request at a time."""
    flags = ("--max_inflight_instances", str(BUDGET), "--max_instances", "10000")
    with running_predictor(trained_dir, tmp_path_factory.mktemp("logs"), *flags) as server:
        yield server


@pytest.fixture(scope="module")
def bodies(trained_dir: Path) -> dict[str, bytes]:
    rows = training_rows(trained_dir, 2 * BIG)
    return {
        "one": orjson.dumps({"instances": rows[:1]}),
        "big": orjson.dumps({"instances": rows[:BIG]}),
        "larger than the budget": orjson.dumps({"instances": rows}),
    }


@pytest.fixture(scope="module")
def big_feedback(trained_dir: Path) -> bytes:
    """Confirmed outcomes of a budget's worth of cases (``:feedback`` scores them too)."""
    return orjson.dumps(
        {"instances": training_rows(trained_dir, BIG), "outcomes": ["benign"] * BIG}
    )


def stream(url: str, body: bytes, seconds: float, answers: list, **headers: str) -> None:
    """POST ``body`` back to back for ``seconds``; (status, Retry-After, body) of each."""
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=30, trust_env=False) as client:
        while time.monotonic() < deadline:
            response = client.post(url, content=body, headers=headers)
            answers.append((response.status_code, response.headers.get("retry-after"),
                            response.content))  # fmt: skip


def refused_count(server: RunningServer) -> float:
    text = httpx.get(f"{server.base_url}/metrics", trust_env=False).text
    line = next((line for line in text.splitlines() if line.startswith(REFUSED_METRIC)), None)
    return float(line.split()[-1]) if line else 0.0


def test_a_burst_past_the_budget_is_refused_with_503_and_nothing_else_fails(
    admitting: RunningServer, bodies: dict[str, bytes], big_feedback: bytes
) -> None:
    url = f"{admitting.base_url}/v1/models/{MODEL_NAME}:predict"
    feedback_url = f"{admitting.base_url}/v1/models/{MODEL_NAME}:feedback"
    before = refused_count(admitting)
    json_type = {"content-type": "application/json"}
    big: list = []
    # Single cases that KServe's app answers (the lane leaves compressed bodies to it).
    kserve: list = []
    feedback: list = []
    gzipped = {**json_type, "content-encoding": "gzip"}
    threads = [
        threading.Thread(target=stream, args=(url, bodies["big"], 3.0, big), kwargs=json_type)
        for _ in range(6)
    ]
    threads.append(
        threading.Thread(
            target=stream, args=(url, gzip.compress(bodies["one"]), 3.0, kserve), kwargs=gzipped
        )
    )
    threads.append(
        threading.Thread(
            target=stream, args=(feedback_url, big_feedback, 3.0, feedback), kwargs=json_type
        )
    )
    for thread in threads:
        thread.start()
    readiness = []
    while any(thread.is_alive() for thread in threads):
        readiness.append(httpx.get(f"{admitting.base_url}/v1/models/{MODEL_NAME}").status_code)
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    answers = big + kserve + feedback
    refused = [a for a in answers if a[0] == 503]
    assert refused, "six clients streaming requests of the whole budget were never refused"
    assert {a[0] for a in answers} == {200, 503}  # nothing else failed
    assert {a[1] for a in refused} == {RETRY_AFTER_HEADER[1].decode()}
    message = orjson.loads(refused[0][2])["error"]
    assert f"budget of {BUDGET}" in message and "--max_inflight_instances" in message
    assert "the server is working on" in message
    assert any(a[0] == 200 for a in kserve), "KServe's path was never admitted"
    assert any(a[0] == 503 for a in feedback), "outcomes past the budget were never refused"
    assert set(readiness) == {200}  # a busy pod is not an unready one
    assert refused_count(admitting) - before == len(refused)
    # Once the burst is gone, everything is answered again, one big request alone included.
    for body in bodies.values():
        assert httpx.post(url, content=body, headers=json_type).status_code == 200
    assert httpx.post(feedback_url, content=big_feedback, headers=json_type).status_code == 200


async def test_grpc_past_the_budget_is_resource_exhausted(
    admitting: RunningServer, bodies: dict[str, bytes]
) -> None:
    url = f"{admitting.base_url}/v1/models/{MODEL_NAME}:predict"
    big: list = []
    threads = [
        threading.Thread(target=stream, args=(url, bodies["big"], 3.0, big)) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    one = InferInput("features", [1, 30], "FP64")
    one.set_data_from_numpy(np.array(orjson.loads(bodies["one"])["instances"]), binary_data=False)
    client = InferenceGRPCClient(admitting.grpc_target, timeout=10)
    codes = []
    try:
        while any(thread.is_alive() for thread in threads):
            try:
                await client.infer(InferRequest(model_name=MODEL_NAME, infer_inputs=[one]))
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
                if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    assert "--max_inflight_instances" in error.details()
    finally:
        await client.close()
        for thread in threads:
            thread.join()
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert {a[0] for a in big} <= {200, 503}


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["V1", "V2"])
def test_single_cases_beside_two_streams_of_big_requests_stay_fast(trained_dir, tmp_path, protocol):
    """The fairness target, as ``bench/fairness.py`` measures it: p99 of single cases at
    most a quarter of the big requests' median (slow: a few seconds of load, and a busy
    machine can disturb a p99; the bench repeats it side by side)."""
    rows = training_rows(trained_dir, 10_000)
    one, big = body_of(rows[:1], protocol), body_of(rows, protocol)
    with running_predictor(trained_dir, tmp_path) as server:
        measured = fairness(server.http_port, one, big, 6.0, PATHS[protocol])
    assert measured["failed"] == 0
    assert measured["ratio"] <= 0.25, measured
