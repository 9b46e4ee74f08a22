"""Running a load generator on the load core, and what every generator reports.

Each generator (wrk, the gRPC client, the big-request latency client) is a child process
pinned to the load CPU with ``taskset``. Its own CPU time is read from the kernel's
accounting of reaped children, so the report can show that the server, not the load
generator, is what saturates.
"""

from __future__ import annotations

import math
import resource
import subprocess
import time
from dataclasses import dataclass

from bench.process import ROOT
from bench.servers import LOAD_CPUS


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    """One measurement, as the load generator saw it."""

    rps: float  # answered requests per second of load
    p50_ms: float | None
    p99_ms: float | None
    requests: int  # requests sent in the measurement (warm-ups excluded)
    non2xx: int  # non-2xx statuses, socket errors and timeouts, non-OK gRPC codes
    load_cpu_seconds: float  # the generator's own CPU time (all its threads)
    load_seconds: float  # the generator's wall time
    served: int = -1  # requests the server answered meanwhile, if not ``requests``

    def __post_init__(self) -> None:
        if self.served < 0:
            self.served = self.requests


@dataclass
class Finished:
    stdout: str
    stderr: str
    returncode: int
    cpu_seconds: float
    wall_seconds: float


def run_pinned(command: list[str], timeout: float, cpus: str = LOAD_CPUS) -> Finished:
    """Run ``command`` pinned to ``cpus`` to completion; measure its CPU and wall time.

    The CPU time is the growth of RUSAGE_CHILDREN over the run: only this child is reaped
    meanwhile (servers are reaped when they stop, never during a measurement).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        ["taskset", "-c", cpus, *command], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Finished(done.stdout, done.stderr, done.returncode, cpu, wall)
