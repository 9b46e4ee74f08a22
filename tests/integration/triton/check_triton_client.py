"""Open Inference Protocol conformance, driven by NVIDIA's tritonclient (HTTP and gRPC).

A third-party client of the same protocol, not KServe's own: whatever it sends (binary
tensors, compressed bodies, raw gRPC contents) must be understood, and whatever it asks for
(binary outputs, a subset of outputs) honoured. Answers agree with V1 to 1e-12.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from tests.support import MODEL_NAME, RunningServer, load_example

# Named here, not imported from predictor.responses: this process must not import KServe.
PROBABILITY_OUTPUT, LABEL_OUTPUT, PREDICTION_SET = (
    "probability_malignant",
    "label",
    "prediction_set",
)

ROWS = np.array(load_example("valid_batch_request.json")["instances"], dtype=np.float64)
CLIENTS = {"http": triton_http, "grpc": triton_grpc}


def v1_probabilities(server: RunningServer, rows: np.ndarray) -> np.ndarray:
    body = {"instances": rows.tolist()}
    answer = httpx.post(f"{server.base_url}/v1/models/{MODEL_NAME}:predict", json=body).json()
    return np.array([p[PROBABILITY_OUTPUT] for p in answer["predictions"]])


def client(kind: str, server: RunningServer):
    target = server.grpc_target if kind == "grpc" else f"127.0.0.1:{server.http_port}"
    return CLIENTS[kind].InferenceServerClient(target)


def features(kind: str, rows: np.ndarray, datatype: str = "FP64", binary: bool = True):
    tensor = CLIENTS[kind].InferInput("features", list(rows.shape), datatype)
    values = rows.astype(np.float32 if datatype == "FP32" else np.float64)
    if kind == "http":
        tensor.set_data_from_numpy(values, binary_data=binary)
    else:
        tensor.set_data_from_numpy(values)
    return tensor


def outputs(kind: str, names: tuple[str, ...], binary: bool):
    if kind == "grpc":
        return [triton_grpc.InferRequestedOutput(name) for name in names]
    return [triton_http.InferRequestedOutput(name, binary_data=binary) for name in names]


@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_server_and_model_metadata_and_readiness(kind: str, server: RunningServer) -> None:
    triton = client(kind, server)
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready(MODEL_NAME)
    metadata = triton.get_model_metadata(
        MODEL_NAME, **({"as_json": True} if kind == "grpc" else {})
    )
    assert [t["name"] for t in metadata["outputs"]] == [
        PROBABILITY_OUTPUT,
        LABEL_OUTPUT,
        PREDICTION_SET,
    ]
    assert metadata["inputs"][0]["datatype"] == "FP64"
    if kind == "http":
        assert not triton.is_model_ready("no-such-model")
    else:
        with pytest.raises(InferenceServerException, match="NOT_FOUND"):
            triton.is_model_ready("no-such-model")


@pytest.mark.parametrize("kind", sorted(CLIENTS))
@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
def test_both_outputs_decode_and_agree_with_v1(kind: str, datatype: str, server) -> None:
    result = client(kind, server).infer(MODEL_NAME, [features(kind, ROWS, datatype)])
    probabilities = result.as_numpy(PROBABILITY_OUTPUT)
    labels = [label.decode() for label in result.as_numpy(LABEL_OUTPUT)]
    expected = v1_probabilities(server, ROWS.astype(np.float32).astype(np.float64)
                                if datatype == "FP32" else ROWS)  # fmt: skip
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-12)
    assert labels == ["benign", "malignant", "benign", "malignant"]
    sets = [labels_in.decode().split(",") for labels_in in result.as_numpy(PREDICTION_SET)]
    assert all(label in labels_in for label, labels_in in zip(labels, sets, strict=True))


@pytest.mark.parametrize("binary_inputs", [True, False], ids=["binary-in", "json-in"])
@pytest.mark.parametrize("binary_outputs", [True, False], ids=["binary-out", "json-out"])
def test_rest_binary_tensors_are_understood_and_honoured(
    binary_inputs: bool, binary_outputs: bool, server: RunningServer
) -> None:
    names = (PROBABILITY_OUTPUT, LABEL_OUTPUT)
    result = client("http", server).infer(
        MODEL_NAME,
        [features("http", ROWS, binary=binary_inputs)],
        outputs=outputs("http", names, binary_outputs),
    )
    described = {o["name"]: o for o in result.get_response()["outputs"]}
    for name in names:
        assert ("binary_data_size" in described[name].get("parameters", {})) is binary_outputs
        assert ("data" in described[name]) is not binary_outputs
    np.testing.assert_allclose(
        result.as_numpy(PROBABILITY_OUTPUT), v1_probabilities(server, ROWS), rtol=0, atol=1e-12
    )


def test_binary_data_output_applies_unless_an_output_says_otherwise(server) -> None:
    body = {
        "inputs": [{"name": "f", "shape": [1, 30], "datatype": "FP64", "data": ROWS[0].tolist()}],
        "parameters": {"binary_data_output": True},
        "outputs": [{"name": LABEL_OUTPUT, "parameters": {"binary_data": False}},
                    {"name": PROBABILITY_OUTPUT}],
    }  # fmt: skip
    response = httpx.post(f"{server.base_url}/v2/models/{MODEL_NAME}/infer", json=body)
    assert response.status_code == 200
    header_length = int(response.headers["inference-header-content-length"])
    header = (
        response.json() if False else __import__("orjson").loads(response.content[:header_length])
    )
    described = {o["name"]: o for o in header["outputs"]}
    assert described[LABEL_OUTPUT]["data"] == ["benign"]
    assert described[PROBABILITY_OUTPUT]["parameters"] == {"binary_data_size": 8}
    assert len(response.content) == header_length + 8


@pytest.mark.parametrize("kind", sorted(CLIENTS))
@pytest.mark.parametrize("name", [PROBABILITY_OUTPUT, LABEL_OUTPUT, PREDICTION_SET])
def test_a_subset_of_outputs(kind: str, name: str, server: RunningServer) -> None:
    result = client(kind, server).infer(
        MODEL_NAME, [features(kind, ROWS)], outputs=outputs(kind, (name,), binary=True)
    )
    answered = [o["name"] if kind == "http" else o.name for o in (
        result.get_response()["outputs"] if kind == "http" else result.get_response().outputs
    )]  # fmt: skip
    assert answered == [name]


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests(algorithm: str, server: RunningServer) -> None:
    result = client("http", server).infer(
        MODEL_NAME, [features("http", ROWS)], request_compression_algorithm=algorithm
    )
    np.testing.assert_allclose(
        result.as_numpy(PROBABILITY_OUTPUT), v1_probabilities(server, ROWS), rtol=0, atol=1e-12
    )


MISTAKES = [
    ("wrong shape", lambda kind: features(kind, ROWS[:, :29]), "shape must be [N, 30]"),
    ("wrong datatype", lambda kind: _int_features(kind), "datatype must be one of FP32, FP64"),
    ("NaN", lambda kind: features(kind, _with_nan()), "expected a finite number, got nan"),
]


def _int_features(kind: str):
    tensor = CLIENTS[kind].InferInput("features", list(ROWS.shape), "INT64")
    tensor.set_data_from_numpy(ROWS.astype(np.int64))
    return tensor


def _with_nan() -> np.ndarray:
    rows = ROWS.copy()
    rows[1, 3] = np.nan
    return rows


@pytest.mark.parametrize("kind", sorted(CLIENTS))
@pytest.mark.parametrize(("mistake", "tensor", "message"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_client_mistakes_are_client_errors_with_our_message(
    kind: str, mistake: str, tensor, message: str, server: RunningServer
) -> None:
    with pytest.raises(InferenceServerException) as raised:
        client(kind, server).infer(MODEL_NAME, [tensor(kind)])
    status = raised.value.status()
    assert status in ("400", "StatusCode.INVALID_ARGUMENT"), (mistake, status)
    assert message in raised.value.message()


@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_an_unknown_model_is_not_found(kind: str, server: RunningServer) -> None:
    with pytest.raises(InferenceServerException) as raised:
        client(kind, server).infer("no-such-model", [features(kind, ROWS)])
    assert raised.value.status() in ("404", "StatusCode.NOT_FOUND")
    assert "no-such-model" in raised.value.message()
