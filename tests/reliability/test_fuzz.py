"""Property-based abuse of the real server: no input may get a 5xx or take the server down.

Every generated request goes over real HTTP to ``python -m predictor``. The assertion for
each answer: status < 500, and a 4xx carries a JSON object whose ``error`` is a non-empty
string. Default runs are derandomised (same examples every run, about 2 s each); the
``slow`` variants draw fresh examples, many more of them.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import MODEL_NAME, RunningServer, load_example

V1_PREDICT = f"/v1/models/{MODEL_NAME}:predict"
V1_EXPLAIN = f"/v1/models/{MODEL_NAME}:explain"
V2_INFER = f"/v2/models/{MODEL_NAME}/infer"
PATHS = st.sampled_from([V1_PREDICT, V1_EXPLAIN, V2_INFER])
FAST = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
THOROUGH = settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ROW = load_example("valid_request.json")["instances"][0]

# ---- strategies ---------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)
NUMBERISH = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    SCALARS,
    JSON_VALUES,
)


@st.composite
def near_valid_rows(draw) -> list:
    """Rows that are almost right: wrong length, a wrong value here and there."""
    row = list(ROW)
    length = draw(st.sampled_from([30, 30, 30, 29, 31, 0, 1]))
    row = (row * 2)[:length]
    for _ in range(draw(st.integers(0, 3))):
        if row:
            row[draw(st.integers(0, len(row) - 1))] = draw(NUMBERISH)
    return row


@st.composite
def v1_bodies(draw):
    instances = draw(
        st.one_of(
            st.lists(near_valid_rows(), min_size=0, max_size=4),
            st.lists(
                st.dictionaries(
                    st.sampled_from(["mean radius", "worst area", "x", ""]), NUMBERISH, max_size=4
                ),
                max_size=3,
            ),
            JSON_VALUES,
        )
    )
    extra = draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2))
    return {**extra, "instances": instances}


@st.composite
def v2_bodies(draw):
    """Open Inference Protocol bodies, some valid for pydantic and wrong for the model."""
    tensor = {
        "name": draw(st.one_of(st.text(max_size=10), JSON_VALUES)),
        "shape": draw(
            st.one_of(
                st.just([1, 30]),
                st.lists(st.integers(-3, 40), max_size=3),
                JSON_VALUES,
            )
        ),
        "datatype": draw(
            st.one_of(st.sampled_from(["FP64", "FP32", "INT64", "BYTES", "BOOL", "FP16"]), SCALARS)
        ),
        "data": draw(
            st.one_of(
                st.just(list(ROW)),
                st.lists(near_valid_rows(), max_size=2),
                near_valid_rows(),
                JSON_VALUES,
            )
        ),
    }
    if draw(st.booleans()):
        tensor["parameters"] = draw(
            st.dictionaries(
                st.sampled_from(["binary_data_size", "content_type", "x"]), SCALARS, max_size=2
            )
        )
    for key in draw(st.lists(st.sampled_from(sorted(tensor)), max_size=2)):
        tensor.pop(key, None)
    body = {"inputs": draw(st.one_of(st.just([tensor]), st.lists(st.just(tensor), max_size=3)))}
    if draw(st.booleans()):
        body["outputs"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(["label", "probability_malignant", "nope"])}
                ),
                max_size=2,
            )
        )
    if draw(st.booleans()):
        body["id"] = draw(st.one_of(st.text(max_size=8), SCALARS))
    if draw(st.booleans()):
        body["parameters"] = draw(st.dictionaries(st.text(max_size=6), SCALARS, max_size=2))
    return body


# Printable ASCII without surrounding blanks: what an HTTP client can put in a header value.
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=24
).map(str.strip)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/cloudevents+json",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
            "text/plain",
            "multipart/form-data; boundary=x",
        ]
    ),
    HEADER_TEXT,
)


@st.composite
def headers(draw) -> dict[str, str]:
    """Content types, CloudEvent binary-mode headers and the V2 binary-extension header."""
    result: dict[str, str] = {}
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        result["content-type"] = content_type
    if draw(st.booleans()):
        for name, values in (
            ("ce-specversion", st.sampled_from(["1.0", "0.3", "2", ""]) | HEADER_TEXT),
            ("ce-id", HEADER_TEXT),
            ("ce-source", HEADER_TEXT),
            ("ce-type", HEADER_TEXT),
            ("ce-time", st.sampled_from(["2026-11-27T00:00:00Z", "yesterday"]) | HEADER_TEXT),
            ("ce-contenttype", st.sampled_from(["application/json", "text/plain"]) | HEADER_TEXT),
            ("ce-datacontenttype", st.sampled_from(["application/json"]) | HEADER_TEXT),
        ):
            if draw(st.booleans()):
                result[name] = draw(values)
    if draw(st.integers(0, 3)) == 0:
        result["inference-header-content-length"] = draw(
            st.one_of(st.integers(-5, 5000).map(str), HEADER_TEXT)
        )
    return result


def structured_cloudevent(data) -> dict:
    return {
        "specversion": "1.0",
        "id": "1",
        "source": "test",
        "type": "t",
        "time": "2026-11-27T00:00:00Z",
        "data": data,
    }


BODIES = st.one_of(
    v1_bodies().map(lambda b: json.dumps(b).encode()),
    v2_bodies().map(lambda b: json.dumps(b).encode()),
    JSON_VALUES.map(lambda b: json.dumps(b).encode()),
    st.one_of(v1_bodies(), JSON_VALUES).map(
        lambda b: json.dumps(structured_cloudevent(b)).encode()
    ),
    st.binary(max_size=300),
    st.sampled_from([b"NaN", b'{"instances": [[NaN]]}', b'{"instances": [[1e999]]}', b"\xff\xfe"]),
)

# ---- the property -------------------------------------------------------------------------


def assert_client_error_or_success(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), body
        assert isinstance(body.get("error"), str) and body["error"], body


@pytest.fixture(scope="module")
def client(guarded_server: RunningServer):
    with httpx.Client(base_url=guarded_server.base_url, timeout=30) as session:
        yield session
    ready = httpx.get(f"{guarded_server.base_url}/v1/models/{MODEL_NAME}", timeout=5)
    assert ready.status_code == 200, "the server must still be up and ready after the fuzzing"


def post(client: httpx.Client, path: str, body: bytes, request_headers: dict) -> None:
    assert_client_error_or_success(client.post(path, content=body, headers=request_headers))


@FAST
@given(path=PATHS, body=BODIES, request_headers=headers())
def test_arbitrary_bodies_and_headers_never_get_a_5xx(client, path, body, request_headers):
    post(client, path, body, request_headers)


@FAST
@given(body=v2_bodies())
def test_v2_bodies_failing_the_schema_get_a_readable_error(client, body):
    response = client.post(V2_INFER, json=body)
    assert_client_error_or_success(response)
    if response.status_code == 422:
        assert response.json()["error"].startswith("invalid inference request: ")


@FAST
@given(path=PATHS, body=st.one_of(v1_bodies(), JSON_VALUES), request_headers=headers())
def test_binary_cloudevents_never_get_a_5xx(client, path, body, request_headers):
    request_headers = {
        "ce-specversion": "1.0",
        "ce-id": "id-1",
        "ce-source": "fuzz",
        "ce-type": "fuzz.request",
        **request_headers,
    }
    post(client, path, json.dumps(body).encode(), request_headers)


def test_known_kserve_500s_are_400s(client) -> None:
    """Inputs that stock KServe 0.21 answers with a 500 (found by the tests above)."""
    v2_binary = {"content-type": "application/octet-stream"}
    cases = [
        (V2_INFER, b"nope", {**v2_binary, "inference-header-content-length": "x"}),
        (V2_INFER, b"{}", {**v2_binary, "inference-header-content-length": "2"}),
        (V2_INFER, b'{"inputs":[{}]}', {**v2_binary, "inference-header-content-length": "15"}),
    ]
    for path, body, request_headers in cases:
        response = client.post(path, content=body, headers=request_headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]


def test_unknown_routes_and_methods_answer_json_errors(client) -> None:
    for method, path, status in (
        ("GET", "/nowhere", 404),
        ("DELETE", V1_PREDICT, 405),
        ("POST", f"/v2/repository/models/{MODEL_NAME}/unload", 404),
        ("GET", f"/v2/models/{MODEL_NAME}/versions/1/ready", 404),  # KServe: 501
        ("GET", f"/v2/models/{MODEL_NAME}?model_version=1", 404),  # KServe: 501
    ):
        response = client.request(method, path)
        assert response.status_code == status
        assert response.json()["error"]
    assert client.get(f"/v1/models/{MODEL_NAME}").status_code == 200, "unload must be refused"


@pytest.mark.slow
@THOROUGH
@given(path=PATHS, body=BODIES, request_headers=headers())
def test_thorough_arbitrary_bodies_and_headers(client, path, body, request_headers):
    post(client, path, body, request_headers)


@pytest.mark.slow
@THOROUGH
@given(body=v2_bodies())
def test_thorough_v2_bodies(client, body):
    assert_client_error_or_success(client.post(V2_INFER, json=body))
