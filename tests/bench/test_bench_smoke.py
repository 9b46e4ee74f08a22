"""``bench/run.py --quick`` end to end (a few minutes; run with ``-m slow``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.ghz import ghz_path
from bench.scenarios import MIN_COLD_STARTS
from tests.support import ROOT

SERVERS = ("baseline", "floor", "raw-floor", "ours")
SCENARIOS = (
    "V1, 1 instance, 16 connections",
    "V1, 100 instances, 16 connections",
    "V2 REST, 1 instance, 16 connections",
    "V2 gRPC, 1 instance, 16 in flight",
    "V1, one request of 10,000 instances (latency)",
)
HEADER = (
    "| scenario | server | req/s | p50 ms | p99 ms | vs baseline | CPU us/req | non-2xx "
    "| server CPU | load CPU |"
)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.skipif(
    shutil.which("go") is None and not ghz_path().is_file(), reason="go is not installed"
)
def test_quick_run_writes_a_complete_results_file(trained_dir: Path, tmp_path: Path) -> None:
    results, raw = tmp_path / "RESULTS.md", tmp_path / "raw.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
         "--model_dir", str(trained_dir), "--output", str(results), "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,  # the first run also builds ghz
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    text = results.read_text()
    for heading in (
        "# Benchmark results",
        "## Throughput and latency (medians over repeats)",
        "## Start-up and memory (medians over all samples)",
        "## Targets, against the baseline and the floors of this run",
        "## Where the time goes",
    ):
        assert heading in text
    assert "issue" not in text.lower()
    for field in ("- Date:", "- Command: `uv run python bench/run.py --quick", "- Machine:"):
        assert field in text
    assert re.search(r"- Python 3\.\d+.*kserve 0\.21", text)
    assert HEADER in text
    rows = [line for line in text.splitlines() if line.startswith("| V")]
    for scenario in SCENARIOS:
        for server in SERVERS:
            row = next((r for r in rows if r.startswith(f"| {scenario} | {server} |")), None)
            if server == "raw-floor" and "gRPC" in scenario:
                assert row is None  # the raw floor serves no gRPC
                continue
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert float(cells[2].replace(",", "")) > 0, row  # req/s
            assert cells[5].endswith(("x", "x faster")), row  # ratio to baseline
            assert cells[7] == "0", row  # no non-2xx on valid load
            assert cells[8].endswith("%") and cells[9].endswith("%"), row  # CPU shares
    for metric in ("| cold start (process start", "| RSS after load"):
        assert sum(line.startswith(metric) for line in text.splitlines()) == len(SERVERS)
    targets = [line for line in text.splitlines() if line.startswith("| ") and "| ours |" in line]
    assert any("zero non-2xx" in line and "| yes |" in line for line in targets)
    for new in ("raw floor's req/s", "previous run's", "0.6x the baseline's", "V2 gRPC"):
        assert any(new in line for line in targets), new
    runs = json.loads(raw.read_text())
    assert {r["server"] for r in runs} == set(SERVERS)
    assert {r["repeat"] for r in runs} == {0, 1}  # two alternating repeats
    for server in SERVERS:
        starts = [r for r in runs if r["server"] == server and r["scenario"] == "cold-start"]
        assert len(starts) >= MIN_COLD_STARTS
    grpc = [r for r in runs if r["scenario"] == "grpc-1x16"]
    assert all(0 < r["load_cpu_share"] < 1.5 for r in grpc)
