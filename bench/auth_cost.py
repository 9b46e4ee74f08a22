"""What authentication costs: throughput with a bearer token on every request vs none.

    apt-get install -y wrk                       # once
    uv run python bench/auth_cost.py             # about 2 minutes

Two predictors on the same artifact, both pinned to CPU 0 (wrk on CPU 1, one thread): one as
shipped, one with ``--auth_issuer`` (a loopback issuer, ``bench/token_issuer.py``) and every
request carrying the same valid token, as a client pod reusing its projected token does: the
verified-token cache answers, and each answer writes its audit line to the server's log file.
They take turns (the order flips each round): 2 s of warm-up, then ``--seconds`` of V1
one-instance load per round. Reported per server: median req/s and median server CPU per
request (from ``/proc``, which other processes on a shared machine barely move), and the
ratios auth / plain of each. Target: req/s with auth at least 80% of without.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import tree_cpu_seconds
from bench.payloads import ensure_model, scenario_parser, write_payloads
from bench.process import MODEL_NAME, predictor_command, running_server
from bench.servers import SERVER_CPUS
from bench.token_issuer import Issuer
from bench.wrk import run_wrk, write_scripts

TARGET = 0.8
CONNECTIONS = 16
WARMUP_SECONDS = 2.0


def measure(url: str, pid: int, script: Path, seconds: float, headers: tuple) -> dict:
    """One round: warm up, then load; req/s and the server's CPU per request."""
    run_wrk(url, CONNECTIONS, script, WARMUP_SECONDS, headers=headers)
    before = tree_cpu_seconds(pid)
    result = run_wrk(url, CONNECTIONS, script, seconds, headers=headers)
    if result.non2xx:
        raise RuntimeError(f"{result.non2xx} answers were not 2xx")
    cpu = tree_cpu_seconds(pid) - before
    return {"rps": result.rps, "cpu_us": cpu / max(1, result.requests) * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0, help="of load per round")
    args = parser.parse_args(argv)
    ensure_model(args.model_dir)
    issuer = Issuer().start()
    token_header = (f"Authorization: Bearer {issuer.token(lifetime=3600)}",)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        script = write_scripts(write_payloads(args.model_dir, work), work)["v1_one"]
        plain_command = predictor_command(args.model_dir)
        auth_command = [*plain_command, *issuer.flags("system:serviceaccount:clinic:*")]
        start = {"cpus": SERVER_CPUS, "grace": 1.5}
        with (
            running_server(plain_command, work, name="plain", **start) as plain,
            running_server(auth_command, work, name="auth", **start) as auth,
        ):
            servers = {"plain": (plain, ()), "auth": (auth, token_header)}
            rows: dict[str, list[dict]] = {"plain": [], "auth": []}
            for index in range(args.rounds):
                for name in servers if index % 2 == 0 else reversed(list(servers)):
                    server, headers = servers[name]
                    url = f"{server.base_url}/v1/models/{MODEL_NAME}:predict"
                    rows[name].append(
                        measure(url, server.process.pid, script, args.seconds, headers)
                    )
            audited = auth.log().count('"event":"answered"')
    issuer.stop()
    report(rows, args, audited)
    return 0


def report(rows: dict[str, list[dict]], args: argparse.Namespace, audited: int) -> None:
    median = {
        name: {key: statistics.median(row[key] for row in runs) for key in ("rps", "cpu_us")}
        for name, runs in rows.items()
    }
    pairs = list(zip(rows["auth"], rows["plain"], strict=True))
    ratios = [a["rps"] / p["rps"] for a, p in pairs]
    cpu_ratios = [p["cpu_us"] / a["cpu_us"] for a, p in pairs]
    rps_ratio = median["auth"]["rps"] / median["plain"]["rps"]
    cpu_ratio = median["plain"]["cpu_us"] / median["auth"]["cpu_us"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"{when}: {args.rounds} alternating rounds of {args.seconds:g} s, V1 one instance, "
        f"{CONNECTIONS} connections; the auth server wrote {audited} audit lines\n"
    )
    print("| server | req/s | server CPU us/request |")
    print("|---|---:|---:|")
    for name, figures in median.items():
        print(f"| {name} | {figures['rps']:.0f} | {figures['cpu_us']:.0f} |")
    verdict = "yes" if rps_ratio >= TARGET else "NO"
    print(
        f"\nauth / plain: req/s {rps_ratio:.2f} (per round {min(ratios):.2f} to "
        f"{max(ratios):.2f}); CPU per request plain / auth {cpu_ratio:.2f} (per round "
        f"{min(cpu_ratios):.2f} to {max(cpu_ratios):.2f}). "
        f"Target req/s >= {TARGET:.0%} of plain: {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
