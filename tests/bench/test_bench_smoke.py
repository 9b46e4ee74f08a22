"""``bench/run.py --quick`` end to end (about 2 minutes; run with ``-m slow``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

SERVERS = ("baseline", "floor", "ours", "ours+fastpath")
SCENARIOS = (
    "V1, 1 instance, 16 connections",
    "V1, 100 instances, 16 connections",
    "V2 REST, 1 instance, 16 connections",
    "V2 gRPC, 1 instance, 16 in flight",
    "V1, one request of 10,000 instances (latency)",
)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_quick_run_writes_a_complete_results_file(trained_dir: Path, tmp_path: Path) -> None:
    results, raw = tmp_path / "RESULTS.md", tmp_path / "raw.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--model_dir",
            str(trained_dir),
            "--output",
            str(results),
            "--json",
            str(raw),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    text = results.read_text()
    for heading in (
        "# Benchmark results",
        "## Throughput and latency (medians over repeats)",
        "## Start-up and memory (medians over all samples)",
        "## Targets (issue 4), against the baseline and floor of this run",
        "## Where the time goes",
    ):
        assert heading in text
    for field in ("- Date:", "- Command: `uv run python bench/run.py --quick", "- Machine:"):
        assert field in text
    assert re.search(r"- Python 3\.\d+.*kserve 0\.21", text)
    header = "| scenario | server | req/s | p50 ms | p99 ms | vs baseline | CPU us/req | non-2xx |"
    assert header in text
    rows = [line for line in text.splitlines() if line.startswith("| V")]
    for scenario in SCENARIOS:
        for server in SERVERS:
            row = next(r for r in rows if r.startswith(f"| {scenario} | {server} |"))
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert float(cells[2].replace(",", "")) > 0, row  # req/s
            assert cells[5].endswith(("x", "x faster")), row  # ratio to baseline
            assert cells[7] == "0", row  # no non-2xx on valid load
    for metric in ("| cold start (process start", "| RSS after load"):
        assert sum(line.startswith(metric) for line in text.splitlines()) == len(SERVERS)
    targets = [line for line in text.splitlines() if line.startswith("| ") and "| yes |" in line]
    assert any("zero non-2xx" in line for line in targets)
    runs = json.loads(raw.read_text())
    assert {r["server"] for r in runs} == set(SERVERS)
    assert {r["repeat"] for r in runs} == {0, 1}  # two alternating repeats
