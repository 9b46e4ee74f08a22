"""Metrics are right with ``--workers 2``: any worker's /metrics reports what both answered.

Without multi-process mode each worker counts alone, so a scrape shows whichever worker
took the connection. Here every scrape must show the totals, while the per-process metric
files prove that both workers did answer requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kserve import InferenceGRPCClient
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from predictor.serving.multiprocess_metrics import ENV
from tests.integration.test_server import v2_request_from_example
from tests.support import MODEL_NAME, RunningServer, load_example, running_predictor

VALID_REQUESTS = 120
SCRAPES = 8
PREDICT_URL = f"/v1/models/{MODEL_NAME}:predict"
HTTP_REQUESTS = "breast_cancer_http_requests_total"


def scrape(server: RunningServer) -> dict[str, float]:
    """Every sample of one /metrics answer, keyed ``name{label="value",...}`` (sorted)."""
    text = httpx.get(f"{server.base_url}/metrics", headers={"Connection": "close"}).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def per_process_counts(directory: Path, labels: dict[str, str]) -> dict[int, float]:
    """Requests of ``labels`` each process counted, from its own counter file."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, found, _ = json.loads(key)
            if name == HTTP_REQUESTS and found == labels:
                counts[int(path.stem.split("_")[-1])] = value
    return counts


@pytest.fixture
def two_workers(
    trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningServer, Path]]:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # What a previous container left in the emptyDir: must not be added to this run's counts.
    stale = MmapedDict(str(metrics_dir / "counter_1.db"))
    labels = {"endpoint": "predict", "status_class": "2xx"}
    key = mmap_key(
        "breast_cancer_http_requests", HTTP_REQUESTS, list(labels), list(labels.values()), ""
    )
    stale.write_value(key, 1000.0, 0.0)
    stale.close()
    monkeypatch.setenv(ENV, str(metrics_dir))
    with running_predictor(trained_dir, tmp_path, "--workers", "2") as server:
        yield server, metrics_dir


async def test_every_scrape_reports_the_requests_of_both_workers(two_workers) -> None:
    server, metrics_dir = two_workers
    url = server.base_url + PREDICT_URL
    valid, out_of_range = (
        load_example("valid_request.json"),
        load_example("out_of_range_request.json"),
    )
    # A new connection per request, so the kernel hands them to either worker.
    close = {"Connection": "close"}
    for _ in range(VALID_REQUESTS):
        assert httpx.post(url, json=valid, headers=close).status_code == 200
    assert httpx.post(url, json=out_of_range, headers=close).status_code == 200
    assert httpx.post(url, json=load_example("invalid_type.json"), headers=close).status_code == 400
    grpc_client = InferenceGRPCClient(server.grpc_target, timeout=10)
    try:
        await grpc_client.infer(v2_request_from_example())  # 2 instances, served by the parent
    finally:
        await grpc_client.close()

    model = f'model_name="{MODEL_NAME}"'
    expected = {
        f'{HTTP_REQUESTS}{{endpoint="predict",status_class="2xx"}}': VALID_REQUESTS + 1,
        f'{HTTP_REQUESTS}{{endpoint="predict",status_class="4xx"}}': 1,
        'breast_cancer_http_request_duration_seconds_count{endpoint="predict"}': VALID_REQUESTS + 2,
        # KServe's stage histograms: REST and gRPC; the invalid request stops in preprocess.
        f"request_preprocess_seconds_count{{{model}}}": VALID_REQUESTS + 3,
        f"request_predict_seconds_count{{{model}}}": VALID_REQUESTS + 2,
        "breast_cancer_request_instances_count{}": VALID_REQUESTS + 2,
        "breast_cancer_request_instances_sum{}": VALID_REQUESTS + 1 + 2,
        "breast_cancer_out_of_range_instances_total{}": 1,
        'breast_cancer_out_of_range_values_total{feature="mean area"}': 1,
    }
    for _ in range(SCRAPES):
        samples = scrape(server)
        assert {name: samples.get(name) for name in expected} == expected
        versions = [k for k in samples if k.startswith("breast_cancer_model_info{")]
        assert len(versions) == 1 and samples[versions[0]] == 1

    answered = per_process_counts(metrics_dir, {"endpoint": "predict", "status_class": "2xx"})
    assert 1 not in answered, "the stale file of a previous run was not removed"
    assert len([count for count in answered.values() if count]) == 2, answered
    assert sum(answered.values()) == VALID_REQUESTS + 1
    per_process = sorted(answered.values())
    print(f"2 workers: predict 2xx per process {per_process}, in each of {SCRAPES} scrapes")
