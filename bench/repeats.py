"""The alternating repeats: each server started alone, every scenario measured, stopped.

Each repeat runs every server once, in alternating order (A B C, then C B A, ...), so
slow drift on a shared machine hits all of them alike; the report shows medians over
repeats. Every start is a cold-start sample.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench import servers
from bench.measure import measure, tree_cpu_seconds, tree_rss_mb
from bench.process import RunningServer, stop_server
from bench.scenarios import WORKERS_SCENARIO, Plan
from bench.wrk import run_wrk


@dataclass
class Results:
    """Every raw measurement of a run: rows of ``server``, ``scenario``, ``repeat`` + figures."""

    runs: list[dict] = field(default_factory=list)

    def add(self, **row) -> None:
        self.runs.append(row)

    def values(self, server: str, scenario: str, key: str) -> list[float]:
        return [
            r[key]
            for r in self.runs
            if r["server"] == server and r["scenario"] == scenario and r.get(key) is not None
        ]

    def median(self, server: str, scenario: str, key: str) -> float | None:
        values = self.values(server, scenario, key)
        return statistics.median(values) if values else None


def run_repeat(
    index: int, names: list[str], plan: Plan, files: dict, model_dir: Path, log_dir: Path,
    results: Results,
) -> None:  # fmt: skip
    """Repeat ``index``: each server in turn, then its extra cold starts."""
    order = names if index % 2 == 0 else list(reversed(names))
    for name in order:
        print(f"[repeat {index + 1}/{plan.repeats}] {name}", flush=True)
        server = servers.start(name, model_dir, log_dir)
        try:
            cold = server.ready_seconds
            results.add(server=name, scenario="cold-start", repeat=index, value=cold)
            for scenario in plan.scenarios:
                if scenario.kind == "grpc" and not servers.SERVERS[name].grpc:
                    continue
                row = measure(server, scenario, plan, files)
                results.add(server=name, scenario=scenario.name, repeat=index, **row)
                print(
                    f"    {scenario.name:10s} {row['rps']:9.1f} req/s  p99 {row['p99_ms']:8.2f} ms"
                    f"  cpu {row['cpu_us_per_req']:7.0f} us/req  load cpu "
                    f"{row['load_cpu_share']:4.0%}  non-2xx {row['non2xx']}",
                    flush=True,
                )
            rss = tree_rss_mb(server.process.pid)
            results.add(server=name, scenario="rss", repeat=index, value=rss)
        finally:
            _stop_and_count_log(server, name, index, results)
        for _ in range(plan.cold_starts_per_repeat - 1):
            again = servers.start(name, model_dir, log_dir)
            _stop(again)
            results.add(server=name, scenario="cold-start", repeat=index, value=again.ready_seconds)


def run_workers(
    index: int, names: list[str], plan: Plan, files: dict, model_dir: Path, log_dir: Path,
    results: Results,
) -> None:  # fmt: skip
    """Our servers with 1 then 2 workers, pinned to both cores (wrk shares them)."""
    scenario = WORKERS_SCENARIO
    configs = [(name, workers) for name in servers.ours(names) for workers in (1, 2)]
    if index % 2:
        configs.reverse()
    for name, workers in configs:
        print(f"[workers {index + 1}/{plan.repeats}] {name} --workers {workers}", flush=True)
        cpus = servers.BOTH_CPUS
        server = servers.start(name, model_dir, log_dir, cpus=cpus, workers=workers)
        try:
            url, script = scenario.url(server.base_url), files["scripts"][scenario.body]
            run_wrk(url, scenario.connections, script, plan.warmup + 1, cpus=cpus)
            cpu_before = tree_cpu_seconds(server.process.pid)
            result = run_wrk(url, scenario.connections, script, plan.duration, cpus=cpus)
            cpu = tree_cpu_seconds(server.process.pid) - cpu_before
            rss = tree_rss_mb(server.process.pid)
            results.add(
                server=name, scenario=f"workers-{workers}", repeat=index, rps=result.rps,
                p50_ms=result.p50_ms, p99_ms=result.p99_ms, requests=result.requests,
                non2xx=result.non2xx, cpu_us_per_req=cpu / max(1, result.requests) * 1e6,
                rss_mb=rss,
            )  # fmt: skip
            print(
                f"    {result.rps:9.1f} req/s  p99 {result.p99_ms:8.2f} ms  "
                f"non-2xx {result.non2xx}  rss {rss:.0f} MB",
                flush=True,
            )
        finally:
            _stop(server)


def _stop(server: RunningServer) -> None:
    stop_server(server, grace=servers.STOP_GRACE_SECONDS)
    server.log_path.unlink()


def _stop_and_count_log(server: RunningServer, name: str, index: int, results: Results) -> None:
    """Stop the server; record its log bytes per request of this repeat."""
    stop_server(server, grace=servers.STOP_GRACE_SECONDS)
    log_bytes = server.log_path.stat().st_size
    requests = sum(
        r.get("requests", 0) for r in results.runs if r["server"] == name and r["repeat"] == index
    )
    results.add(server=name, scenario="log", repeat=index, value=log_bytes / max(1, requests))
    server.log_path.unlink()
