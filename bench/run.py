"""The benchmark: our predictor against a plain KServe baseline and KServe's own floor.

    uv run python bench/run.py            # full run, about 15 minutes, writes bench/RESULTS.md
    uv run python bench/run.py --quick    # smoke run, under 2 minutes

Every server is started on its own (one at a time), pinned to CPU 0 with ``taskset``; the
load generators (wrk, and ``bench/clients.py`` for gRPC and the 10,000-instance request)
are pinned to CPU 1 and only talk to 127.0.0.1. Each repeat runs every server once, in
alternating order (A B C D, then D C B A, ...), so slow drift on a shared machine hits all
of them alike; the table shows medians over repeats. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
MODEL_NAME = "breast-cancer"
HOST = "127.0.0.1"
SERVER_CPUS = "0"
LOAD_CPUS = "1"
BOTH_CPUS = "0,1"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
STOP_GRACE = 1.5
# A measurement is flagged when other processes used more than this share of a core.
DISTURBED_SHARE = 0.10

SERVERS = {
    "baseline": "plain KServe Model (np.asarray + predict_proba, ModelServer defaults)",
    "floor": "KServe floor (predict returns a constant, logging quiet)",
    "ours": "our predictor as it is in the tree (`python -m predictor`)",
    "ours+fastpath": "`bench/serve_tuned.py`: `python -m predictor` with every "
    "`predictor.fastpath` step where it is recommended (GC paused from the first import) "
    "(the json_depth speed-up it once added is merged into predictor/limits.py)",
}
OURS = ("ours", "ours+fastpath")


def server_command(name: str, model_dir: Path) -> list[str]:
    python = sys.executable
    return {
        "baseline": [python, str(BENCH_DIR / "baseline_model.py"), "--model_dir", str(model_dir)],
        "floor": [python, str(BENCH_DIR / "constant_model.py")],
        "ours": [python, "-m", "predictor", "--model_dir", str(model_dir)],
        "ours+fastpath": [python, str(BENCH_DIR / "serve_tuned.py"), "--model_dir", str(model_dir)],
    }[name]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    kind: str  # "wrk", "grpc" or "latency"
    body: str = ""  # payload key
    path: str = "v1"
    connections: int = 16


SCENARIOS = [
    Scenario("v1-1x1", "V1, 1 instance, 1 connection", "wrk", "v1_one", connections=1),
    Scenario("v1-1x16", "V1, 1 instance, 16 connections", "wrk", "v1_one"),
    Scenario("v1-1x64", "V1, 1 instance, 64 connections", "wrk", "v1_one", connections=64),
    Scenario("v1-100x16", "V1, 100 instances, 16 connections", "wrk", "v1_hundred"),
    Scenario("v2-1x16", "V2 REST, 1 instance, 16 connections", "wrk", "v2_one", path="v2"),
    Scenario("grpc-1x16", "V2 gRPC, 1 instance, 16 in flight", "grpc"),
    Scenario("v1-10k", "V1, one request of 10,000 instances (latency)", "latency", "v1_10k"),
]
QUICK_SCENARIOS = ("v1-1x16", "v1-100x16", "v2-1x16", "grpc-1x16", "v1-10k")


@dataclass(frozen=True)
class Settings:
    quick: bool
    repeats: int
    warmup: float
    duration: float
    grpc_requests: int
    latency_requests: int
    workers_phase: bool
    scenarios: tuple[Scenario, ...]
    extra_cold_starts: int = 0  # more start-to-ready samples per server and repeat


def settings_for(args: argparse.Namespace) -> Settings:
    if args.quick:
        chosen = tuple(s for s in SCENARIOS if s.name in QUICK_SCENARIOS)
        return Settings(True, args.repeats or 2, 1.0, 1.0, 500, 3, False, chosen)
    return Settings(False, args.repeats or 3, 2.0, 6.0, 4000, 15, True, tuple(SCENARIOS), 2)


# ---- payloads ------------------------------------------------------------------------------


def ensure_model(model_dir: Path) -> None:
    """Train the artifact with the project's CLI unless one is already there."""
    if (model_dir / "LATEST").is_file():
        return
    print(f"training a model into {model_dir} ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "training", "--output", str(model_dir), "--no-plots"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )


def training_rows(model_dir: Path, count: int) -> list[list[float]]:
    """Real rows of the bundled data set, clipped into the artifact's training range.

    In-range rows are the common case (no out-of-range warnings); cycling the 569 rows
    gives any count.
    """
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    version = (model_dir / "LATEST").read_text().strip()
    meta = json.loads((model_dir / version / "metadata.json").read_text())
    low = np.array([meta["feature_ranges"][n]["min"] for n in meta["feature_names"]])
    high = np.array([meta["feature_ranges"][n]["max"] for n in meta["feature_names"]])
    data = np.clip(load_breast_cancer().data, low, high)
    return data[np.arange(count) % len(data)].tolist()


def write_payloads(model_dir: Path, directory: Path) -> dict[str, Path]:
    rows = training_rows(model_dir, 10_000)
    bodies = {
        "v1_one": {"instances": rows[:1]},
        "v1_hundred": {"instances": rows[:100]},
        "v1_10k": {"instances": rows},
        "v2_one": {
            "inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP64", "data": rows[0]}]
        },
    }
    paths = {}
    for key, body in bodies.items():
        paths[key] = directory / f"{key}.json"
        paths[key].write_text(json.dumps(body, separators=(",", ":")))
    paths["grpc_features"] = directory / "grpc_features.json"
    paths["grpc_features"].write_text(json.dumps(rows[0]))
    return paths


WRK_SCRIPT = """-- generated by bench/run.py: POST one body, count every status
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open({path}, "rb"))
wrk.body = f:read("*a")
f:close()
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) good = 0; bad = 0 end
function response(status, headers, body)
  if status >= 200 and status < 300 then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests":%d,"good":%d,"non2xx":%d,"duration_us":%d,"p50_us":%d,' ..
    '"p99_us":%d,"socket_errors":%d}}\\n',
    summary.requests, g, b, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
"""


def write_wrk_scripts(payloads: dict[str, Path], directory: Path) -> dict[str, Path]:
    scripts = {}
    for key in ("v1_one", "v1_hundred", "v2_one"):
        scripts[key] = directory / f"{key}.lua"
        scripts[key].write_text(WRK_SCRIPT.format(path=json.dumps(str(payloads[key]))))
    return scripts


# ---- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and every live descendant (all threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in _tree_stats(pid):
        total += (int(stat[11]) + int(stat[12])) / ticks
    return total


def _tree_stats(root: int) -> list[list[str]]:
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            stats[int(entry.name)] = fields
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found.append(stats[pid])
        todo.extend(children.get(pid, []))
    return found


def tree_rss_mb(root: int) -> float:
    total_kb = 0
    for pid in [root, *_descendants(root)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def _descendants(root: int) -> list[int]:
    result = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent == root:
                    pid = int(entry.name)
                    result += [pid, *_descendants(pid)]
    return result


def cpu_times(cpu: int) -> tuple[float, float]:
    """(busy, total) seconds of one core since boot, from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(v) for v in line.split()[1:]]
            busy = values[0] + values[1] + values[2]  # user + nice + system
            return busy / ticks, sum(values[:8]) / ticks
    raise RuntimeError(f"cpu{cpu} not in /proc/stat")


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    http_port: int
    grpc_port: int
    log_path: Path
    cold_start: float
    pinned: str

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def url(self, path: str) -> str:
        if path == "v2":
            return f"{self.base_url}/v2/models/{MODEL_NAME}/infer"
        return f"{self.base_url}/v1/models/{MODEL_NAME}:predict"


def start_server(
    name: str, model_dir: Path, log_dir: Path, cpus: str = SERVER_CPUS, workers: int = 1
) -> Server:
    http_port, grpc_port = free_port(), free_port()
    command = [
        "taskset",
        "-c",
        cpus,
        *server_command(name, model_dir),
        "--model_name",
        MODEL_NAME,
        "--http_port",
        str(http_port),
        "--grpc_port",
        str(grpc_port),
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    log_path = log_dir / f"{name}-{http_port}.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    ready_url = f"http://{HOST}:{http_port}/v1/models/{MODEL_NAME}"
    while time.monotonic() - started < READY_TIMEOUT:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail(log_path)}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(ready_url, timeout=1) as response,
        ):
            if response.status == 200:
                cold = time.monotonic() - started
                return Server(name, process, http_port, grpc_port, log_path, cold, cpus)
        time.sleep(0.02)
    stop_server_process(process)
    raise RuntimeError(f"{name} not ready after {READY_TIMEOUT}s:\n{tail(log_path)}")


def stop_server_process(process: subprocess.Popen) -> None:
    """SIGTERM the server's own process group (it and its --workers children), then SIGKILL.

    Shutdown is not measured: the group gets a short grace (our predictor drains for
    seconds after SIGTERM) and is then killed.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ---- measurements ----------------------------------------------------------------------------


def run_wrk(
    server: Server, scenario: Scenario, script: Path, seconds: float, cpus: str = LOAD_CPUS
) -> dict:
    command = [
        "taskset",
        "-c",
        cpus,
        "wrk",
        "-t1",
        f"-c{scenario.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        server.url(scenario.path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCH (\{.*\})$", done.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(match.group(1))
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "non2xx": raw["non2xx"] + raw["socket_errors"],
    }


def run_client(args: list[str], timeout: float) -> dict:
    command = ["taskset", "-c", LOAD_CPUS, sys.executable, str(BENCH_DIR / "clients.py"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"client failed: {' '.join(args[:1])}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(server: Server, scenario: Scenario, settings: Settings, files: dict) -> dict:
    """Warm up, then measure one scenario; adds server CPU per request and disturbance."""
    if scenario.kind == "wrk":
        run_wrk(server, scenario, files["scripts"][scenario.body], settings.warmup)
    cpu_before = process_cpu_seconds(server.process.pid)
    core_before = cpu_times(0)
    wall_before = time.monotonic()
    if scenario.kind == "wrk":
        result = run_wrk(server, scenario, files["scripts"][scenario.body], settings.duration)
    elif scenario.kind == "grpc":
        raw = run_client(
            [
                "grpc",
                "--port",
                str(server.grpc_port),
                "--model",
                MODEL_NAME,
                "--features",
                files["payloads"]["grpc_features"].read_text(),
                "--requests",
                str(settings.grpc_requests),
                "--concurrency",
                "16",
                "--time_limit",
                str(max(5.0, settings.duration * 3)),
            ],
            timeout=120,
        )
        result = {
            "rps": raw["rps"],
            "p50_ms": raw["p50_ms"],
            "p99_ms": raw["p99_ms"],
            "requests": raw["requests"],
            "non2xx": raw["non_ok"],
        }
    else:
        raw = run_client(
            [
                "latency",
                "--url",
                server.url("v1"),
                "--body",
                str(files["payloads"][scenario.body]),
                "--requests",
                str(settings.latency_requests),
                "--warmup",
                "2",
            ],
            timeout=180,
        )
        result = {
            "rps": raw["rps"],
            "p50_ms": raw["median_ms"],
            "p99_ms": raw["p99_ms"],
            "requests": raw["requests"],
            "non2xx": raw["non_ok"],
            "served": sum(raw["statuses"].values()),  # warm-up requests included
        }
    wall = time.monotonic() - wall_before
    server_cpu = process_cpu_seconds(server.process.pid) - cpu_before
    core_after = cpu_times(0)
    core_busy = core_after[0] - core_before[0]
    served = result.pop("served", result["requests"])
    result["cpu_us_per_req"] = server_cpu / max(1, served) * 1e6
    # Busy time on the server's core that was not the server: other processes (and the
    # load client's kernel work); shared-machine noise shows up here.
    result["foreign_core0"] = max(0.0, core_busy - server_cpu) / max(wall, 1e-9)
    return result


@dataclass
class Results:
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
    index: int,
    servers: list[str],
    settings: Settings,
    files: dict,
    model_dir: Path,
    log_dir: Path,
    results: Results,
) -> None:
    order = servers if index % 2 == 0 else list(reversed(servers))
    for name in order:
        print(f"[repeat {index + 1}/{settings.repeats}] {name}", flush=True)
        server = start_server(name, model_dir, log_dir)
        try:
            results.add(server=name, scenario="cold-start", repeat=index, value=server.cold_start)
            for scenario in settings.scenarios:
                result = measure(server, scenario, settings, files)
                results.add(server=name, scenario=scenario.name, repeat=index, **result)
                print(
                    f"    {scenario.name:10s} {result['rps']:9.1f} req/s  "
                    f"p50 {result['p50_ms']:8.2f} ms  p99 {result['p99_ms']:8.2f} ms  "
                    f"cpu {result['cpu_us_per_req']:7.0f} us/req  non-2xx {result['non2xx']}",
                    flush=True,
                )
            rss = tree_rss_mb(server.process.pid)
            results.add(server=name, scenario="rss", repeat=index, value=rss)
        finally:
            stop_server_process(server.process)
            log_bytes = server.log_path.stat().st_size
            requests = sum(
                r.get("requests", 0)
                for r in results.runs
                if r["server"] == name and r["repeat"] == index
            )
            results.add(
                server=name, scenario="log", repeat=index, value=log_bytes / max(1, requests)
            )
            server.log_path.unlink()
        # Start-up differs by a few percent between servers and varies as much between two
        # starts: a few more samples steady its median.
        for _ in range(settings.extra_cold_starts):
            again = start_server(name, model_dir, log_dir)
            stop_server_process(again.process)
            again.log_path.unlink()
            results.add(server=name, scenario="cold-start", repeat=index, value=again.cold_start)


def run_workers(
    index: int,
    servers: list[str],
    settings: Settings,
    files: dict,
    model_dir: Path,
    log_dir: Path,
    results: Results,
) -> None:
    """Our servers with 1 then 2 workers, pinned to both cores (wrk shares them)."""
    scenario = Scenario("workers", "V1, 1 instance, 64 conns", "wrk", "v1_one", connections=64)
    ours = [name for name in servers if name in OURS]
    configs = [(name, workers) for name in ours for workers in (1, 2)]
    if index % 2:
        configs.reverse()
    for name, workers in configs:
        print(f"[workers {index + 1}/{settings.repeats}] {name} --workers {workers}", flush=True)
        server = start_server(name, model_dir, log_dir, cpus=BOTH_CPUS, workers=workers)
        try:
            script = files["scripts"]["v1_one"]
            run_wrk(server, scenario, script, settings.warmup + 1, cpus=BOTH_CPUS)
            cpu_before = process_cpu_seconds(server.process.pid)
            result = run_wrk(server, scenario, script, settings.duration, cpus=BOTH_CPUS)
            cpu = process_cpu_seconds(server.process.pid) - cpu_before
            result["cpu_us_per_req"] = cpu / max(1, result["requests"]) * 1e6
            result["rss_mb"] = tree_rss_mb(server.process.pid)
            results.add(server=name, scenario=f"workers-{workers}", repeat=index, **result)
            print(
                f"    {result['rps']:9.1f} req/s  p99 {result['p99_ms']:8.2f} ms  "
                f"non-2xx {result['non2xx']}  rss {result['rss_mb']:.0f} MB",
                flush=True,
            )
        finally:
            stop_server_process(server.process)
            server.log_path.unlink()


# ---- report ----------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    def command(*args: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(args, capture_output=True, text=True, timeout=10)
            return (done.stdout + done.stderr).strip()
        return "?"

    lscpu = command("lscpu")
    model = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
    versions = {}
    for package in ("kserve", "numpy", "scikit-learn", "fastapi", "uvicorn", "orjson", "uvloop"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    commit = command("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = command("git", "-C", str(ROOT), "status", "--porcelain", "--", "predictor", "bench")
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "wrk": command("wrk", "--version").splitlines()[0] if shutil.which("wrk") else "absent",
        "commit": commit + (" + uncommitted changes in predictor/ or bench/" if dirty else ""),
    }


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(value: float | None, reference: float | None, invert: bool = False) -> str:
    if value is None or reference is None or value == 0 or reference == 0:
        return "n/a"
    return f"{(reference / value if invert else value / reference):.2f}x"


def targets(results: Results, servers: list[str]) -> list[tuple[str, str, str, bool]]:
    """(target, server, measured, met) for each target and each of our servers."""
    rows = []
    base = "baseline"
    for name in [s for s in servers if s in OURS]:
        m = results.median
        rps, base_rps, floor_rps = (m(s, "v1-1x16", "rps") for s in (name, base, "floor"))
        p99, base_p99 = m(name, "v1-1x16", "p99_ms"), m(base, "v1-1x16", "p99_ms")
        if rps and base_rps:
            rows.append(
                (
                    "1 instance, 16 conns: >= 3.0x baseline req/s",
                    name,
                    f"{rps / base_rps:.2f}x",
                    rps / base_rps >= 3.0,
                )
            )
        if rps and floor_rps:
            rows.append(
                (
                    "1 instance, 16 conns: >= 80% of the floor's req/s",
                    name,
                    f"{100 * rps / floor_rps:.0f}%",
                    rps >= 0.8 * floor_rps,
                )
            )
        if p99 and base_p99:
            rows.append(
                (
                    "1 instance, 16 conns: p99 <= half the baseline's",
                    name,
                    f"{p99:.2f} ms vs {base_p99:.2f} ms",
                    p99 <= base_p99 / 2,
                )
            )
        hundred, base_hundred = m(name, "v1-100x16", "rps"), m(base, "v1-100x16", "rps")
        if hundred and base_hundred:
            rows.append(
                (
                    "100 instances, 16 conns: >= 2.5x baseline req/s",
                    name,
                    f"{hundred / base_hundred:.2f}x",
                    hundred / base_hundred >= 2.5,
                )
            )
        big, base_big = m(name, "v1-10k", "p50_ms"), m(base, "v1-10k", "p50_ms")
        if big and base_big:
            rows.append(
                (
                    "10,000 instances: <= 50 ms and not slower than the baseline",
                    name,
                    f"{big:.1f} ms vs {base_big:.1f} ms",
                    big <= 50 and big <= base_big,
                )
            )
        cold, base_cold = m(name, "cold-start", "value"), m(base, "cold-start", "value")
        if cold and base_cold:
            rows.append(
                (
                    "cold start: not slower than the baseline",
                    name,
                    f"{cold:.2f} s vs {base_cold:.2f} s",
                    cold <= base_cold,
                )
            )
        bad = sum(
            r.get("non2xx", 0)
            for r in results.runs
            if r["server"] == name and r["scenario"] != "log"
        )
        total = sum(
            r.get("requests", 0)
            for r in results.runs
            if r["server"] == name and r["scenario"] != "log"
        )
        rows.append(("zero non-2xx on valid load", name, f"{bad} of {total:,} requests", bad == 0))
    return rows


def report(
    results: Results,
    settings: Settings,
    servers: list[str],
    info: dict[str, str],
    command: str,
    elapsed: float,
) -> str:
    m = results.median
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run.py`; how to run it and how to read this: `bench/README.md`.",
        "",
        f"- Date: {info['date']} (took {elapsed / 60:.1f} min)",
        f"- Command: `{command}`",
        f"- Machine: {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}",
        f"- Python {info['python']}; {info['packages']}; {info['wrk']}",
        f"- Code: commit {info['commit']}",
        f"- Mode: {'quick smoke run' if settings.quick else 'full run'}, "
        f"{settings.repeats} alternating repeats, {settings.duration:g} s per load "
        f"measurement after {settings.warmup:g} s warm-up; server on CPU {SERVER_CPUS}, "
        f"load on CPU {LOAD_CPUS}",
        "",
        "Servers: " + "; ".join(f"**{s}** = {SERVERS[s]}" for s in servers) + ".",
        "",
    ]
    foreign = [r["foreign_core0"] for r in results.runs if "foreign_core0" in r]
    if foreign:
        worst = max(foreign)
        noisy = sum(1 for f in foreign if f > DISTURBED_SHARE)
        if noisy:
            lines += [
                f"> **This run may have been disturbed**: in {noisy} of {len(foreign)} "
                f"measurements other processes used more than {DISTURBED_SHARE:.0%} of the "
                f"server's core (worst {worst:.0%}). Ratios from one alternating run stay "
                "meaningful; absolute req/s are lower than on a quiet machine. CPU us/req "
                "(server CPU time per request) is the least noise-sensitive column.",
                "",
            ]
        else:
            lines += [
                f"Other processes used at most {worst:.0%} of the server's core during "
                "the measurements (quiet run).",
                "",
            ]
    lines += [
        "## Throughput and latency (medians over repeats)",
        "",
        "| scenario | server | req/s | p50 ms | p99 ms | vs baseline | CPU us/req | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in settings.scenarios:
        base_key = "p50_ms" if scenario.kind == "latency" else "rps"
        base_value = m("baseline", scenario.name, base_key)
        for name in servers:
            value = m(name, scenario.name, base_key)
            if value is None:
                continue
            bad = sum(results.values(name, scenario.name, "non2xx"))
            vs = ratio(value, base_value, invert=scenario.kind == "latency")
            if scenario.kind == "latency":
                vs += " faster" if vs != "n/a" else ""
            lines.append(
                f"| {scenario.title} | {name} | {fmt(m(name, scenario.name, 'rps'))} | "
                f"{fmt(m(name, scenario.name, 'p50_ms'), 2)} | "
                f"{fmt(m(name, scenario.name, 'p99_ms'), 2)} | {vs} | "
                f"{fmt(m(name, scenario.name, 'cpu_us_per_req'))} | {bad} |"
            )
    lines += [
        "",
        "For the 10,000-instance request, p50 is the median end-to-end latency of sequential "
        'requests and "vs baseline" is how many times faster than the baseline it is.',
        "",
        "## Start-up and memory (medians over all samples)",
        "",
        "| metric | server | value | vs baseline |",
        "|---|---|---:|---:|",
    ]
    for key, title, unit, digits in (
        ("cold-start", "cold start (process start to `GET /v1/models/<name>` 200)", "s", 2),
        ("rss", "RSS after load (VmRSS)", "MB", 0),
        ("log", "log output per request", "bytes", 1),
    ):
        base_value = m("baseline", key, "value")
        for name in servers:
            value = m(name, key, "value")
            if value is None:
                continue
            lines.append(
                f"| {title} | {name} | {fmt(value, digits)} {unit} | {ratio(value, base_value)} |"
            )
    worker_rows = [s for s in OURS if m(s, "workers-1", "rps")]
    if worker_rows:
        lines += [
            "",
            "## 1 vs 2 workers on 2 cores (our servers; V1 1 instance, 64 connections)",
            "",
            "Server pinned to both cores and wrk sharing them, so the 2-worker gain is "
            "understated (the load generator takes CPU from the workers).",
            "",
            "| server | workers | req/s | p50 ms | p99 ms | vs 1 worker | RSS MB (all "
            "processes) | non-2xx |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in worker_rows:
            one = m(name, "workers-1", "rps")
            for workers in (1, 2):
                key = f"workers-{workers}"
                lines.append(
                    f"| {name} | {workers} | {fmt(m(name, key, 'rps'))} | "
                    f"{fmt(m(name, key, 'p50_ms'), 2)} | {fmt(m(name, key, 'p99_ms'), 2)} | "
                    f"{ratio(m(name, key, 'rps'), one)} | {fmt(m(name, key, 'rss_mb'))} | "
                    f"{sum(results.values(name, key, 'non2xx'))} |"
                )
    lines += ["", "## Targets (issue 4), against the baseline and floor of this run", ""]
    lines += ["| target | server | measured | met |", "|---|---|---|---|"]
    for target, name, measured, met in targets(results, servers):
        lines.append(f"| {target} | {name} | {measured} | {'yes' if met else '**no**'} |")
    profile = BENCH_DIR / "PROFILE.md"
    lines += ["", "## Where the time goes", ""]
    if profile.is_file():
        lines += [profile.read_text().strip(), ""]
    else:
        command = "uv run --with py-spy python bench/profile_server.py"
        lines += [f"Run `{command}` to add a profile here.", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 2 minutes)")
    parser.add_argument("--repeats", type=int, default=0, help="alternating repeats (>= 2)")
    parser.add_argument(
        "--model_dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench-models",
        help="trained artifact (trained here if missing)",
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated subset of {', '.join(SERVERS)}",
    )
    parser.add_argument("--json", type=Path, help="also write every raw measurement here")
    args = parser.parse_args(argv)
    settings = settings_for(args)
    if settings.repeats < 2:
        parser.error("--repeats must be >= 2 (medians of alternating repeats)")
    servers = [s for s in args.servers.split(",") if s]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown or "baseline" not in servers:
        parser.error(f"--servers must include baseline; unknown: {unknown}")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found (apt-get install -y wrk util-linux)")
    if (os.cpu_count() or 1) < 2:
        parser.error("needs 2 CPUs: one for the server, one for the load generator")
    command = "uv run python bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    started = time.monotonic()
    ensure_model(args.model_dir)
    results = Results()
    with tempfile.TemporaryDirectory(prefix="bench-") as temp:
        work = Path(temp)
        payloads = write_payloads(args.model_dir, work)
        files = {"payloads": payloads, "scripts": write_wrk_scripts(payloads, work)}
        for index in range(settings.repeats):
            run_repeat(index, servers, settings, files, args.model_dir, work, results)
        if settings.workers_phase:
            for index in range(settings.repeats):
                run_workers(index, servers, settings, files, args.model_dir, work, results)
    elapsed = time.monotonic() - started
    text = report(results, settings, servers, machine_info(), command.strip(), elapsed)
    args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results.runs, indent=1))
    print(f"wrote {args.output} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
