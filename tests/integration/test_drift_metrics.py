"""Drift figures of a real predictor, scraped from /metrics: one per feature per pod.

1,500 WDBC-like cases (bundled rows with 2% noise) keep every PSI under 0.1; the same
traffic with the three area features x1.6 makes 'mean area' significant (>= 0.2) while the
other features stay stable, with one worker and with two.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from kserve import InferenceGRPCClient, InferInput, InferRequest

from predictor.drift import FOLD_SECONDS
from predictor.drift_window import read_window
from predictor.serving.multiprocess_metrics import ENV
from tests.code.test_drift import AREAS, cases
from tests.integration.test_metrics_workers import scrape
from tests.support import MODEL_NAME, RunningServer, load_example, running_predictor
from training.data import FEATURE_NAMES

PSI = "breast_cancer_feature_psi"
INSTANCES = "breast_cancer_drift_window_instances{}"
PREDICTED = "breast_cancer_predicted_malignant_ratio{}"
MEAN_AREA = FEATURE_NAMES.index("mean area")
SETTLE_SECONDS = 20


def psi_by_feature(samples: dict[str, float]) -> dict[str, float]:
    prefix = f'{PSI}{{feature="'
    return {
        key[len(prefix) : -2]: value for key, value in samples.items() if key.startswith(prefix)
    }


def settled(server: RunningServer, instances: int) -> dict[str, float]:
    """A scrape once the window counts ``instances`` and every process's notes are in it:
    another worker's reach its ring within FOLD_SECONDS, so two scrapes that far apart
    agree."""
    deadline = time.monotonic() + SETTLE_SECONDS
    samples = scrape(server)
    while True:
        time.sleep(FOLD_SECONDS + 0.2)
        previous, samples = samples, scrape(server)
        same = psi_by_feature(previous) == psi_by_feature(samples)
        if (same and samples.get(INSTANCES) == instances) or time.monotonic() > deadline:
            return samples


async def send_every_protocol(server: RunningServer, rows: np.ndarray) -> list[str]:
    """Score ``rows``: one V1 instance per request, then the last 300 as three V1 batches,
    one V2 REST and one gRPC request of 100 each. The labels the server answered, in order."""
    count = len(rows)
    singles, batches, v2_rows, grpc_rows = np.split(rows, [count - 300, count - 200, count - 100])
    labels = []
    predict = f"{server.base_url}/v1/models/{MODEL_NAME}:predict"
    with httpx.Client() as client:
        for row in singles.tolist():
            labels.append(
                client.post(predict, json={"instances": [row]}).json()["predictions"][0]["label"]
            )
        for batch in np.array_split(batches, 3):
            answer = client.post(predict, json={"instances": batch.tolist()}).json()
            labels += [p["label"] for p in answer["predictions"]]
        tensor = {"name": "features", "shape": list(v2_rows.shape), "datatype": "FP64"}
        url = f"{server.base_url}/v2/models/{MODEL_NAME}/infer"
        answer = client.post(url, json={"inputs": [{**tensor, "data": v2_rows.ravel().tolist()}]})
        labels += next(o["data"] for o in answer.json()["outputs"] if o["name"] == "label")
    infer_input = InferInput("features", list(grpc_rows.shape), "FP64")
    infer_input.set_data_from_numpy(grpc_rows, binary_data=False)
    grpc_client = InferenceGRPCClient(server.grpc_target, timeout=10)
    try:
        request = InferRequest(model_name=MODEL_NAME, infer_inputs=[infer_input])
        response = await grpc_client.infer(request)
    finally:
        await grpc_client.close()
    labels += [
        v.decode() for v in next(o for o in response.outputs if o.name == "label").as_numpy()
    ]
    return labels


def assert_stable(samples: dict[str, float]) -> None:
    psi = psi_by_feature(samples)
    assert list(psi) == list(FEATURE_NAMES)
    assert max(psi.values()) < 0.1, psi
    print(f"largest PSI of in-distribution traffic {max(psi.values()):.3f}")


def assert_area_drift(samples: dict[str, float]) -> None:
    psi = psi_by_feature(samples)
    assert len(psi) == len(FEATURE_NAMES)
    assert psi["mean area"] >= 0.2, psi
    others = [value for index, value in enumerate(psi.values()) if index not in AREAS]
    assert np.median(others) < 0.1, psi
    print(f"mean area PSI {psi['mean area']:.3f}; median of the 27 others {np.median(others):.3f}")


async def test_one_worker_sees_stable_traffic_then_scaled_areas(
    trained_dir: Path, tmp_path: Path
) -> None:
    with running_predictor(trained_dir, tmp_path) as server:
        await send_every_protocol(server, cases(1500, seed=21))
        stable = settled(server, 1000)
        assert stable[INSTANCES] == 1000
        assert_stable(stable)
        await send_every_protocol(server, cases(1500, seed=22, area_factor=1.6))
        assert_area_drift(settled(server, 1000))


def test_two_workers_report_one_figure_per_feature_from_both(
    trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    monkeypatch.setenv(ENV, str(metrics_dir))
    with running_predictor(trained_dir, tmp_path, "--workers", "2") as server:
        url = f"{server.base_url}/v1/models/{MODEL_NAME}:predict"
        close = {"Connection": "close"}  # new connections, so the kernel hands them to both
        for rows in (cases(1500, seed=23), cases(1500, seed=24, area_factor=1.6)):
            for batch in np.array_split(rows, 150):
                response = httpx.post(url, json={"instances": batch.tolist()}, headers=close)
                assert response.status_code == 200
            samples = settled(server, 1000)
            assert samples[INSTANCES] == 1000
            families = [key for key in samples if key.startswith(f"{PSI}{{")]
            assert len(families) == len(FEATURE_NAMES)  # one sample per feature, not per worker
        assert_area_drift(samples)
        for _ in range(4):  # whichever worker answers, the same pod-wide figure
            assert psi_by_feature(scrape(server)) == psi_by_feature(samples)
        written = {
            path.name: read_window(path.read_bytes(), len(FEATURE_NAMES)).count
            for path in metrics_dir.glob("drift_*.drift")
        }
    # The parent's ring (gRPC) is empty; both workers' rings hold instances.
    assert sorted(count > 0 for count in written.values()) == [False, True, True], written


async def test_explanations_and_feedback_do_not_enter_the_window(
    trained_dir: Path, tmp_path: Path
) -> None:
    arguments = ("--drift_window", "100", "--drift_min_instances", "20")
    with running_predictor(trained_dir, tmp_path, *arguments) as server:
        before = scrape(server)
        assert before[INSTANCES] == 0 and math.isnan(before[PREDICTED])
        labels = await send_every_protocol(server, cases(600, seed=25))
        base = f"{server.base_url}/v1/models/{MODEL_NAME}"
        batch = load_example("valid_batch_request.json")
        assert httpx.post(f"{base}:explain", json=batch).status_code == 200
        feedback = {**batch, "outcomes": ["benign"] * 4}
        assert httpx.post(f"{base}:feedback", json=feedback).status_code == 200
        samples = settled(server, 100)
    assert samples[INSTANCES] == 100
    # The last 100 scored (the gRPC request's), whatever came after them.
    assert 0 < samples[PREDICTED] == labels[-100:].count("malignant") / 100 < 1
