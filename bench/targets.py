"""The targets, each computed from the medians of one run, for each of our servers."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.repeats import Results
from bench.scenarios import MIN_COLD_STARTS
from bench.servers import ours

# Ours' p99, V1 1 instance at 16 connections, in bench/RESULTS.md of the full run of
# 2026-11-27 (a quiet machine): 2.92 ms against KServe's floor's 2.75 ms in the same run. A
# faster request path must not make the tail worse; as absolute milliseconds move with the
# machine's load several-fold, the tail is judged against the floor's in the same run.
PREVIOUS_V1_P99_VS_FLOOR = 2.92 / 2.75
COLD_START_RATIO = 0.6

# (measured text, met) for one server, or None when the run lacks the figures.
Check = Callable[[Results, str], "tuple[str, bool] | None"]


@dataclass(frozen=True)
class Target:
    """One row of the targets table: what is promised, and how this run is judged."""

    text: str
    check: Check


def rps_ratio(scenario: str, reference: str, minimum: float, percent: bool = False) -> Check:
    """req/s of ``scenario`` at least ``minimum`` times the ``reference`` server's."""

    def check(results: Results, name: str) -> tuple[str, bool] | None:
        value = results.median(name, scenario, "rps")
        other = results.median(reference, scenario, "rps")
        if not value or not other:
            return None
        shown = f"{100 * value / other:.0f}%" if percent else f"{value / other:.2f}x"
        return shown, value >= minimum * other

    return check


def at_most(
    scenario: str, key: str, reference: Callable[[Results], float | None], factor: float, unit: str
) -> Check:
    """The median ``key`` of ``scenario`` is at most ``factor`` times ``reference``."""

    def check(results: Results, name: str) -> tuple[str, bool] | None:
        value, other = results.median(name, scenario, key), reference(results)
        if value is None or other is None:
            return None
        return f"{value:.2f} {unit} vs {other:.2f} {unit}", value <= factor * other

    return check


def baseline(scenario: str, key: str) -> Callable[[Results], float | None]:
    """The baseline's median ``key`` of ``scenario`` in the same run."""
    return lambda results: results.median("baseline", scenario, key)


def floor_p99(results: Results) -> float | None:
    """KServe's floor's median p99, V1 1 instance at 16 connections, in the same run."""
    return results.median("floor", "v1-1x16", "p99_ms")


def big_request(results: Results, name: str) -> tuple[str, bool] | None:
    big = results.median(name, "v1-10k", "p50_ms")
    base = results.median("baseline", "v1-10k", "p50_ms")
    if not big or not base:
        return None
    return f"{big:.1f} ms vs {base:.1f} ms", big <= 50 and big <= base


def cold_start_ratio(results: Results, name: str) -> tuple[str, bool] | None:
    """Median cold start at most 0.6x the baseline's, from enough alternating starts."""
    mine = results.values(name, "cold-start", "value")
    base = results.values("baseline", "cold-start", "value")
    if not mine or not base:
        return None
    share = statistics.median(mine) / statistics.median(base)
    enough = min(len(mine), len(base)) >= MIN_COLD_STARTS
    shown = f"{share:.2f}x (medians of {len(mine)} and {len(base)} starts)"
    return shown, enough and share <= COLD_START_RATIO


def no_failures(results: Results, name: str) -> tuple[str, bool]:
    mine = [r for r in results.runs if r["server"] == name and r["scenario"] != "log"]
    bad = sum(r.get("non2xx", 0) for r in mine)
    total = sum(r.get("requests", 0) for r in mine)
    return f"{bad} of {total:,} requests", bad == 0


TARGETS = (
    Target("1 instance, 16 conns: >= 3.0x baseline req/s", rps_ratio("v1-1x16", "baseline", 3.0)),
    Target(
        "1 instance, 16 conns: >= 80% of the floor's req/s",
        rps_ratio("v1-1x16", "floor", 0.8, percent=True),
    ),
    Target(
        "1 instance, 16 conns: >= 50% of the raw floor's req/s",
        rps_ratio("v1-1x16", "raw-floor", 0.5, percent=True),
    ),
    Target(
        "1 instance, 16 conns: p99 <= half the baseline's",
        at_most("v1-1x16", "p99_ms", baseline("v1-1x16", "p99_ms"), 0.5, "ms"),
    ),
    Target(
        "1 instance, 16 conns: p99 no worse than the previous run's "
        f"({PREVIOUS_V1_P99_VS_FLOOR:.2f}x the floor's p99 in the same run)",
        at_most("v1-1x16", "p99_ms", floor_p99, PREVIOUS_V1_P99_VS_FLOOR, "ms"),
    ),
    Target(
        "100 instances, 16 conns: >= 2.5x baseline req/s", rps_ratio("v1-100x16", "baseline", 2.5)
    ),
    Target(
        "V2 REST, 1 instance, 16 conns: >= 1.0x the floor's req/s",
        rps_ratio("v2-1x16", "floor", 1.0),
    ),
    Target(
        "V2 gRPC, 1 instance, 16 in flight: >= 1.0x the floor's req/s",
        rps_ratio("grpc-1x16", "floor", 1.0),
    ),
    Target("10,000 instances: <= 50 ms and not slower than the baseline", big_request),
    Target(
        "cold start: not slower than the baseline",
        at_most("cold-start", "value", baseline("cold-start", "value"), 1.0, "s"),
    ),
    Target(
        f"cold start: <= {COLD_START_RATIO}x the baseline's (medians, >= {MIN_COLD_STARTS} "
        "alternating starts each)",
        cold_start_ratio,
    ),
    Target("zero non-2xx on valid load", no_failures),
)


def target_rows(results: Results, names: list[str]) -> list[tuple[str, str, str, bool]]:
    """(target, server, measured, met) for each target and each of our servers."""
    rows = []
    for name in ours(names):
        for target in TARGETS:
            outcome = target.check(results, name)
            if outcome is not None:
                rows.append((target.text, name, *outcome))
    return rows
