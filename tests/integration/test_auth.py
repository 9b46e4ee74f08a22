"""Bearer-token authentication and the audit trail, on a real predictor and a real issuer.

The issuer (``tests/auth_issuer.py``) serves OIDC discovery and a JWKS on loopback and signs
real JWTs; the predictor finds its keys by discovery, as it does an API server's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import jwt
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kserve import InferenceGRPCClient
from kserve.protocol.infer_type import InferInput, InferRequest

from bench.token_issuer import AUDIENCE, Issuer, SigningKey
from predictor.serving.audit_log import FLUSH_SECONDS
from predictor.serving.routes import v1_path, v2_path
from tests.integration.test_server import v2_request_from_example
from tests.support import MODEL_NAME, RunningServer, load_example, running_predictor

ALLOWED = "system:serviceaccount:clinic:reader"
NOT_ALLOWED = "system:serviceaccount:billing:reader"
# The first feature value of examples/valid_request.json: must never reach the audit trail.
AUDIT_FIELDS = ("time", "event", "status", "subject", "route", "model", "model_version",
                "request_id", "client", "instances", "labels")  # fmt: skip
FEATURE_VALUE = str(load_example("valid_request.json")["instances"][0][0])


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    started = Issuer().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def secured(trained_dir: Path, tmp_path_factory, issuer: Issuer) -> Iterator[RunningServer]:
    logs = tmp_path_factory.mktemp("auth-logs")
    with running_predictor(trained_dir, logs, *issuer.flags()) as server:
        yield server


def post(server: RunningServer, token: str | None, verb: str = "predict", **headers: str):
    body = load_example("feedback_request.json" if verb == "feedback" else "valid_request.json")
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    path = v2_path(MODEL_NAME, "infer") if verb == "infer" else v1_path(MODEL_NAME, verb)
    if verb == "infer":
        body = load_example("v2_infer_request.json")
    return httpx.post(server.base_url + path, json=body, headers=headers, timeout=30)


def audit_lines(server: RunningServer) -> list[dict]:
    time.sleep(2 * FLUSH_SECONDS)  # written in batches
    return [json.loads(line) for line in server.log().splitlines() if line.startswith('{"time"')]


def hs256(issuer: Issuer) -> str:
    """A token "signed" with a shared secret: an algorithm the predictor never accepts."""
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": ALLOWED, "exp": 2**31}
    return jwt.encode(claims, "a-shared-secret-of-32-bytes-or-more", algorithm="HS256")


UNAUTHENTICATED: dict[str, tuple[Callable[[Issuer], str | None], str]] = {
    "no token": (lambda issuer: None, "no bearer token"),
    "garbage": (lambda issuer: "not-a-jwt", "not a JWT"),
    "wrong audience": (lambda issuer: issuer.token(audience="billing"), "audience is not"),
    "expired": (lambda issuer: issuer.token(lifetime=-60), "token expired"),
    "another key, same kid": (
        lambda issuer: issuer.token(key=SigningKey.new(issuer.keys[0].kid)),
        "signature does not verify",
    ),
    "another issuer": (lambda issuer: issuer.token(issuer="https://elsewhere"), "issuer is not"),
    "a shared-secret algorithm": (hs256, "'HS256' is not accepted"),
    "no exp": (lambda issuer: issuer.token(exp=None), "lacks the exp claim"),
}


@pytest.mark.parametrize("case", UNAUTHENTICATED, ids=list(UNAUTHENTICATED))
def test_a_missing_or_invalid_token_is_a_401_that_says_why(
    secured: RunningServer, issuer: Issuer, case: str
) -> None:
    make, reason = UNAUTHENTICATED[case]
    token = make(issuer)
    response = post(secured, token)
    assert response.status_code == 401, response.text
    assert reason in response.json()["error"]
    challenge = response.headers["www-authenticate"]
    if token is None:
        assert challenge == "Bearer"
    else:
        assert challenge.startswith('Bearer error="invalid_token", error_description="')
        assert token not in response.text + challenge + secured.log()


def test_a_token_with_another_kid_is_refused_as_signed_by_an_unknown_key(
    secured: RunningServer, issuer: Issuer
) -> None:
    response = post(secured, issuer.token(key=SigningKey.new("stranger")))
    assert response.status_code == 401
    assert "unknown key (kid 'stranger')" in response.json()["error"]


def test_a_subject_not_allowed_is_a_403_naming_it(secured: RunningServer, issuer: Issuer):
    response = post(secured, issuer.token(NOT_ALLOWED))
    assert response.status_code == 403
    assert NOT_ALLOWED in response.json()["error"]
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


@pytest.mark.parametrize("verb", ["predict", "explain", "feedback", "infer"])
def test_every_inference_route_needs_a_token_and_answers_an_allowed_one(
    secured: RunningServer, issuer: Issuer, verb: str
) -> None:
    assert post(secured, None, verb).status_code == 401
    assert post(secured, issuer.token(), verb).status_code == 200


@pytest.mark.parametrize("key", [0, 1], ids=["RS256", "ES256"])
def test_rsa_and_ec_tokens_are_accepted(secured: RunningServer, issuer: Issuer, key: int):
    response = post(secured, issuer.token(key=issuer.keys[key]))
    assert response.status_code == 200
    assert response.json()["predictions"][0]["label"] == "malignant"


@pytest.mark.parametrize(
    "path",
    [v1_path(MODEL_NAME), "/v2/health/live", "/v2/health/ready",
     v2_path(MODEL_NAME, "ready"), "/metrics"],
)  # fmt: skip
def test_probes_and_metrics_need_no_token(secured: RunningServer, path: str) -> None:
    assert httpx.get(secured.base_url + path).status_code == 200


def test_model_metadata_is_not_public(secured: RunningServer, issuer: Issuer) -> None:
    url = f"{secured.base_url}/v2/models/{MODEL_NAME}"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"authorization": f"Bearer {issuer.token()}"}).status_code == 200


async def test_grpc_infer_needs_the_authorization_metadata(
    secured: RunningServer, issuer: Issuer
) -> None:
    client = InferenceGRPCClient(secured.grpc_target, timeout=10, retries=0)
    try:
        with pytest.raises(grpc.RpcError) as raised:
            await client.infer(v2_request_from_example())
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "no bearer token" in raised.value.details()
        with pytest.raises(grpc.RpcError) as raised:
            headers = [("authorization", f"Bearer {issuer.token(NOT_ALLOWED)}")]
            await client.infer(v2_request_from_example(), headers=headers)
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        headers = [("authorization", f"Bearer {issuer.token()}"), ("x-request-id", "grpc-42")]
        response = await client.infer(v2_request_from_example(), headers=headers)
        assert [label.decode() for label in response.outputs[1].as_numpy()] == [
            "malignant",
            "benign",
        ]
    finally:
        await client.close()
    [line] = [line for line in audit_lines(secured) if line["request_id"] == "grpc-42"]
    assert line["grpc_status"] == "OK" and line["subject"] == ALLOWED
    assert line["labels"] == {"malignant": 1, "benign": 1} and line["instances"] == 2


def test_grpc_health_needs_no_token(secured: RunningServer) -> None:
    with grpc.insecure_channel(secured.grpc_target) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_an_answer_is_audited_with_its_caller_and_labels_but_no_features(
    secured: RunningServer, issuer: Issuer
) -> None:
    response = post(secured, issuer.token(), "predict", **{"x-request-id": "audit-7"})
    assert response.status_code == 200
    [line] = [line for line in audit_lines(secured) if line["request_id"] == "audit-7"]
    assert line["event"] == "answered" and line["status"] == 200
    assert line["subject"] == ALLOWED
    assert line["route"] == f"POST {v1_path(MODEL_NAME, 'predict')}"
    assert line["model"] == MODEL_NAME
    assert line["model_version"] == response.json()["model_version"]
    assert line["instances"] == 1 and line["labels"] == {"malignant": 1}
    assert set(line) == set(AUDIT_FIELDS)
    assert FEATURE_VALUE not in json.dumps(line)


def test_a_refusal_is_audited_with_its_reason(secured: RunningServer, issuer: Issuer) -> None:
    post(secured, issuer.token(NOT_ALLOWED), "predict", **{"x-request-id": "refused-3"})
    [line] = [line for line in audit_lines(secured) if line["request_id"] == "refused-3"]
    assert line["event"] == "refused" and line["status"] == 403
    assert line["subject"] == NOT_ALLOWED and NOT_ALLOWED in line["reason"]


def test_requests_without_an_id_get_distinct_ones(secured: RunningServer, issuer: Issuer):
    token = issuer.token()
    assert post(secured, token, "explain").status_code == 200
    assert post(secured, token, "explain").status_code == 200
    first, second = audit_lines(secured)[-2:]
    assert first["route"].endswith(":explain") and second["route"].endswith(":explain")
    assert first["request_id"] and first["request_id"] != second["request_id"]


def test_a_bad_request_with_a_valid_token_is_audited_with_its_status(
    secured: RunningServer, issuer: Issuer
) -> None:
    url = secured.base_url + v1_path(MODEL_NAME, "predict")
    headers = {"authorization": f"Bearer {issuer.token()}", "x-request-id": "bad-1"}
    response = httpx.post(url, json=load_example("missing_features.json"), headers=headers)
    assert response.status_code == 400
    [line] = [line for line in audit_lines(secured) if line["request_id"] == "bad-1"]
    assert line["event"] == "answered" and line["status"] == 400
    assert line["instances"] == 0 and line["labels"] == {} and line["model_version"] is None


async def test_a_grpc_call_the_model_refuses_is_audited_with_its_code(
    secured: RunningServer, issuer: Issuer
) -> None:
    short = InferInput("features", [1, 29], "FP64")
    short.set_data_from_numpy(np.zeros((1, 29)), binary_data=False)
    headers = [("authorization", f"Bearer {issuer.token()}"), ("x-request-id", "grpc-bad")]
    client = InferenceGRPCClient(secured.grpc_target, timeout=10, retries=0)
    try:
        with pytest.raises(grpc.RpcError) as raised:
            request = InferRequest(model_name=MODEL_NAME, infer_inputs=[short])
            await client.infer(request, headers=headers)
    finally:
        await client.close()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [line] = [line for line in audit_lines(secured) if line["request_id"] == "grpc-bad"]
    assert line["grpc_status"] == "INVALID_ARGUMENT" and line["instances"] == 0
