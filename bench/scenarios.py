"""What a run measures: the scenarios, and the plan of a full or a quick run."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.process import MODEL_NAME

# The cold-start target compares medians of at least this many starts of each server.
MIN_COLD_STARTS = 5


@dataclass(frozen=True)
class Scenario:
    """One load shape: which generator, which payload, which path, how many connections."""

    name: str
    title: str
    kind: str  # "wrk", "grpc" or "latency"
    body: str = ""  # payload key (see bench/payloads.py)
    path: str = "v1"  # "v1" (:predict) or "v2" (/infer)
    connections: int = 16

    def url(self, base_url: str) -> str:
        if self.path == "v2":
            return f"{base_url}/v2/models/{MODEL_NAME}/infer"
        return f"{base_url}/v1/models/{MODEL_NAME}:predict"


SCENARIOS = (
    Scenario("v1-1x1", "V1, 1 instance, 1 connection", "wrk", "v1_one", connections=1),
    Scenario("v1-1x16", "V1, 1 instance, 16 connections", "wrk", "v1_one"),
    Scenario("v1-1x64", "V1, 1 instance, 64 connections", "wrk", "v1_one", connections=64),
    Scenario("v1-100x16", "V1, 100 instances, 16 connections", "wrk", "v1_hundred"),
    Scenario("v2-1x16", "V2 REST, 1 instance, 16 connections", "wrk", "v2_one", path="v2"),
    Scenario("grpc-1x16", "V2 gRPC, 1 instance, 16 in flight", "grpc"),
    Scenario("v1-10k", "V1, one request of 10,000 instances (latency)", "latency", "v1_10k"),
)
QUICK_SCENARIOS = ("v1-1x16", "v1-100x16", "v2-1x16", "grpc-1x16", "v1-10k")
# The 1-vs-2-workers phase: saturating load on both cores.
WORKERS_SCENARIO = Scenario("workers", "V1, 1 instance, 64 conns", "wrk", "v1_one", connections=64)


def scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


@dataclass(frozen=True)
class Plan:
    """How long and how often: a full run, or a quick smoke run."""

    quick: bool
    repeats: int
    warmup: float  # seconds of the same load before each measurement
    duration: float  # seconds of each wrk or ghz measurement
    latency_requests: int
    workers_phase: bool
    scenarios: tuple[Scenario, ...]
    cold_starts_per_repeat: int

    @property
    def cold_starts(self) -> int:
        return self.repeats * self.cold_starts_per_repeat


def plan_for(quick: bool, repeats: int = 0) -> Plan:
    """The full run (3 repeats, 6 s loads) or the quick one (2 repeats, 1 s loads).

    Each repeat starts every server a few times, enough for ``MIN_COLD_STARTS`` samples.
    """
    if quick:
        repeats = repeats or 2
        chosen = tuple(s for s in SCENARIOS if s.name in QUICK_SCENARIOS)
        return Plan(True, repeats, 1.0, 1.0, 3, False, chosen, _starts(repeats, 1))
    repeats = repeats or 3
    return Plan(False, repeats, 2.0, 6.0, 15, True, SCENARIOS, _starts(repeats, 3))


def _starts(repeats: int, at_least: int) -> int:
    # Two starts of one server differ by as much as two servers do: more samples steady
    # the medians.
    return max(at_least, math.ceil(MIN_COLD_STARTS / max(1, repeats)))
