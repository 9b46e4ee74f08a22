"""One measurement of one server: warm up, load, and what it cost the server's core.

Besides what the load generator reports, each measurement records the server's own CPU
time per request (all threads and processes, from ``/proc/<pid>/stat``: unlike req/s it
barely moves when other processes share the machine), the share of a core the server and
the load generator each used, and the busy time on the server's core that was not the
server (other processes: shared-machine noise).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict
from pathlib import Path

from bench.ghz import run_ghz
from bench.latency_client import run_latency_client
from bench.loadgen import LoadResult
from bench.process import RunningServer
from bench.scenarios import Plan, Scenario
from bench.servers import SERVER_CPUS
from bench.wrk import run_wrk

_TICKS = os.sysconf("SC_CLK_TCK")


def measure(server: RunningServer, scenario: Scenario, plan: Plan, files: dict) -> dict:
    """Warm up, then measure ``scenario`` on ``server``; one row of raw figures."""
    load = LOADS[scenario.kind]
    if scenario.kind != "latency":  # the latency client warms up by itself
        load(server, scenario, plan, files, plan.warmup)
    pid = server.process.pid
    cpu_before, core_before, wall_before = tree_cpu_seconds(pid), core_times(), time.monotonic()
    result = load(server, scenario, plan, files, plan.duration)
    wall = time.monotonic() - wall_before
    server_cpu = tree_cpu_seconds(pid) - cpu_before
    core_busy = core_times()[0] - core_before[0]
    row = asdict(result)
    row["cpu_us_per_req"] = server_cpu / max(1, result.served) * 1e6
    # Shares of one core: the server near 1 with the load generator well below means the
    # server is what saturates.
    row["server_cpu_share"] = server_cpu / max(wall, 1e-9)
    row["load_cpu_share"] = result.load_cpu_seconds / max(result.load_seconds, 1e-9)
    # Busy time on the server's core that was not the server: other processes (and the
    # load client's kernel work); shared-machine noise shows up here.
    row["foreign_core0"] = max(0.0, core_busy - server_cpu) / max(wall, 1e-9)
    return row


def wrk_load(
    server: RunningServer, scenario: Scenario, plan: Plan, files: dict, seconds: float
) -> LoadResult:
    script = files["scripts"][scenario.body]
    return run_wrk(scenario.url(server.base_url), scenario.connections, script, seconds)


def grpc_load(
    server: RunningServer, scenario: Scenario, plan: Plan, files: dict, seconds: float
) -> LoadResult:
    return run_ghz(server.grpc_target, files["grpc"], scenario.connections, seconds)


def latency_load(
    server: RunningServer, scenario: Scenario, plan: Plan, files: dict, seconds: float
) -> LoadResult:
    body = files["payloads"][scenario.body]
    return run_latency_client(scenario.url(server.base_url), body, plan.latency_requests)


LOADS = {"wrk": wrk_load, "grpc": grpc_load, "latency": latency_load}


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of ``root`` and every live descendant (all threads included)."""
    stats = _all_stats()
    return sum(int(stats[pid][11]) + int(stats[pid][12]) for pid in _tree(root, stats)) / _TICKS


def tree_rss_mb(root: int) -> float:
    """VmRSS summed over ``root`` and its live descendants."""
    total_kb = 0
    for pid in _tree(root, _all_stats()):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def core_times(cpu: int = int(SERVER_CPUS)) -> tuple[float, float]:
    """(busy, total) seconds of one core since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(v) for v in line.split()[1:]]
            busy = values[0] + values[1] + values[2]  # user + nice + system
            return busy / _TICKS, sum(values[:8]) / _TICKS
    raise RuntimeError(f"cpu{cpu} not in /proc/stat")


def _all_stats() -> dict[int, list[str]]:
    """pid -> the fields of /proc/<pid>/stat after the command name."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    return stats


def _tree(root: int, stats: dict[int, list[str]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found
