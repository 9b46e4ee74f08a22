"""Graceful drain: SIGTERM under steady load loses no request, readiness flips first, exit 0."""

from __future__ import annotations

import pickle
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from predictor.model import BreastCancerModel
from tests.support import MODEL_NAME, RunningServer, load_example, running_predictor

CONNECTIONS = 16
DRAIN_SECONDS = 2.0
LOAD_BEFORE_SIGNAL_SECONDS = 1.5
EXIT_WITHIN_SECONDS = DRAIN_SECONDS + 6  # drain window + requests in flight + gRPC stop
BODY = load_example("valid_request.json")


@dataclass
class DrainRun:
    signalled_at: float = 0.0
    exited_at: float = 0.0
    exit_code: int | None = None
    requests: list[tuple[float, object]] = field(default_factory=list)  # (sent at, status)
    readiness: list[tuple[float, object]] = field(default_factory=list)  # (answered at, status)

    def before_signal(self) -> list:
        return [status for sent, status in self.requests if sent < self.signalled_at]

    def during_drain(self, margin: float = 0.3) -> list:
        end = self.signalled_at + DRAIN_SECONDS - margin
        return [status for sent, status in self.requests if self.signalled_at <= sent < end]

    def readiness_flip(self) -> float | None:
        """Seconds from SIGTERM to the first readiness answer of 503."""
        after = [at - self.signalled_at for at, s in self.readiness if at > self.signalled_at]
        statuses = [s for at, s in self.readiness if at > self.signalled_at]
        return next((t for t, s in zip(after, statuses, strict=True) if s == 503), None)

    def summary(self) -> str:
        lost = [s for s in self.before_signal() if s != 200]
        flip = self.readiness_flip()
        return (
            f"{len(self.before_signal())} requests sent before SIGTERM, {len(lost)} without a "
            f"200; {len(self.during_drain())} more served in the drain window; readiness 503 "
            f"{'never' if flip is None else f'after {flip * 1000:.0f} ms'}; exit "
            f"{self.exit_code} after {self.exited_at - self.signalled_at:.2f} s"
        )


def drive_sigterm(server: RunningServer) -> DrainRun:
    """16 keep-alive clients post continuously; SIGTERM after 1.5 s; run until the exit."""
    run = DrainRun()
    stop = threading.Event()
    url = f"{server.base_url}/v1/models/{MODEL_NAME}:predict"
    hard_deadline = time.monotonic() + LOAD_BEFORE_SIGNAL_SECONDS + EXIT_WITHIN_SECONDS + 5

    def client_loop() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set() and time.monotonic() < hard_deadline:
                sent = time.monotonic()
                try:
                    status: object = client.post(url, json=BODY).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                    time.sleep(0.02)
                run.requests.append((sent, status))

    def readiness_loop() -> None:
        ready_url = f"{server.base_url}/v1/models/{MODEL_NAME}"
        while not stop.is_set() and time.monotonic() < hard_deadline:
            try:
                status: object = httpx.get(ready_url, timeout=2).status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
            run.readiness.append((time.monotonic(), status))  # when the answer arrived
            time.sleep(0.05)

    threads = [threading.Thread(target=client_loop) for _ in range(CONNECTIONS)]
    threads.append(threading.Thread(target=readiness_loop))
    for thread in threads:
        thread.start()
    try:
        time.sleep(LOAD_BEFORE_SIGNAL_SECONDS)
        run.signalled_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        run.exit_code = server.process.wait(timeout=EXIT_WITHIN_SECONDS + 5)
        run.exited_at = time.monotonic()
        time.sleep(0.3)  # a few requests against the closed port
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    return run


def assert_graceful(run: DrainRun, log: str) -> None:
    before = run.before_signal()
    assert len(before) > 50, run.summary()
    assert [s for s in before if s != 200] == [], run.summary()
    assert run.during_drain() and all(s == 200 for s in run.during_drain()), run.summary()
    assert run.exit_code == 0, log[-3000:]
    assert run.exited_at - run.signalled_at < EXIT_WITHIN_SECONDS, run.summary()
    assert run.exited_at - run.signalled_at >= DRAIN_SECONDS, "closed before the drain window"
    ready_before = [s for at, s in run.readiness if at < run.signalled_at]
    assert ready_before and set(ready_before) == {200}
    after = [(at - run.signalled_at, s) for at, s in run.readiness if at > run.signalled_at]
    first_503 = run.readiness_flip()
    assert first_503 is not None and first_503 < 0.5, after[:5]
    while_running = [s for offset, s in after if first_503 <= offset < DRAIN_SECONDS - 0.3]
    assert set(while_running) == {503}, while_running
    refused = [s for sent, s in run.requests if sent > run.exited_at]
    assert refused and all(s == "ConnectError" for s in refused)
    assert "Traceback" not in log


def test_sigterm_under_load_loses_no_request(trained_dir: Path, tmp_path: Path) -> None:
    with running_predictor(trained_dir, tmp_path, "--drain_seconds", str(DRAIN_SECONDS)) as server:
        run = drive_sigterm(server)
        print(run.summary())
        assert_graceful(run, server.log())
        assert "drain window over" in server.log()
        assert "Stopping the model server" not in server.log(), "KServe's stop() must not run"


def model_is_picklable(trained_dir: Path) -> str | None:
    model = BreastCancerModel(MODEL_NAME, trained_dir)
    model.load()
    try:
        pickle.dumps(model)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def test_two_workers_enforce_limits_and_drain(trained_dir: Path, tmp_path: Path) -> None:
    """KServe's multi-process server re-imports the app in each worker: limits must follow."""
    assert model_is_picklable(trained_dir) is None, "--workers > 1 pickles the model"
    with running_predictor(
        trained_dir, tmp_path, "--workers", "2", "--drain_seconds", str(DRAIN_SECONDS)
    ) as server:
        url = f"{server.base_url}/v1/models/{MODEL_NAME}:predict"
        deep = b'{"instances": [[1]], "x": ' + b"[" * 40 + b"]" * 40 + b"}"
        oversized = b" " * (16 * 1024 * 1024 + 1)
        with httpx.Client(timeout=30) as client:
            for _ in range(8):  # both workers answer some of these
                assert client.post(url, json=BODY).status_code == 200
                assert client.post(url, content=deep).status_code == 400
            assert client.post(url, content=oversized).status_code == 413
        run = drive_sigterm(server)
        print(run.summary())
        assert_graceful(run, server.log())
