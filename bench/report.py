"""RESULTS.md: the run's medians as markdown tables, the targets, and the profile."""

from __future__ import annotations

from bench.batch import current_section as batch_section
from bench.repeats import Results
from bench.scenarios import Plan
from bench.servers import BENCH_DIR, LOAD_CPUS, SERVER_CPUS, SERVERS, ours
from bench.targets import target_rows

# A measurement is flagged when other processes used more than this share of the
# server's core.
DISTURBED_SHARE = 0.10
PROFILE = BENCH_DIR / "PROFILE.md"
PROFILE_COMMAND = "uv run --with py-spy python bench/profile_server.py"
STARTUP_METRICS = (
    ("cold-start", "cold start (process start to `GET /v1/models/<name>` 200)", "s", 2),
    ("rss", "RSS after load (VmRSS)", "MB", 0),
    ("log", "log output per request", "bytes", 1),
)


def fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def ratio(value: float | None, reference: float | None, invert: bool = False) -> str:
    if not value or not reference:
        return "n/a"
    return f"{(reference / value if invert else value / reference):.2f}x"


def section(title: str, columns: list[str], text_columns: int, *notes: str) -> list[str]:
    """``## title``, any notes (each followed by a blank line), then a table's header.

    The first ``text_columns`` columns are left-aligned, the figures after them right-aligned.
    """
    align = ["---"] * text_columns + ["---:"] * (len(columns) - text_columns)
    notes_lines = [line for note in notes for line in (note, "")]
    return [
        f"## {title}",
        "",
        *notes_lines,
        "| " + " | ".join(columns) + " |",
        "|" + "|".join(align) + "|",
    ]


def report(
    results: Results, plan: Plan, names: list[str], info: dict[str, str], command: str,
    elapsed: float,
) -> str:  # fmt: skip
    """The whole of RESULTS.md."""
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
        f"- Mode: {'quick smoke run' if plan.quick else 'full run'}, "
        f"{plan.repeats} alternating repeats, {plan.duration:g} s per load "
        f"measurement after {plan.warmup:g} s warm-up; server on CPU {SERVER_CPUS}, "
        f"load on CPU {LOAD_CPUS}",
        "",
        "Servers: " + "; ".join(f"**{s}** = {SERVERS[s].description}" for s in names) + ".",
        "",
        *disturbance(results),
        *throughput(results, plan, names),
        *startup(results, names),
        *workers(results, names),
        *targets(results, names),
        *batch(),
        *profile(),
    ]
    return "\n".join(lines) + "\n"


def disturbance(results: Results) -> list[str]:
    foreign = [r["foreign_core0"] for r in results.runs if "foreign_core0" in r]
    if not foreign:
        return []
    worst = max(foreign)
    noisy = sum(1 for f in foreign if f > DISTURBED_SHARE)
    if not noisy:
        return [
            f"Other processes used at most {worst:.0%} of the server's core during "
            "the measurements (quiet run).",
            "",
        ]
    return [
        f"> **This run may have been disturbed**: in {noisy} of {len(foreign)} "
        f"measurements other processes used more than {DISTURBED_SHARE:.0%} of the "
        f"server's core (worst {worst:.0%}). Ratios from one alternating run stay "
        "meaningful; absolute req/s are lower than on a quiet machine. CPU us/req "
        "(server CPU time per request) is the least noise-sensitive column.",
        "",
    ]


def throughput(results: Results, plan: Plan, names: list[str]) -> list[str]:
    m = results.median
    columns = ["scenario", "server", "req/s", "p50 ms", "p99 ms", "vs baseline", "CPU us/req"]
    columns += ["non-2xx", "server CPU", "load CPU"]
    lines = section("Throughput and latency (medians over repeats)", columns, 2)
    for scenario in plan.scenarios:
        key = "p50_ms" if scenario.kind == "latency" else "rps"
        for name in names:
            value = m(name, scenario.name, key)
            if value is None:
                continue
            vs = ratio(value, m("baseline", scenario.name, key), invert=scenario.kind == "latency")
            if scenario.kind == "latency" and vs != "n/a":
                vs += " faster"
            figures = [
                fmt(m(name, scenario.name, "rps")),
                fmt(m(name, scenario.name, "p50_ms"), 2),
                fmt(m(name, scenario.name, "p99_ms"), 2),
                vs,
                fmt(m(name, scenario.name, "cpu_us_per_req")),
                str(sum(results.values(name, scenario.name, "non2xx"))),
                share(m(name, scenario.name, "server_cpu_share")),
                share(m(name, scenario.name, "load_cpu_share")),
            ]
            lines.append(f"| {scenario.title} | {name} | " + " | ".join(figures) + " |")
    return [
        *lines,
        "",
        "For the 10,000-instance request, p50 is the median end-to-end latency of sequential "
        'requests and "vs baseline" is how many times faster than the baseline it is. '
        '"server CPU" and "load CPU" are the CPU time of the server and of the load generator '
        "(wrk, ghz for gRPC, the latency client) over the measurement, as a share of the one "
        "core each is pinned to: a server near 100% with its load generator well below is "
        "the server's limit, not the client's.",
        "",
    ]


def startup(results: Results, names: list[str]) -> list[str]:
    columns = ["metric", "server", "value", "vs baseline"]
    lines = section("Start-up and memory (medians over all samples)", columns, 2)
    for key, title, unit, digits in STARTUP_METRICS:
        base_value = results.median("baseline", key, "value")
        for name in names:
            value = results.median(name, key, "value")
            if value is not None:
                shown = f"{fmt(value, digits)} {unit}"
                lines.append(f"| {title} | {name} | {shown} | {ratio(value, base_value)} |")
    return [*lines, ""]


def workers(results: Results, names: list[str]) -> list[str]:
    m = results.median
    measured = [name for name in ours(names) if m(name, "workers-1", "rps")]
    if not measured:
        return []
    columns = ["server", "workers", "req/s", "p50 ms", "p99 ms", "vs 1 worker"]
    lines = section(
        "1 vs 2 workers on 2 cores (our servers; V1 1 instance, 64 connections)",
        [*columns, "RSS MB (all processes)", "non-2xx"],
        1,
        "Server pinned to both cores and wrk sharing them, so the 2-worker gain is "
        "understated (the load generator takes CPU from the workers).",
    )
    for name in measured:
        one = m(name, "workers-1", "rps")
        for count in (1, 2):
            key = f"workers-{count}"
            lines.append(
                f"| {name} | {count} | {fmt(m(name, key, 'rps'))} | "
                f"{fmt(m(name, key, 'p50_ms'), 2)} | {fmt(m(name, key, 'p99_ms'), 2)} | "
                f"{ratio(m(name, key, 'rps'), one)} | {fmt(m(name, key, 'rss_mb'))} | "
                f"{sum(results.values(name, key, 'non2xx'))} |"
            )
    return [*lines, ""]


def targets(results: Results, names: list[str]) -> list[str]:
    columns = ["target", "server", "measured", "met"]
    lines = section("Targets, against the baseline and the floors of this run", columns, 4)
    for target, name, measured, met in target_rows(results, names):
        lines.append(f"| {target} | {name} | {measured} | {'yes' if met else '**no**'} |")
    return [*lines, ""]


def batch() -> list[str]:
    """The batch scenario's section (``bench/batch.py`` writes it): kept as it is."""
    section = batch_section(BENCH_DIR / "RESULTS.md")
    return [section, ""] if section else []


def profile() -> list[str]:
    lines = ["## Where the time goes", ""]
    if PROFILE.is_file():
        return [*lines, PROFILE.read_text().strip()]
    return [*lines, f"Run `{PROFILE_COMMAND}` to add a profile here."]
