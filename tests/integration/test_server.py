"""The real predictor over real HTTP and gRPC, driven by kserve's own clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from kserve import InferenceGRPCClient, InferenceRESTClient, RESTConfig
from kserve.protocol.infer_type import InferInput, InferRequest

from predictor.artifact import MODEL_FILENAME, resolve_version_dir
from predictor.prediction_sets import PREDICTION_SET, SETS
from predictor.responses import LABEL_OUTPUT, PROBABILITY_OUTPUT
from tests.support import (
    MODEL_NAME,
    RunningServer,
    example_index,
    load_example,
    refuse_to_start,
)

EXAMPLES = example_index()


def endpoint(server: RunningServer, protocol: str, verb: str = "predict") -> str:
    if protocol == "v2":
        return f"{server.base_url}/v2/models/{MODEL_NAME}/infer"
    return f"{server.base_url}/v1/models/{MODEL_NAME}:{verb}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["file"] for e in EXAMPLES])
def test_every_example_gets_its_documented_status(server: RunningServer, example: dict) -> None:
    url = endpoint(server, example["protocol"], example.get("verb", "predict"))
    response = httpx.post(url, json=load_example(example["file"]))
    assert response.status_code == example["status"], response.text
    body = response.json()
    if example["status"] == 200:
        if example["protocol"] == "v2":
            labels = next(o["data"] for o in body["outputs"] if o["name"] == LABEL_OUTPUT)
        elif example.get("verb") == "feedback":
            labels = [counted["predicted"] for counted in body["feedback"]]
        else:
            labels = [p["label"] for p in body["predictions"]]
            if "prediction_sets" in example:
                assert [p[PREDICTION_SET] for p in body["predictions"]] == example[
                    "prediction_sets"
                ]
        assert labels == example["labels"]
    else:
        assert example["error_contains"] in body["error"]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain"],
)
def test_any_content_type_is_parsed_as_json(server: RunningServer, content_type) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = (Path(__file__).parents[2] / "examples" / "valid_request.json").read_bytes()
    response = httpx.post(endpoint(server, "v1"), content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["label"] == "malignant"


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_v2_json_body_is_parsed_whatever_its_content_type(server: RunningServer, content_type):
    """Plain ``curl -d`` (form content type) works for V2 as the README shows."""
    headers = {"content-type": content_type} if content_type else {}
    body = (Path(__file__).parents[2] / "examples" / "v2_infer_request.json").read_bytes()
    response = httpx.post(endpoint(server, "v2"), content=body, headers=headers)
    assert response.status_code == 200, response.text
    labels = next(o["data"] for o in response.json()["outputs"] if o["name"] == LABEL_OUTPUT)
    assert labels == ["malignant", "benign"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"inputs=1", "request body is not valid JSON"),
        (b'{"inputs": [{"name": "f"}]}', "inputs.0.shape: Field required"),
    ],
)
def test_v2_bad_body_without_json_content_type_is_a_400(server: RunningServer, body, message):
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = httpx.post(endpoint(server, "v2"), content=body, headers=headers)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_non_json_body_is_a_400(server: RunningServer) -> None:
    response = httpx.post(
        endpoint(server, "v1"), content=b"mean radius=17.99", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_readiness_and_metadata(server: RunningServer) -> None:
    assert httpx.get(f"{server.base_url}/v1/models/{MODEL_NAME}").json() == {
        "name": MODEL_NAME,
        "ready": True,
    }
    metadata = httpx.get(f"{server.base_url}/v2/models/{MODEL_NAME}").json()
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 30]}]
    assert metadata["outputs"] == [
        {"name": PROBABILITY_OUTPUT, "datatype": "FP64", "shape": [-1]},
        {"name": LABEL_OUTPUT, "datatype": "BYTES", "shape": [-1]},
        {"name": PREDICTION_SET, "datatype": "BYTES", "shape": [-1]},
    ]


def test_every_v1_prediction_carries_a_set_holding_its_label(server: RunningServer) -> None:
    body = httpx.post(endpoint(server, "v1"), json=load_example("valid_batch_request.json")).json()
    for prediction in body["predictions"]:
        assert prediction[PREDICTION_SET] in SETS
        assert prediction["label"] in prediction[PREDICTION_SET]


async def test_rest_client_v1_named_and_positional_agree(server: RunningServer) -> None:
    async with InferenceRESTClient(RESTConfig(protocol="v1")) as client:
        positional = await client.infer(
            server.base_url, load_example("valid_request.json"), MODEL_NAME
        )
        named = await client.infer(
            server.base_url, load_example("valid_named_request.json"), MODEL_NAME
        )
    assert positional["predictions"] == named["predictions"]
    assert positional["predictions"][0]["label"] == "malignant"


async def test_rest_client_v1_batch_ranks_malignant_first(server: RunningServer) -> None:
    async with InferenceRESTClient(RESTConfig(protocol="v1")) as client:
        body = await client.infer(
            server.base_url, load_example("valid_batch_request.json"), MODEL_NAME
        )
    predictions = body["predictions"]
    by_probability = sorted(predictions, key=lambda p: p[PROBABILITY_OUTPUT], reverse=True)
    assert [p["label"] for p in by_probability] == ["malignant", "malignant", "benign", "benign"]
    assert body["threshold"] > 0 and body["model_version"]


def v1_set_names(server: RunningServer) -> list[str]:
    """The V1 prediction sets of the V2 example's rows, comma-joined as V2 carries them."""
    rows = load_example("v2_infer_request.json")["inputs"][0]["data"]
    instances = np.array(rows, dtype=np.float64).reshape(-1, 30).tolist()
    body = httpx.post(endpoint(server, "v1"), json={"instances": instances}).json()
    return [",".join(p[PREDICTION_SET]) for p in body["predictions"]]


def v2_request_from_example() -> InferRequest:
    tensor = load_example("v2_infer_request.json")["inputs"][0]
    features = np.array(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
    infer_input = InferInput("features", list(features.shape), "FP64")
    infer_input.set_data_from_numpy(features, binary_data=False)
    return InferRequest(model_name=MODEL_NAME, infer_inputs=[infer_input], request_id="req-1")


async def test_rest_client_v2(server: RunningServer) -> None:
    async with InferenceRESTClient(RESTConfig(protocol="v2")) as client:
        response = await client.infer(server.base_url, v2_request_from_example(), MODEL_NAME)
    outputs = {o.name: o for o in response.outputs}
    assert list(outputs[LABEL_OUTPUT].data) == ["malignant", "benign"]
    probabilities = outputs[PROBABILITY_OUTPUT].data
    assert probabilities[0] > 0.9 > 0.1 > probabilities[1]
    assert list(outputs[PREDICTION_SET].data) == v1_set_names(server)


async def test_grpc_client_matches_rest(server: RunningServer) -> None:
    async with InferenceRESTClient(RESTConfig(protocol="v2")) as rest:
        via_rest = await rest.infer(server.base_url, v2_request_from_example(), MODEL_NAME)
    grpc_client = InferenceGRPCClient(server.grpc_target, timeout=10)
    try:
        via_grpc = await grpc_client.infer(v2_request_from_example())
    finally:
        await grpc_client.close()
    grpc_outputs = {o.name: o for o in via_grpc.outputs}
    rest_outputs = {o.name: o for o in via_rest.outputs}
    np.testing.assert_allclose(
        grpc_outputs[PROBABILITY_OUTPUT].as_numpy(),
        rest_outputs[PROBABILITY_OUTPUT].data,
        rtol=1e-12,
    )
    assert [
        v.decode() if isinstance(v, bytes) else v for v in grpc_outputs[LABEL_OUTPUT].as_numpy()
    ] == [
        "malignant",
        "benign",
    ]
    sets = [
        v.decode() if isinstance(v, bytes) else v for v in grpc_outputs[PREDICTION_SET].as_numpy()
    ]
    assert sets == list(rest_outputs[PREDICTION_SET].data) == v1_set_names(server)


async def test_grpc_rejects_bad_shape_as_invalid_argument(server: RunningServer) -> None:
    import grpc

    bad = InferInput("features", [1, 29], "FP64")
    bad.set_data_from_numpy(np.zeros((1, 29)), binary_data=False)
    client = InferenceGRPCClient(server.grpc_target, timeout=10)
    try:
        with pytest.raises(grpc.RpcError) as raised:
            await client.infer(InferRequest(model_name=MODEL_NAME, infer_inputs=[bad]))
    finally:
        await client.close()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "shape must be [N, 30]" in raised.value.details()


def test_instance_limit_is_a_400(server: RunningServer) -> None:
    row = load_example("valid_request.json")["instances"][0]
    assert httpx.post(endpoint(server, "v1"), json={"instances": [row] * 100}).status_code == 200
    response = httpx.post(endpoint(server, "v1"), json={"instances": [row] * 101})
    assert response.status_code == 400
    assert "at most 100" in response.json()["error"]


def malformed_bodies(count: int) -> list[bytes]:
    """Deterministic junk: truncations, type swaps and byte flips of the valid payload."""
    import json
    import random

    rng = random.Random(1234)
    valid = (Path(__file__).parents[2] / "examples" / "valid_request.json").read_bytes()
    row = json.loads(valid)["instances"][0]
    junk_values = [None, True, "x", [], {}, "1e400", [1, 2]]
    bodies = []
    for index in range(count):
        choice = index % 4
        if choice == 0:
            bodies.append(valid[: rng.randrange(len(valid))])
        elif choice == 1:
            mutated = bytearray(valid)
            for _ in range(3):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            bodies.append(bytes(mutated))
        elif choice == 2:
            broken = list(row)
            broken[rng.randrange(30)] = rng.choice(junk_values)
            bodies.append(json.dumps({"instances": [broken]}).encode())
        else:
            shapes = [
                {"instances": row},
                {"instances": [[row]]},
                [row],
                {"instances": [row[: rng.randrange(30)]]},
            ]
            bodies.append(json.dumps(rng.choice(shapes)).encode())
    return bodies


def test_thousands_of_malformed_bodies_never_get_a_5xx(server: RunningServer) -> None:
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=server.base_url) as client:
        for body in malformed_bodies(2000):
            status = client.post(f"/v1/models/{MODEL_NAME}:predict", content=body).status_code
            statuses[status] = statuses.get(status, 0) + 1
    assert all(status < 500 for status in statuses), statuses
    assert httpx.get(f"{server.base_url}/v1/models/{MODEL_NAME}").status_code == 200


def test_startup_refuses_an_empty_directory(tmp_path: Path) -> None:
    code, output, seconds = refuse_to_start(tmp_path)
    assert code != 0
    assert f"run `python -m training --output {tmp_path}` first" in output
    assert seconds < 30


def test_startup_refuses_a_tampered_model(trained_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "models"
    shutil.copytree(trained_dir, copy)
    path = resolve_version_dir(copy) / MODEL_FILENAME
    content = bytearray(path.read_bytes())
    content[-10] ^= 0xFF
    path.write_bytes(bytes(content))
    code, output, _ = refuse_to_start(copy)
    assert code != 0
    assert "model.joblib: its sha256" in output and "does not match SHA256SUMS" in output
    assert "Uvicorn running" not in output


def test_help_lists_our_flags_and_kserve_flags() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "predictor", "--help"], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0
    for flag in ("--model_dir", "--max_instances", "--http_port", "--grpc_port", "--workers"):
        assert flag in completed.stdout
