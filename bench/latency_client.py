"""The big-request latency client: sequential POSTs of one body, end-to-end times.

Run by the benchmark (:func:`run_latency_client`) as ``python -m bench.latency_client``
pinned to the load core; prints one JSON line; bounded in requests and in time; only
talks to 127.0.0.1.

    python -m bench.latency_client --url URL --body FILE --requests 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

from bench.loadgen import LoadResult, percentile, run_pinned
from bench.process import HOST


def latency_probe(url: str, body_path: str, requests: int, warmup: int, limit: float) -> dict:
    """``warmup`` then ``requests`` POSTs; the time to the last byte of each answer."""
    with open(body_path, "rb") as handle:
        body = handle.read()
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    failures = 0
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + limit
    with httpx.Client(timeout=60, trust_env=False) as client:
        for index in range(warmup + requests):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            response.read()
            took = time.perf_counter() - started
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            if index < warmup:
                continue
            if 200 <= response.status_code < 300:
                latencies.append(took)
            else:
                failures += 1
    elapsed = sum(latencies)
    return {
        "requests": len(latencies) + failures,
        "non_ok": failures,
        "rps": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "median_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": (percentile(latencies, 99) or 0) * 1000 if latencies else None,
        "statuses": statuses,
    }


def run_latency_client(url: str, body: Path, requests: int, warmup: int = 2) -> LoadResult:
    """This client on the load core, as a child process; its answer as a LoadResult."""
    command = [sys.executable, "-m", "bench.latency_client", "--url", url, "--body", str(body)]
    command += ["--requests", str(requests), "--warmup", str(warmup)]
    done = run_pinned(command, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"latency client failed:\n{done.stderr[-2000:]}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(
        rps=raw["rps"],
        p50_ms=raw["median_ms"],
        p99_ms=raw["p99_ms"],
        requests=raw["requests"],
        non2xx=raw["non_ok"],
        load_cpu_seconds=done.cpu_seconds,
        load_seconds=done.wall_seconds,
        served=sum(raw["statuses"].values()),  # warm-up requests included
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--time_limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not args.url.startswith(f"http://{HOST}:"):
        parser.error(f"only http://{HOST} targets are allowed")
    result = latency_probe(args.url, args.body, args.requests, args.warmup, args.time_limit)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
