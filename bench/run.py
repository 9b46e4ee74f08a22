"""The benchmark: our predictor against a plain KServe baseline and two floors.

    uv run python bench/run.py            # full run, about 15 minutes, writes bench/RESULTS.md
    uv run python bench/run.py --quick    # smoke run, a few minutes

Every server is started on its own (one at a time), pinned to CPU 0; the load generators
are pinned to CPU 1 and only talk to 127.0.0.1. Repeats alternate the servers' order and
the report shows medians over repeats. How it measures: ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ghz import ensure_ghz, ghz_path, write_request
from bench.machine import machine_info
from bench.payloads import ensure_model, write_payloads
from bench.process import MODEL_NAME
from bench.repeats import Results, run_repeat, run_workers
from bench.report import report
from bench.scenarios import plan_for
from bench.servers import BENCH_DIR, SERVERS
from bench.wrk import write_scripts

TOOLS = {"wrk": "apt-get install -y wrk", "taskset": "apt-get install -y util-linux"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--repeats", type=int, default=0, help="alternating repeats (>= 2)")
    parser.add_argument(
        "--model_dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench-models",
        help="trained artifact (trained here if missing)",
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"comma-separated subset of {list(SERVERS)}"
    )
    parser.add_argument("--json", type=Path, help="also write every raw measurement here")
    args = parser.parse_args(argv)
    args.servers = [s for s in args.servers.split(",") if s]
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown or "baseline" not in args.servers:
        parser.error(f"--servers must include baseline; unknown: {unknown}")
    if args.repeats and args.repeats < 2:
        parser.error("--repeats must be >= 2 (medians of alternating repeats)")
    for tool, install in TOOLS.items():
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found ({install})")
    if shutil.which("go") is None and not ghz_path().is_file():
        parser.error(
            "go not found (apt-get install -y golang-go): it builds ghz, the gRPC load generator"
        )
    if (os.cpu_count() or 1) < 2:
        parser.error("needs 2 CPUs: one for the server, one for the load generator")
    return args


def load_files(model_dir: Path, work: Path) -> dict:
    """The bodies, wrk's Lua scripts and ghz's request, written into ``work``."""
    payloads = write_payloads(model_dir, work)
    features = json.loads(payloads["grpc_features"].read_text())
    return {
        "payloads": payloads,
        "scripts": write_scripts(payloads, work),
        "grpc": write_request(MODEL_NAME, features, work),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    plan = plan_for(args.quick, args.repeats)
    command = "uv run python bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    started = time.monotonic()
    ensure_model(args.model_dir)
    ensure_ghz()  # built before any measurement, not during one
    results = Results()
    with tempfile.TemporaryDirectory(prefix="bench-") as temp:
        work = Path(temp)
        files = load_files(args.model_dir, work)
        for index in range(plan.repeats):
            run_repeat(index, args.servers, plan, files, args.model_dir, work, results)
        if plan.workers_phase:
            for index in range(plan.repeats):
                run_workers(index, args.servers, plan, files, args.model_dir, work, results)
    elapsed = time.monotonic() - started
    text = report(results, plan, args.servers, machine_info(), command.strip(), elapsed)
    args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results.runs, indent=1))
    print(f"wrote {args.output} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
