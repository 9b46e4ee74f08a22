"""Soak: a long run at many connections with valid and invalid bodies mixed; the server must hold.

    uv run python bench/soak.py                         # 60 s, 64 connections, own server
    uv run python bench/soak.py --duration 15 --json out.json
    uv run python bench/soak.py --url http://127.0.0.1:8080 --server-pid PID

Pass criteria (exit 1 if any fails): no connection error, no 5xx, every answer has the status
its body calls for (a valid body 200, each invalid one its documented 4xx), and resident memory
(RSS) of the server in the last window at most 10 % above the first window (windows of 10 s,
or a third of the run if shorter). Latency percentiles are recorded, not judged. The load
only goes to 127.0.0.1; every loop is bounded by the duration and a hard deadline. A markdown
snippet of the figures is printed at the end (for bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.payloads import ensure_model
from bench.process import (
    HOST,
    MODEL_NAME,
    ROOT,
    predictor_command,
    running_server,
    wait_until_ready,
)
from bench.soak_report import markdown, summarise

EXAMPLES = ROOT / "examples"
REQUEST_TIMEOUT_SECONDS = 15
SAMPLE_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class Probe:
    """One kind of request in the mix and the status it must get."""

    name: str
    path: str
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)


def probes() -> tuple[list[Probe], list[Probe]]:
    """(valid, invalid) request kinds, built once from the bundled examples."""
    v1 = f"/v1/models/{MODEL_NAME}:predict"
    v2 = f"/v2/models/{MODEL_NAME}/infer"

    def example(name: str) -> bytes:
        return (EXAMPLES / name).read_bytes()

    row = json.loads(example("valid_request.json"))["instances"][0]
    valid = [
        Probe("v1 one instance", v1, example("valid_request.json"), 200),
        Probe("v1 named features", v1, example("valid_named_request.json"), 200),
        Probe("v1 batch of 4", v1, example("valid_batch_request.json"), 200),
        Probe("v1 out of range (warned)", v1, example("out_of_range_request.json"), 200),
        Probe("v1 batch of 100", v1, json.dumps({"instances": [row] * 100}).encode(), 200),
        Probe("v1 explain", f"/v1/models/{MODEL_NAME}:explain", example("valid_request.json"), 200),
        Probe("v2 infer", v2, example("v2_infer_request.json"), 200),
        Probe(
            "v1 as curl -d (form type)",
            v1,
            example("valid_request.json"),
            200,
            (("content-type", "application/x-www-form-urlencoded"),),
        ),
    ]
    invalid = [
        Probe("v1 29 features", v1, example("missing_features.json"), 400),
        Probe("v1 no instances key", v1, example("missing_key.json"), 400),
        Probe("v1 string feature", v1, example("invalid_type.json"), 400),
        Probe("v1 not JSON", v1, b"mean radius=17.99", 400, (("content-type", "text/plain"),)),
        Probe("v1 truncated JSON", v1, example("valid_request.json")[:40], 400),
        Probe("v1 NaN", v1, json.dumps({"instances": [[float("nan")] * 30]}).encode(), 400),
        Probe("v1 list body", v1, b"[[1, 2, 3]]", 400),
        Probe("v1 nested 100 deep", v1, b"[" * 100 + b"]" * 100, 400),
        Probe("v2 wrong shape", v2, _v2_body([1, 29], row[:29]), 400),
        Probe("v2 schema violation", v2, b'{"inputs": [{"name": "x"}]}', 422),
        Probe("unknown model", "/v1/models/nope:predict", example("valid_request.json"), 404),
    ]
    return valid, invalid


def _v2_body(shape: list[int], data: list[float]) -> bytes:
    return json.dumps(
        {"inputs": [{"name": "features", "shape": shape, "datatype": "FP64", "data": data}]}
    ).encode()


@dataclass
class Results:
    started: float = 0.0
    elapsed: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"valid": [], "invalid": []})
    statuses: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    connection_errors: Counter = field(default_factory=Counter)
    rss: list[tuple[float, int]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.connection_errors.values())


async def worker(
    client: httpx.AsyncClient,
    mix: list[Probe],
    seed: int,
    stop_at: float,
    results: Results,
    valid_names: frozenset[str],
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        probe = rng.choice(mix)
        started = time.perf_counter()
        try:
            response = await client.post(probe.path, content=probe.body, headers=probe.headers)
        except httpx.HTTPError as error:
            results.connection_errors[type(error).__name__] += 1
            await asyncio.sleep(0.05)
            continue
        elapsed = time.perf_counter() - started
        results.statuses[response.status_code] += 1
        kind = "valid" if probe.name in valid_names else "invalid"
        results.latencies[kind].append(elapsed)
        if response.status_code != probe.status:
            results.unexpected[f"{probe.name}: {response.status_code}"] += 1


async def sample_rss(pid: int, stop_at: float, results: Results) -> None:
    process = psutil.Process(pid)
    while time.monotonic() < stop_at:
        with contextlib.suppress(psutil.Error):
            family = [process, *process.children(recursive=True)]
            total = 0
            for member in family:
                with contextlib.suppress(psutil.Error):
                    total += member.memory_info().rss
            results.rss.append((time.monotonic() - results.started, total))
        await asyncio.sleep(SAMPLE_EVERY_SECONDS)


async def soak(url: str, pid: int, duration: float, connections: int, invalid_share: float):
    valid, invalid = probes()
    # The mix: each valid kind and each invalid kind equally likely within its share.
    scale = 1000
    weights = [round(scale * (1 - invalid_share) / len(valid))] * len(valid)
    weights += [round(scale * invalid_share / len(invalid))] * len(invalid)
    mix = [p for p, w in zip(valid + invalid, weights, strict=True) for _ in range(w)]
    results = Results(started=time.monotonic())
    stop_at = results.started + duration
    # One client (one keep-alive connection) per worker: a single httpx pool shared by 64
    # tasks spends more time in its own bookkeeping than the server spends answering.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout)
            )
            for _ in range(connections)
        ]
        valid_names = frozenset(p.name for p in valid)
        tasks = [
            worker(client, mix, seed, stop_at, results, valid_names)
            for seed, client in enumerate(clients)
        ]
        await asyncio.wait_for(
            asyncio.gather(sample_rss(pid, stop_at, results), *tasks),
            timeout=duration + REQUEST_TIMEOUT_SECONDS + 10,
        )
    results.elapsed = time.monotonic() - results.started
    return results


# ---- the server under test ----------------------------------------------------------------


@contextlib.contextmanager
def own_server(model_dir: Path | None, workers: int, scratch: Path):
    """Train (if no model dir was given) and start ``python -m predictor`` on free ports."""
    if model_dir is None:
        model_dir = scratch / "models"
        ensure_model(model_dir)
    command = predictor_command(model_dir, "--workers", str(workers), "--drain_seconds", "0")
    with running_server(command, scratch, grace=30) as server:
        yield server.base_url, server.process.pid, server.log_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument(
        "--invalid-share", type=float, default=0.3, help="share of invalid bodies in the mix"
    )
    parser.add_argument("--model-dir", type=Path, help="trained model (default: train one)")
    parser.add_argument("--workers", type=int, default=1, help="predictor --workers")
    parser.add_argument("--url", help=f"soak a running server instead (http://{HOST}:PORT)")
    parser.add_argument("--server-pid", type=int, help="with --url: the pid whose RSS to watch")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.url and not args.url.startswith(f"http://{HOST}:"):
        parser.error(f"--url must be http://{HOST}:PORT (load goes to this machine only)")
    if args.url and not args.server_pid:
        parser.error("--url needs --server-pid (to watch its memory)")
    if not 1 <= args.connections <= 1024 or not 1 <= args.duration <= 3600:
        parser.error("--connections must be in [1, 1024] and --duration in [1, 3600]")
    window = min(10.0, args.duration / 3)
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        if args.url:
            wait_until_ready(args.url)
            server = contextlib.nullcontext((args.url, args.server_pid, None))
        else:
            server = own_server(args.model_dir, args.workers, Path(scratch))
        with server as (url, pid, log):
            results = asyncio.run(
                soak(url, pid, args.duration, args.connections, args.invalid_share)
            )
            summary = summarise(results, args.duration, args.connections, window)
            if log is not None:
                # Informational: KServe logs a traceback for each 404 (unknown model).
                summary["server_log_tracebacks"] = log.read_text(errors="replace").count(
                    "Traceback"
                )
    print(markdown(summary, args.workers))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
