"""Each request limit at its edge (limit: served, limit + 1: a clear JSON error), and its flag."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predictor.__main__ import main
from predictor.serving.limits import RequestLimitMiddleware, json_depth
from predictor.settings import Settings
from tests.reliability.conftest import INSTANCE_LIMIT, TIMEOUT_SECONDS
from tests.support import MODEL_NAME, RunningServer, load_example

DEFAULT_MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default
DEFAULT_MAX_JSON_DEPTH = Settings.model_fields["max_json_depth"].default

V1 = f"/v1/models/{MODEL_NAME}:predict"
V2 = f"/v2/models/{MODEL_NAME}/infer"
ROW = load_example("valid_request.json")["instances"][0]
VALID = json.dumps({"instances": [ROW]}).encode()


def nested_list(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def body_with_depth(depth: int) -> bytes:
    """A valid V1 request whose deepest nesting is exactly ``depth`` (>= 3)."""
    return json.dumps({"instances": [ROW], "pad": nested_list(depth - 1)}).encode()


# ---- body size ----------------------------------------------------------------------------


def test_body_of_exactly_the_size_limit_is_served(guarded_server: RunningServer) -> None:
    body = VALID + b" " * (DEFAULT_MAX_BODY_BYTES - len(VALID))
    assert len(body) == DEFAULT_MAX_BODY_BYTES
    response = httpx.post(f"{guarded_server.base_url}{V1}", content=body, timeout=30)
    assert response.status_code == 200, response.text[:300]


def test_one_byte_over_the_size_limit_is_a_413(guarded_server: RunningServer) -> None:
    body = VALID + b" " * (DEFAULT_MAX_BODY_BYTES + 1 - len(VALID))
    response = httpx.post(f"{guarded_server.base_url}{V1}", content=body, timeout=30)
    assert response.status_code == 413
    error = response.json()["error"]
    assert f"is {DEFAULT_MAX_BODY_BYTES + 1} bytes" in error
    assert "--max_body_bytes" in error


def test_chunked_body_over_the_size_limit_is_a_413(guarded_server: RunningServer) -> None:
    """No Content-Length: the limit is enforced while reading, not only from the header."""
    chunk = b" " * (1 << 20)

    def chunks():
        yield VALID
        for _ in range(DEFAULT_MAX_BODY_BYTES // len(chunk)):
            yield chunk

    response = httpx.post(f"{guarded_server.base_url}{V2}", content=chunks(), timeout=30)
    assert response.status_code == 413
    assert "--max_body_bytes" in response.json()["error"]
    assert httpx.post(f"{guarded_server.base_url}{V1}", content=VALID).status_code == 200


# ---- nesting depth ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [V1, V2])
def test_nesting_at_the_depth_limit_passes_and_one_deeper_is_a_400(
    guarded_server: RunningServer, path: str
) -> None:
    at_limit = httpx.post(
        f"{guarded_server.base_url}{path}",
        content=body_with_depth(DEFAULT_MAX_JSON_DEPTH),
        headers={"content-type": "application/json"},
    )
    if path == V1:
        assert at_limit.status_code == 200, at_limit.text
    else:  # a V1 body on the V2 route: rejected by validation, not by the depth limit
        assert at_limit.status_code in (400, 422)
        assert "nested" not in at_limit.json()["error"]
    over = httpx.post(
        f"{guarded_server.base_url}{path}",
        content=body_with_depth(DEFAULT_MAX_JSON_DEPTH + 1),
        headers={"content-type": "application/json"},
    )
    assert over.status_code == 400
    assert over.json()["error"] == (
        f"request body is nested {DEFAULT_MAX_JSON_DEPTH + 1} levels deep; at most "
        f"{DEFAULT_MAX_JSON_DEPTH} are allowed (server flag --max_json_depth)"
    )


def test_a_parser_bomb_is_refused_before_any_parser_sees_it(guarded_server: RunningServer):
    bomb = b"[" * 200_000 + b"]" * 200_000
    for path in (V1, V2):
        response = httpx.post(
            f"{guarded_server.base_url}{path}",
            content=bomb,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert "nested 200000 levels deep" in response.json()["error"]


def reference_depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    return 0


JSON_TEXT = st.text(alphabet=st.sampled_from('ab[]{}"\\:, é'), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.integers() | JSON_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(JSON_TEXT, children, max_size=4)
    ),
    max_leaves=50,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=JSON_VALUES, indent=st.sampled_from([None, 1]))
def test_depth_scan_matches_the_parsed_depth(value, indent) -> None:
    """Brackets inside strings (escaped quotes and backslashes included) never count."""
    body = json.dumps(value, indent=indent, ensure_ascii=False).encode()
    assert json_depth(body, 0) == reference_depth(value)


# ---- instance count (V1's edge is in tests/integration/test_server.py) --------------------


def test_v2_instance_count_at_the_limit_passes_and_one_more_is_a_400(
    guarded_server: RunningServer,
) -> None:
    def request(count: int) -> httpx.Response:
        tensor = {"name": "features", "shape": [count, 30], "datatype": "FP64"}
        tensor["data"] = ROW * count
        return httpx.post(f"{guarded_server.base_url}{V2}", json={"inputs": [tensor]})

    assert request(INSTANCE_LIMIT).status_code == 200
    over = request(INSTANCE_LIMIT + 1)
    assert over.status_code == 400
    assert f"at most {INSTANCE_LIMIT} are allowed" in over.json()["error"]


# ---- request timeout ----------------------------------------------------------------------


def request_head(body_length: int) -> bytes:
    return (
        f"POST {V1} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {body_length}\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket) -> tuple[int, bytes, dict]:
    """(status, raw head, JSON body) of one HTTP/1.1 response with a Content-Length."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        assert data, f"connection closed before a response: {answer!r}"
        answer += data
    head, body = answer.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        data = sock.recv(65536)
        assert data, "connection closed mid-body"
        body += data
    return int(head.split(b" ", 2)[1]), head, json.loads(body)


def slow_post(port: int, body: bytes, pieces: int, seconds: float) -> tuple[int, dict, float]:
    """Send ``body`` in ``pieces`` spread over ``seconds``; return (status, json, elapsed)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_head(len(body)))
        step = -(-len(body) // pieces)
        for offset in range(0, len(body), step):
            time.sleep(seconds / pieces)
            sock.sendall(body[offset : offset + step])
        status, _, answer = read_response(sock)
    return status, answer, time.monotonic() - started


def test_body_arriving_within_the_timeout_is_served(guarded_server: RunningServer) -> None:
    status, body, elapsed = slow_post(
        guarded_server.http_port, VALID, pieces=5, seconds=TIMEOUT_SECONDS * 0.5
    )
    assert status == 200, body
    assert elapsed >= TIMEOUT_SECONDS * 0.5


def test_stalled_body_gets_a_408_at_the_timeout(guarded_server: RunningServer) -> None:
    """A client that sends half its body and stops is answered when the timeout expires."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", guarded_server.http_port), timeout=10) as sock:
        sock.sendall(request_head(len(VALID)) + VALID[: len(VALID) // 2])
        status, _, body = read_response(sock)
    elapsed = time.monotonic() - started
    assert status == 408
    assert body["error"] == (
        f"request body not received within {TIMEOUT_SECONDS:g} s (server flag --request_timeout)"
    )
    assert TIMEOUT_SECONDS <= elapsed < TIMEOUT_SECONDS + 2


async def asgi_messages(app, path: str = V1) -> list[dict]:
    """Run an ASGI app in-process on a small POST; return the messages it sent."""
    sent: list[dict] = []
    body_sent = False

    async def receive():
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": VALID, "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": path, "headers": []}, receive, send)
    return sent


async def asgi_call(app) -> tuple[int, dict, dict]:
    """(status, headers, json body) of an in-process ASGI call."""
    sent = await asgi_messages(app)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], headers, json.loads(body)


def app_taking(seconds: float, started_first: bool = False):
    async def app(scope, receive, send):
        await receive()
        if started_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(seconds)
        if not started_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok": true}'})

    return app


async def test_answer_within_the_timeout_passes_through() -> None:
    limited = RequestLimitMiddleware(app_taking(0.05), Settings(request_timeout=0.5))
    assert await asgi_call(limited) == (200, {}, {"ok": True})


async def test_answer_later_than_the_timeout_is_a_503_with_retry_after() -> None:
    limited = RequestLimitMiddleware(app_taking(0.6), Settings(request_timeout=0.2))
    started = time.monotonic()
    status, headers, body = await asgi_call(limited)
    assert time.monotonic() - started < 0.5
    assert status == 503
    assert headers["retry-after"] == "1"
    assert body["error"].startswith("request not answered within 0.2 s")


async def test_a_started_response_is_never_replaced_by_an_error() -> None:
    limited = RequestLimitMiddleware(
        app_taking(0.4, started_first=True), Settings(request_timeout=0.1)
    )
    sent = await asgi_messages(limited)
    assert sent == [{"type": "http.response.start", "status": 200, "headers": []}]


async def test_the_applications_own_timeout_error_is_not_mistaken_for_ours() -> None:
    async def app(scope, receive, send):
        raise TimeoutError("upstream")

    with pytest.raises(TimeoutError, match="upstream"):
        await asgi_call(RequestLimitMiddleware(app, Settings(request_timeout=5)))


# ---- a bad limit stops start-up in one line (every setting: tests/code/test_settings.py) ----


def test_a_malformed_environment_value_is_a_usage_error(monkeypatch, capsys) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "16MiB")
    with pytest.raises(SystemExit) as exited:
        main(["--model_dir", "/nonexistent"])
    assert exited.value.code == 2
    assert "MAX_BODY_BYTES='16MiB': expected an integer >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag",
    ["--max_body_bytes=0", "--max_json_depth=0", "--request_timeout=-1", "--drain_seconds=-1"],
)
def test_invalid_limit_values_are_refused_at_start_up(flag: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--model_dir", "/nonexistent", flag])
    assert exited.value.code == 2
    assert flag.split("=")[0].lstrip("-") in capsys.readouterr().err
