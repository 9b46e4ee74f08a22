"""The soak's verdict and its figures: pass criteria, JSON summary, markdown table."""

from __future__ import annotations

import os
import platform
import statistics
from typing import TYPE_CHECKING

from bench.loadgen import percentile

if TYPE_CHECKING:
    from bench.soak import Results

RSS_GROWTH_LIMIT = 0.10


def summarise(results: Results, duration: float, connections: int, window: float) -> dict:
    first = [rss for at, rss in results.rss if at <= window]
    last = [rss for at, rss in results.rss if at >= results.elapsed - window]
    first_mib = statistics.mean(first) / 2**20 if first else None
    last_mib = statistics.mean(last) / 2**20 if last else None
    growth = (last_mib - first_mib) / first_mib if first and last else None
    every = results.latencies["valid"] + results.latencies["invalid"]
    server_errors = sum(n for status, n in results.statuses.items() if status >= 500)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    summary = {
        "duration_s": round(results.elapsed, 1),
        "connections": connections,
        "requests": results.requests,
        "requests_per_s": round(results.requests / results.elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(results.statuses.items())},
        "connection_errors": sum(results.connection_errors.values()),
        "connection_error_kinds": dict(results.connection_errors),
        "server_errors_5xx": server_errors,
        "unexpected_statuses": sum(results.unexpected.values()),
        "unexpected_kinds": dict(results.unexpected),
        "p50_ms": ms(percentile(every, 50)),
        "p99_ms": ms(percentile(every, 99)),
        "max_ms": ms(max(every) if every else None),
        "valid_p50_ms": ms(percentile(results.latencies["valid"], 50)),
        "valid_p99_ms": ms(percentile(results.latencies["valid"], 99)),
        "invalid_p99_ms": ms(percentile(results.latencies["invalid"], 99)),
        "rss_window_s": window,
        "rss_first_mib": round(first_mib, 1) if first_mib else None,
        "rss_last_mib": round(last_mib, 1) if last_mib else None,
        "rss_growth_pct": round(growth * 100, 2) if growth is not None else None,
    }
    failures = []
    if summary["connection_errors"]:
        failures.append(f"{summary['connection_errors']} connection errors")
    if server_errors:
        failures.append(f"{server_errors} responses >= 500")
    if summary["unexpected_statuses"]:
        failures.append(f"{summary['unexpected_statuses']} unexpected statuses")
    if growth is None or growth >= RSS_GROWTH_LIMIT:
        failures.append(f"RSS growth {summary['rss_growth_pct']} % (limit 10 %)")
    if results.requests == 0:
        failures.append("no request completed")
    summary["failures"] = failures
    summary["passed"] = not failures
    return summary


def markdown(summary: dict, workers: int) -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in summary["statuses"].items())
    rows = [
        ("duration, connections", f"{summary['duration_s']} s, {summary['connections']}"),
        (
            "server",
            f"python -m predictor --workers {workers}, {platform.machine()}, "
            f"{os.cpu_count()} CPUs (load generator on the same machine)",
        ),
        ("requests (per s)", f"{summary['requests']} ({summary['requests_per_s']})"),
        ("statuses", statuses),
        ("connection errors", summary["connection_errors"]),
        ("5xx", summary["server_errors_5xx"]),
        ("unexpected statuses", summary["unexpected_statuses"]),
        (
            "latency p50 / p99 / max (all)",
            f"{summary['p50_ms']} / {summary['p99_ms']} / {summary['max_ms']} ms",
        ),
        (
            "latency p50 / p99 (valid bodies)",
            f"{summary['valid_p50_ms']} / {summary['valid_p99_ms']} ms",
        ),
        (
            f"RSS first / last {summary['rss_window_s']:.3g} s",
            f"{summary['rss_first_mib']} / {summary['rss_last_mib']} MiB "
            f"({summary['rss_growth_pct']:+} %)"
            if summary["rss_growth_pct"] is not None
            else "n/a",
        ),
        ("tracebacks in the server log", summary.get("server_log_tracebacks", "n/a")),
        ("result", "pass" if summary["passed"] else "FAIL: " + "; ".join(summary["failures"])),
    ]
    lines = ["| soak | figure |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)
