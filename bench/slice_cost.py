"""What the fairness slices cost a big request when it is alone: its latency with and without.

    uv run python bench/slice_cost.py                  # about a minute
    uv run python bench/slice_cost.py --protocol V2    # V2 JSON: one FP64 tensor [N, 30]

Big V1 requests, and plain V2 JSON ones, are worked on in slices of ``--slice_instances``
(1000) so that single cases get in between (``bench/fairness.py``). This script measures the
other side: one client posting 10,000-instance requests one after another on a keep-alive
connection, to a predictor as shipped and to one started with ``--slice_instances 0``, each
started ``--rounds`` times in alternation. Reported: the median latency of each round (the
first ``WARM_UP`` requests dropped) and the median over rounds of each server, and their
ratio. The answers of both are checked to be the same bytes.
"""

from __future__ import annotations

import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.fairness import PATHS, body_of
from bench.payloads import ensure_model, scenario_parser
from bench.process import HOST, ROOT, start_server, stop_server

INSTANCES = 10_000
WARM_UP = 10
SERVERS = {"slices (as shipped)": [], "whole (--slice_instances 0)": ["--slice_instances", "0"]}


def big_body(protocol: str = "V1") -> bytes:
    """10,000 instances of the example batch; a V2 request has an ``id``, so that both
    servers answer the same bytes (else each draws a uuid)."""
    rows = orjson.loads((ROOT / "examples" / "valid_batch_request.json").read_bytes())
    instances = rows["instances"] * (INSTANCES // len(rows["instances"]) + 1)
    return body_of(instances[:INSTANCES], protocol, "slice-cost")


def round_ms(
    command: list[str], body: bytes, requests: int, logs: Path, path: str = PATHS["V1"]
) -> tuple[float, bytes]:
    """One server start: the median latency of ``requests`` sequential big requests."""
    server = start_server(command, logs)
    try:
        connection = http.client.HTTPConnection(HOST, server.http_port, timeout=60)
        latencies, answer = [], b""
        for _ in range(WARM_UP + requests):
            start = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            latencies.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"answer {response.status}: {answer[:200]!r}")
        connection.close()
        return statistics.median(latencies[WARM_UP:]) * 1000, answer
    finally:
        stop_server(server)


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="server starts of each")
    parser.add_argument("--requests", type=int, default=50, help="measured per start")
    parser.add_argument("--protocol", choices=sorted(PATHS), default="V1")
    args = parser.parse_args(argv)
    ensure_model(args.model_dir)
    body, path = big_body(args.protocol), PATHS[args.protocol]
    medians: dict[str, list[float]] = {name: [] for name in SERVERS}
    answers: set[bytes] = set()
    with tempfile.TemporaryDirectory() as logs:
        for round_ in range(args.rounds):
            order = list(SERVERS) if round_ % 2 == 0 else list(reversed(SERVERS))
            for name in order:
                command = [sys.executable, "-m", "predictor", "--model_dir", str(args.model_dir)]
                ms, answer = round_ms(
                    command + SERVERS[name], body, args.requests, Path(logs), path
                )
                medians[name].append(ms)
                answers.add(answer)
    if len(answers) != 1:
        raise RuntimeError("the two servers answered the big request differently")
    sliced, whole = (statistics.median(medians[name]) for name in SERVERS)
    for name, values in medians.items():
        rounds = ", ".join(f"{value:.1f}" for value in values)
        print(f"{name}: median {statistics.median(values):.1f} ms (rounds: {rounds})")
    print(
        f"slices / whole: {sliced / whole:.2f}x ({args.protocol}, {INSTANCES:,} instances, "
        "same answer bytes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
