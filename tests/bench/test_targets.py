"""The report's targets, computed from a hand-made run."""

from __future__ import annotations

import pytest

from bench.repeats import Results
from bench.targets import PREVIOUS_V1_P99_VS_FLOOR, target_rows

SERVERS = ["baseline", "floor", "raw-floor", "ours"]


def run(**overrides: float) -> Results:
    """Two repeats where ours meets every target, with ``overrides`` on ours' figures."""
    figures = {
        "baseline": {"v1-1x16": (2000, 8.0), "v1-100x16": 1600, "v2-1x16": 1600},
        "floor": {"v1-1x16": (6000, 2.7), "v1-100x16": 4600, "v2-1x16": 3800},
        "raw-floor": {"v1-1x16": (20000, 1.0), "v1-100x16": 9000, "v2-1x16": 19000},
        "ours": {"v1-1x16": (10500, 2.5), "v1-100x16": 4400, "v2-1x16": 3900},
    }
    grpc = {"baseline": 1600, "floor": 3600, "ours": 3700}
    cold = {"baseline": 3.5, "floor": 2.1, "raw-floor": 0.3, "ours": 2.0}
    big = {"baseline": 18.0, "floor": 11.0, "raw-floor": 5.0, "ours": 16.0}
    results = Results()
    for repeat in (0, 1):
        for name in SERVERS:
            one = figures[name]["v1-1x16"]
            rps, p99 = (overrides.get("rps", one[0]), overrides.get("p99", one[1]))
            if name != "ours":
                rps, p99 = one
            add = results.add
            add(server=name, scenario="v1-1x16", repeat=repeat, rps=rps, p99_ms=p99, requests=9)
            for key in ("v1-100x16", "v2-1x16"):
                add(server=name, scenario=key, repeat=repeat, rps=figures[name][key], requests=9)
            if name in grpc:
                rps = overrides.get("grpc", grpc[name]) if name == "ours" else grpc[name]
                add(server=name, scenario="grpc-1x16", repeat=repeat, rps=rps, requests=9)
            add(server=name, scenario="v1-10k", repeat=repeat, p50_ms=big[name], requests=3)
            starts = int(overrides.get("starts", 3)) if name == "ours" else 3
            for _ in range(starts):
                value = overrides.get("cold", cold[name]) if name == "ours" else cold[name]
                add(server=name, scenario="cold-start", repeat=repeat, value=value)
    return results


def verdicts(results: Results) -> dict[str, bool]:
    return {target: met for target, name, _, met in target_rows(results, SERVERS)}


def test_every_target_is_met_by_a_good_run() -> None:
    rows = verdicts(run())
    assert len(rows) == 12
    assert all(rows.values()), rows


@pytest.mark.parametrize(
    ("override", "failed"),
    [
        ({"rps": 9000}, "1 instance, 16 conns: >= 50% of the raw floor's req/s"),
        ({"p99": 2.7 * PREVIOUS_V1_P99_VS_FLOOR + 0.01}, "previous run's"),
        ({"cold": 2.2}, "cold start: <= 0.6x the baseline's"),
        ({"starts": 2}, "cold start: <= 0.6x the baseline's"),
        ({"grpc": 3500}, "V2 gRPC, 1 instance, 16 in flight: >= 1.0x the floor's req/s"),
    ],
)
def test_each_new_target_fails_on_its_own(override: dict, failed: str) -> None:
    rows = verdicts(run(**override))
    missed = [target for target, met in rows.items() if not met]
    assert len(missed) == 1 and failed in missed[0], missed


def test_the_cold_start_target_names_its_sample_counts() -> None:
    rows = target_rows(run(), SERVERS)
    measured = next(m for t, _, m, _ in rows if t.startswith("cold start: <= 0.6x"))
    assert "6 and 6 starts" in measured
