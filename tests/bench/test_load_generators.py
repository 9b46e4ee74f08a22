"""What the load generators report is read right, and their own CPU time is measured."""

from __future__ import annotations

import sys

import pytest

from bench.ghz import parse_ghz
from bench.loadgen import percentile, run_pinned
from bench.wrk import parse_wrk

GHZ_REPORT = {
    "count": 1000,
    "total": 500_000_000,  # ns
    "statusCodeDistribution": {"OK": 990, "Unavailable": 10},
    "latencyDistribution": [
        {"percentage": 50, "latency": 4_000_000},
        {"percentage": 99, "latency": 9_500_000},
    ],
}


def test_ghz_counts_every_code_but_ok_as_a_failure() -> None:
    result = parse_ghz(GHZ_REPORT, cpu_seconds=0.1, wall_seconds=0.6)
    assert (result.requests, result.non2xx, result.served) == (1000, 10, 1000)
    assert result.rps == pytest.approx(1980)
    assert (result.p50_ms, result.p99_ms) == (4.0, 9.5)


def test_ghz_without_a_single_ok_call_is_an_error() -> None:
    report = {**GHZ_REPORT, "statusCodeDistribution": {"Unavailable": 5}}
    with pytest.raises(RuntimeError, match="no call succeeded"):
        parse_ghz({**report, "latencyDistribution": None}, 0.1, 0.6)


def test_wrk_result_line_is_found_among_its_output() -> None:
    line = 'BENCH {"requests":5,"good":5,"non2xx":0,"duration_us":1,"p50_us":2,"p99_us":3}'
    assert parse_wrk(f"Running 1s test\n{line}\n")["requests"] == 5
    with pytest.raises(RuntimeError, match="wrk gave no result"):
        parse_wrk("unable to connect")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile([], 50)) == (50, 99, None)


@pytest.mark.skipif(sys.platform != "linux", reason="taskset and /proc")
def test_a_load_generator_is_charged_its_own_cpu_time() -> None:
    burn = "import time\nwhile time.process_time() < 0.3: pass"
    done = run_pinned([sys.executable, "-c", burn], timeout=60)
    assert done.returncode == 0
    assert 0.3 <= done.cpu_seconds < done.wall_seconds + 0.1
