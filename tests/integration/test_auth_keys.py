"""The issuer's keys over time: read before readiness, rotated, kept while the issuer is down."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.token_issuer import Issuer, SigningKey
from predictor.serving.jwks import REFRESH_INTERVAL_SECONDS
from predictor.serving.routes import v1_path
from tests.support import MODEL_NAME, RunningServer, load_example, running_predictor

BODY = load_example("valid_request.json")


def status(server: RunningServer, token: str) -> int:
    url = server.base_url + v1_path(MODEL_NAME, "predict")
    return httpx.post(url, json=BODY, headers={"authorization": f"Bearer {token}"}).status_code


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    issuer = Issuer()
    yield issuer
    issuer.stop()


def start_once_refused(issuer: Issuer, log_dir: Path, came_up: list[float]) -> None:
    """Start the issuer once the predictor's log says it found none (within a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any("no signing keys yet" in log.read_text() for log in log_dir.glob("*.log")):
            issuer.start()
            came_up.append(time.monotonic())
            return
        time.sleep(0.1)


def test_readiness_waits_for_the_keys(trained_dir: Path, tmp_path: Path, issuer: Issuer) -> None:
    came_up: list[float] = []
    threading.Thread(target=start_once_refused, args=(issuer, tmp_path, came_up)).start()
    with running_predictor(trained_dir, tmp_path, *issuer.flags()) as server:
        ready_at = time.monotonic()
        assert came_up and came_up[0] < ready_at  # not ready before the issuer was up
        assert status(server, issuer.token()) == 200


def test_a_new_key_is_picked_up_and_the_issuer_going_down_keeps_the_known_ones(
    trained_dir: Path, tmp_path: Path, issuer: Issuer
) -> None:
    issuer.start()
    with running_predictor(trained_dir, tmp_path, *issuer.flags()) as server:
        assert status(server, issuer.token()) == 200
        rotated = SigningKey.new("rsa-2")
        issuer.keys.append(rotated)
        # A refresh at most every few seconds: the first tries may fall inside that window.
        deadline = time.monotonic() + REFRESH_INTERVAL_SECONDS + 5
        while status(server, issuer.token(key=rotated)) != 200:
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.5)
        issuer.stop()
        # Tokens it has not seen before, signed by keys it knows: no issuer needed.
        assert status(server, issuer.token(key=issuer.keys[1])) == 200
        assert status(server, issuer.token(key=rotated, jti="another")) == 200
        time.sleep(REFRESH_INTERVAL_SECONDS)
        assert status(server, issuer.token(key=SigningKey.new("rsa-3"))) == 401
        assert "signing keys not refreshed, keeping the 3 known" in server.log()
        assert status(server, issuer.token(jti="after the failed refresh")) == 200


def test_workers_get_the_keys_the_server_read(trained_dir: Path, tmp_path: Path, issuer: Issuer):
    issuer.start()
    with running_predictor(trained_dir, tmp_path, *issuer.flags(), "--workers", "2") as server:
        assert issuer.requests == 1
        for _ in range(4):  # new connections: either worker may answer
            assert status(server, issuer.token()) == 200
            assert status(server, "not-a-jwt") == 401
        assert issuer.requests == 1
