"""Fairness and admission: single cases beside clients streaming 10,000-instance requests.

    uv run python bench/fairness.py              # about 4 minutes; prints a Markdown section

Two clients post 10,000-instance requests back to back while a third posts single-case
requests back to back, all to one server (``python -m predictor``, pinned to CPU 0; each
client its own process on CPU 1), over V1 (``:predict``) and then over V2 JSON (``/infer``,
one FP64 tensor of [N, 30]). Measured side by side, alternating, for the server as it ships
and with ``--slice_instances 0`` (each request worked on in one go): single-case p50/p99,
big-request median, the ratio p99(single) / median(big) (target: at most 0.25).
Then a burst: eight clients post a 10,000-instance request each at once, three times, at the
default ``--max_inflight_instances``: how many are refused (503 with Retry-After), that no
answer is anything but 200 or such a 503, and that a single case and a big request are
answered normally right after. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen import percentile
from bench.payloads import ensure_model, scenario_parser, training_rows
from bench.process import HOST, MODEL_NAME, predictor_command, running_server
from bench.servers import LOAD_CPUS, SERVER_CPUS

PATHS = {"V1": f"/v1/models/{MODEL_NAME}:predict", "V2": f"/v2/models/{MODEL_NAME}/infer"}
BIG = 10_000
TARGET_RATIO = 0.25
WARMUP_SECONDS = 1.0
BURST_CLIENTS = 8
BURST_ROUNDS = 3
# (label, extra server flags): as shipped, and each request in one go.
CONFIGS = (
    ("slices on (default)", ()),
    ("slices off (--slice_instances 0)", ("--slice_instances", "0")),
)


def bodies(model_dir: Path, protocol: str = "V1") -> tuple[bytes, bytes]:
    """(one instance, 10,000 instances) of real rows, compact JSON, for ``protocol``."""
    rows = training_rows(model_dir, BIG)
    return body_of(rows[:1], protocol), body_of(rows, protocol)


def body_of(rows: list[list[float]], protocol: str, request_id: str | None = None) -> bytes:
    """A V1 prediction or a V2 JSON inference request (one FP64 tensor; with ``request_id``,
    its ``id``) of ``rows``."""
    if protocol == "V1":
        document: dict = {"instances": rows}
    else:
        data = [value for row in rows for value in row]
        shape = [len(rows), len(rows[0])]
        tensor = {"name": "features", "shape": shape, "datatype": "FP64", "data": data}
        document = {"inputs": [tensor]} | ({} if request_id is None else {"id": request_id})
    return json.dumps(document, separators=(",", ":")).encode()


def _pin() -> None:
    os.sched_setaffinity(0, {int(cpu) for cpu in LOAD_CPUS.split(",")})


def post_loop(
    port: int, body: bytes, start_at: float, stop_at: float, path: str = PATHS["V1"]
) -> list[tuple]:
    """POST ``body`` back to back on one keep-alive connection from ``start_at`` until
    ``stop_at`` (both ``time.time()``; at least one request): (sent at, seconds to the last
    byte, status, Retry-After) of each."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"content-type": "application/json"}
    while time.time() < start_at:
        time.sleep(0.001)
    answers = []
    while True:  # at least one request
        sent = time.time()
        began = time.perf_counter()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            status, retry = response.status, response.getheader("retry-after")
        except OSError as error:
            status, retry = type(error).__name__, None
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
        answers.append((sent, time.perf_counter() - began, status, retry))
        if time.time() >= stop_at:
            break
    connection.close()
    return answers


def clients(
    port: int, plan: list[tuple[bytes, float]], start_at: float, path: str = PATHS["V1"]
) -> list[list[tuple]]:
    """One client process per (body, seconds) of ``plan``, all starting at ``start_at``."""
    context = get_context("spawn")
    with ProcessPoolExecutor(len(plan), mp_context=context, initializer=_pin) as pool:
        futures = [
            pool.submit(post_loop, port, body, start_at, start_at + seconds, path)
            for body, seconds in plan
        ]
        return [future.result() for future in futures]


def fairness(port: int, one: bytes, big: bytes, seconds: float, path: str = PATHS["V1"]) -> dict:
    start_at = time.time() + 2.0  # the pool's processes start meanwhile
    runs = clients(port, [(big, seconds), (big, seconds), (one, seconds)], start_at, path)
    kept = [
        [a for a in run if a[0] >= start_at + WARMUP_SECONDS] for run in runs
    ]  # after the warm-up
    singles = [a[1] for a in kept[2] if a[2] == 200]
    bigs = [a[1] for run in kept[:2] for a in run if a[2] == 200]
    failed = sum(1 for run in kept for a in run if a[2] != 200)
    p99 = percentile(singles, 99)
    big_median = statistics.median(bigs)
    return {
        "single_p50_ms": statistics.median(singles) * 1000,
        "single_p99_ms": p99 * 1000,
        "single_count": len(singles),
        "big_median_ms": big_median * 1000,
        "big_count": len(bigs),
        "ratio": p99 / big_median,
        "failed": failed,
    }


def burst(port: int, one: bytes, big: bytes) -> dict:
    statuses: dict[str, int] = {}
    retry_after = set()
    for _ in range(BURST_ROUNDS):
        start_at = time.time() + 2.0
        for run in clients(port, [(big, 0.0)] * BURST_CLIENTS, start_at):
            for _sent, _took, status, retry in run:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status == 503:
                    retry_after.add(retry)
    after = [post_loop(port, body, 0, 0)[0][2] for body in (one, big)]
    return {"statuses": statuses, "retry_after": sorted(map(str, retry_after)), "after": after}


def run(model_dir: Path, seconds: float, repeats: int, protocols: list[str]) -> tuple[dict, dict]:
    loads = {protocol: bodies(model_dir, protocol) for protocol in protocols}
    one, big = bodies(model_dir)
    results: dict[str, list[dict]] = {
        f"{protocol}, {label}": [] for protocol in protocols for label, _ in CONFIGS
    }
    burst_result: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-fairness-") as logs:
        for repeat in range(repeats):
            order = CONFIGS if repeat % 2 == 0 else CONFIGS[::-1]
            for label, flags in order:
                command = predictor_command(model_dir, "--drain_seconds", "0", *flags)
                with running_server(command, Path(logs), cpus=SERVER_CPUS) as server:
                    for protocol, (single, many) in loads.items():
                        port, path = server.http_port, PATHS[protocol]
                        measured = fairness(port, single, many, seconds, path)
                        print(protocol, label, json.dumps(measured), flush=True)
                        results[f"{protocol}, {label}"].append(measured)
                    if not burst_result and not flags:
                        burst_result = burst(server.http_port, one, big)
                        print("burst", json.dumps(burst_result), flush=True)
    return results, burst_result


def section(results: dict[str, list[dict]], burst_result: dict, command: str) -> str:
    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    lines = [
        "## Fairness and admission: single cases beside 10,000-instance requests",
        "",
        f"- Command: `{command}`; {time.strftime('%Y-%m-%d')}, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; server on CPU {SERVER_CPUS}, "
        f"clients on CPU {LOAD_CPUS}; medians over {len(next(iter(results.values())))} "
        "alternating runs",
        "",
        "| requests, server | single p50 ms | single p99 ms | big median ms "
        "| p99 single / median big | singles | bigs | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, runs in results.items():
        lines.append(
            f"| {label} | {median(runs, 'single_p50_ms'):.2f} | "
            f"{median(runs, 'single_p99_ms'):.2f} | {median(runs, 'big_median_ms'):.1f} | "
            f"{median(runs, 'ratio'):.2f} | {sum(r['single_count'] for r in runs)} | "
            f"{sum(r['big_count'] for r in runs)} | {sum(r['failed'] for r in runs)} |"
        )
    counted = burst_result["statuses"].items()
    statuses = ", ".join(f"{count} x {status}" for status, count in counted)
    lines += [
        "",
        f"Target: p99 single / median big at most {TARGET_RATIO}. Burst at the default "
        f"budget ({BURST_ROUNDS} rounds of {BURST_CLIENTS} clients x {BIG:,} instances at "
        f"once): {statuses}; Retry-After {', '.join(burst_result['retry_after']) or 'none'}; "
        f"right after: single case {burst_result['after'][0]}, big request "
        f"{burst_result['after'][1]}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=12.0, help="load per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per server")
    parser.add_argument("--protocols", default="V1,V2", help="comma-separated: V1, V2")
    args = parser.parse_args(argv)
    command = "uv run python bench/fairness.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    ensure_model(args.model_dir)
    protocols = args.protocols.split(",")
    results, burst_result = run(args.model_dir, args.seconds, args.repeats, protocols)
    print()
    print(section(results, burst_result, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
