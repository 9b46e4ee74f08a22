"""Where a request's server time goes: py-spy on each server under wrk load.

    uv run --with py-spy python bench/profile_server.py   # writes bench/PROFILE.md, ~2 min

Each server runs pinned to CPU 0 under V1 load from wrk on CPU 1 while py-spy samples it
(200 Hz; py-spy pauses the server for each sample, so every stack is whole). Every sample
is charged to the innermost frame that belongs to a known component (numpy inside our
validation counts as validation, a ``write`` inside a log handler as logging). Shares are
of the server's samples (the event loop's wait for the next request included, small under
16 busy connections); "us/req" multiplies them by the server CPU time per request measured
in the same window. ``bench/run.py`` copies PROFILE.md into RESULTS.md.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import servers
from bench.measure import tree_cpu_seconds
from bench.payloads import ensure_model, write_payloads
from bench.process import ROOT, stop_server
from bench.scenarios import Scenario, scenario
from bench.wrk import parse_wrk, write_scripts, wrk_command

# (component, pattern on "function (file)"), innermost match wins; order breaks ties.
COMPONENTS = [
    ("logging (per-request log lines)", r"\((logging/|.*asgi_logger)"),
    ("scikit-learn predict_proba", r"\((sklearn|scipy)/"),
    ("validation (predictor/validation.py)", r"\(predictor/(validation|problems)\.py"),
    ("scoring (predictor/scoring.py)", r"\(predictor/scoring\.py"),
    ("range checks (predictor/ranges.py)", r"\(predictor/ranges\.py"),
    ("response body (predictor/responses.py)", r"\(predictor/responses\.py"),
    (
        "model code: predict, explain",
        r"\(predictor/explain\.py|BreastCancerModel\.|Baseline|ConstantModel\.predict",
    ),
    (
        "model pipeline: stages, timers (predictor/pipeline.py)",
        r"\(predictor/pipeline\.py",
    ),
    ("JSON decode of the body (KServe, orjson)", r"DataPlane\.decode|decode_cloudevent"),
    (
        "Prometheus metrics (prometheus_client, predictor/batched_metrics.py)",
        r"\(prometheus_client/|\(predictor/batched_metrics\.py",
    ),
    ("KServe TimingMiddleware", r"\(timing_asgi/"),
    (
        "request limits + deadlines (predictor/serving/)",
        r"\(predictor/(serving/)?(limits|deadlines)\.py",
    ),
    (
        "request metrics (predictor/serving/http_metrics.py)",
        r"\(predictor/serving/(http_metrics|multiprocess_metrics)\.py|\(predictor/metrics\.py",
    ),
    (
        "drain + refused routes (predictor/serving/)",
        r"\(predictor/(serving/)?(drain|refusals|routes|server)\.py",
    ),
    (
        "fast lane: routing, guards, body, JSON decode, send (predictor/serving/fast_lane.py)",
        r"\(predictor/(serving/)?(fast_lane|fast_lane_v2|kserve_mirror)\.py",
    ),
    (
        "FastAPI routing + dependency resolution",
        r"\(fastapi/(routing|dependencies|_compat)|\(starlette/routing",
    ),
    ("KServe endpoint, data plane, Model.__call__", r"\(kserve/"),
    (
        "FastAPI/Starlette middleware, request, response",
        r"\((fastapi|starlette|anyio)/|\(contextlib|\(typing|\(opentelemetry",
    ),
    (
        "uvicorn HTTP, event loop, socket I/O (and any idle wait)",
        r"\((uvicorn|asyncio|uvloop)/|\(selectors",
    ),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in COMPONENTS]
PROFILED = ("baseline", "floor", "ours")
COMMAND = "uv run --with py-spy python bench/profile_server.py"


def frame_key(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    path = match.group(2)
    for marker in ("site-packages/", "python3.11/", f"{ROOT}/bench/", f"{ROOT}/"):
        path = path.split(marker)[-1]
    return f"{match.group(1)} ({path})"


def classify(stack: list[str]) -> str | None:
    """Component of one sample; None for gRPC's poller thread (it shows as busy, in C)."""
    keys = [frame_key(frame) for frame in stack]
    if all(key.startswith("Thread.") for key in keys):
        return None
    for key in reversed(keys):
        for name, pattern in COMPILED:
            if pattern.search(key):
                return name
    return "other"


def aggregate(raw_path: Path) -> collections.Counter:
    shares: collections.Counter = collections.Counter()
    for line in raw_path.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        component = classify(stack.split(";"))
        if component is not None:
            shares[component] += int(count)
    return shares


def profile_one(
    name: str, scenario: Scenario, files: dict, model_dir: Path, work: Path, seconds: int
) -> tuple[collections.Counter, float, float]:
    """py-spy on one server under wrk: (component shares, CPU us/req, req/s)."""
    server = servers.start(name, model_dir, work)
    try:
        url, script = scenario.url(server.base_url), files["scripts"][scenario.body]
        pinned = ["taskset", "-c", servers.LOAD_CPUS]
        warmup = wrk_command(url, scenario.connections, script, 2)
        subprocess.run([*pinned, *warmup], capture_output=True, check=True, timeout=60)
        raw = work / f"{name}-{scenario.name}.raw"
        cpu_before = tree_cpu_seconds(server.process.pid)
        load = subprocess.Popen(
            [*pinned, *wrk_command(url, scenario.connections, script, seconds + 2)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        subprocess.run(
            [*pinned, "py-spy", "record", "--pid", str(server.process.pid),
             "--duration", str(seconds), "--rate", "200", "--format", "raw",
             "--output", str(raw)],
            check=True,
            capture_output=True,
            timeout=seconds + 60,
        )  # fmt: skip
        output, _ = load.communicate(timeout=seconds + 60)
        cpu = tree_cpu_seconds(server.process.pid) - cpu_before
        requests = parse_wrk(output)["requests"]
        rps = requests / (seconds + 2)
        return aggregate(raw), cpu / max(1, requests) * 1e6, rps
    finally:
        stop_server(server, grace=servers.STOP_GRACE_SECONDS)


def render(rows: list[tuple[str, str, collections.Counter, float, float]]) -> str:
    lines = [
        f"Measured by `{COMMAND}` (py-spy, 200 Hz, server on CPU 0 under wrk on CPU 1). "
        "Each cell: share of the server's samples, and that share of its CPU time per "
        "request.",
        "",
    ]
    for title, name, shares, cpu_us, rps in rows:
        total = sum(shares.values()) or 1
        lines += [
            f"**{name}**, {title}: {cpu_us:.0f} us of server CPU per request "
            f"({rps:,.0f} req/s while sampled)",
            "",
            "| component | share | us/req |",
            "|---|---:|---:|",
        ]
        for component, count in shares.most_common():
            share = count / total
            lines.append(f"| {component} | {share:.0%} | {share * cpu_us:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="sampling time per server")
    parser.add_argument(
        "--model_dir", type=Path, default=Path(tempfile.gettempdir()) / "bench-models"
    )
    parser.add_argument("--output", type=Path, default=servers.BENCH_DIR / "PROFILE.md")
    parser.add_argument("--servers", default=",".join(PROFILED))
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None:
        parser.error(f"py-spy not found: run with `{COMMAND}`")
    ensure_model(args.model_dir)
    one, hundred = scenario("v1-1x16"), scenario("v1-100x16")
    plan = [(name, one) for name in args.servers.split(",")]
    plan += [(name, hundred) for name in ("baseline", "ours") if name in args.servers]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as temp:
        work = Path(temp)
        payloads = write_payloads(args.model_dir, work)
        files = {"payloads": payloads, "scripts": write_scripts(payloads, work)}
        for name, load in plan:
            print(f"profiling {name} on {load.name} ...", flush=True)
            shares, cpu_us, rps = profile_one(name, load, files, args.model_dir, work, args.seconds)
            rows.append((load.title, name, shares, cpu_us, rps))
    args.output.write_text(render(rows))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
