"""``bench/slice_cost.py`` times a lone big request with and without slices, same answer."""

from __future__ import annotations

from pathlib import Path

from tests.support import run_bench_script


def test_it_reports_both_servers_and_their_ratio(trained_dir: Path):
    out = run_bench_script("slice_cost.py", trained_dir, "--rounds", "1", "--requests", "2")
    assert "slices (as shipped): median" in out
    assert "whole (--slice_instances 0): median" in out
    assert "same answer bytes" in out


def test_it_measures_v2_json_too(trained_dir: Path):
    out = run_bench_script(
        "slice_cost.py", trained_dir, "--rounds", "1", "--requests", "2", "--protocol", "V2"
    )
    assert "(V2, 10,000 instances, same answer bytes)" in out
