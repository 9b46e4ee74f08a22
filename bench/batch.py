"""Batch scoring: ``python -m predictor.batch`` on a 1,000,000-row CSV beside pandas.read_csv.

    uv run python bench/batch.py                 # about 5 minutes; a section of RESULTS.md
    uv run python bench/batch.py --rows 100000 --repeats 2 --output /tmp/batch.md

Writes a ~330 MB CSV of WDBC-like rows (``bench/batch_data.py``) into a temporary directory,
reads it once so both contenders find it in the page cache, then alternates, repeat after
repeat: ``pandas.read_csv`` of the file in a fresh process (the time of the call itself, and
the whole process), our CLI on it (the whole process: imports, model, parse, checks, scores,
both output files), and our CLI as each of 3 shards. Peak RSS and CPU time of each process
come from ``wait4``. Medians over repeats; the machine is shared, so the order alternates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine_info
from bench.payloads import ensure_model
from bench.process import ROOT
from bench.servers import BENCH_DIR

HEADING = "## Batch scoring: a 1,000,000-row CSV"
BEFORE_HEADING = "## Where the time goes"  # the section goes before this one, if present
MAX_RATIO = 1.5
MAX_RSS_MB = 400
SHARDS = 3
PANDAS = """
import json, sys, time
import pandas
started, cpu = time.perf_counter(), time.process_time()
frame = pandas.read_csv(sys.argv[1])
print(json.dumps({"parse": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "rows": len(frame)}))
"""


@dataclass(frozen=True)
class Run:
    """One child process: wall seconds, CPU seconds (user + system), peak RSS in MB."""

    wall: float
    cpu: float
    rss_mb: float
    stdout: str


def measure(command: list[str], log: Path) -> Run:
    """Run ``command`` to completion: its wall and CPU time (``wait4``) and peak RSS.

    The peak is the child's ``VmHWM``, polled every 20 ms: its ``ru_maxrss`` would not do,
    as Linux starts it at the RSS of the process that forked it (this one, hundreds of MB).
    """
    with log.open("w") as stderr, tempfile.TemporaryFile("w+") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr)
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, high_water_kb(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        output = stdout.read()
    if process.returncode != 0:
        raise RuntimeError(f"{command} exited {process.returncode}: {log.read_text()[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, peak_kb * 1024 / 1e6, output)


def high_water_kb(pid: int) -> int:
    """``VmHWM`` of a running process, in KiB (0 once it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def ours(model_dir: Path, source: Path, output: Path, *shard: str) -> list[str]:
    return [sys.executable, "-m", "predictor.batch", "--model_dir", str(model_dir),
            "--input", str(source), "--output", str(output), *shard]  # fmt: skip


def one_repeat(index: int, model_dir: Path, source: Path, work: Path) -> dict[str, Run]:
    """Every contender once, in this repeat's order (reversed every other repeat)."""
    contenders = {"pandas": [sys.executable, "-c", PANDAS, str(source)],
                  "ours": ours(model_dir, source, work / "scores.csv")}  # fmt: skip
    for shard in range(SHARDS):
        contenders[f"shard {shard}"] = ours(
            model_dir, source, work / "parts", "--shards", str(SHARDS), "--shard", str(shard)
        )
    names = list(contenders) if index % 2 == 0 else list(reversed(contenders))
    runs = {}
    for name in names:
        runs[name] = measure(contenders[name], work / f"{name}.log")
        print(f"  repeat {index + 1}: {name}: {runs[name].wall:.2f} s", flush=True)
    return runs


def check_outputs(work: Path, rows: int) -> str:
    """Every row scored, none refused, in the single run and over the shards."""

    def lines(path: Path) -> int:
        with path.open("rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))

    assert lines(work / "scores.csv") == rows + 1, "the output lacks rows"
    assert lines(work / "scores.errors.csv") == 1, "rows were refused"
    parts = [work / "parts" / f"part-{i:05d}.csv" for i in range(SHARDS)]
    assert sum(lines(part) - 1 for part in parts) == rows, "the shards do not cover the file"
    return f"{(work / 'scores.csv').stat().st_size / 1e6:,.0f} MB"


def section(runs: list[dict[str, Run]], rows: int, size_mb: float, output_size: str,
            info: dict[str, str], command: str, load: str) -> str:  # fmt: skip
    def median(name: str, field: str) -> float:
        return statistics.median(getattr(run[name], field) for run in runs)

    parsed = [json.loads(run["pandas"].stdout) for run in runs]
    parse = statistics.median(p["parse"] for p in parsed)
    parse_cpu = statistics.median(p["cpu"] for p in parsed)
    ratio, rss = median("ours", "wall") / parse, median("ours", "rss_mb")

    def line(what: str, name: str) -> str:
        wall, cpu = median(name, "wall"), median(name, "cpu")
        return (f"| {what} | {wall:.2f} | {cpu:.2f} | {median(name, 'rss_mb'):,.0f} | "
                f"{wall / parse:.2f}x | {cpu / parse_cpu:.2f}x |")  # fmt: skip

    table = [
        "| what | wall s | CPU s | peak RSS MB | wall vs `read_csv` | CPU vs `read_csv` |",
        "|---|---:|---:|---:|---:|---:|",
        f"| `pandas.read_csv(path)`: the call alone | {parse:.2f} | {parse_cpu:.2f} | | 1.00x "
        f"| 1.00x |",
        line("pandas: the whole process (import + `read_csv`)", "pandas"),
        line("`python -m predictor.batch`: the whole process", "ours"),
    ]
    table += [line(f"`--shards {SHARDS} --shard {i}`", f"shard {i}") for i in range(SHARDS)]
    verdict = lambda met: "yes" if met else "**no**"  # noqa: E731
    return "\n".join([
        HEADING, "",
        f"Measured by `{command}` on {info['date']}, commit {info['commit']}, "
        f"{info['cpu']} ({info['cores']} cores, shared; load average {load} at the start): "
        f"{rows:,} WDBC-like rows (an id, the 30 features, a date) in a {size_mb:,.0f} MB CSV, "
        f"read from the page cache; {len(runs)} alternating repeats, medians. Our processes "
        f"include their imports and the model load; every row was scored, none refused "
        f"(output {output_size}), and the 3 shards' parts held every row once.", "",
        *table, "",
        f"- Within {MAX_RATIO}x of `pandas.read_csv`'s parse time: {ratio:.2f}x, "
        f"{verdict(ratio <= MAX_RATIO)} (CPU time, which a busy machine disturbs less: "
        f"{median('ours', 'cpu') / parse_cpu:.2f}x).",
        f"- Peak RSS at most {MAX_RSS_MB} MB: {rss:,.0f} MB, {verdict(rss <= MAX_RSS_MB)}.",
        "- A shard parses its own third; the later shards also read the bytes before theirs "
        "once, to count rows and track quoting (`predictor/batch/split.py`).", "",
    ])  # fmt: skip


def section_bounds(text: str) -> tuple[int, int] | None:
    """Where this scenario's section is in a RESULTS.md text (start, end), if it is there."""
    if HEADING not in text:
        return None
    start = text.index(HEADING)
    following = text.find("\n## ", start + len(HEADING))
    return start, len(text) if following < 0 else following + 1


def current_section(path: Path) -> str | None:
    """This scenario's section as ``path`` holds it (``bench/report.py`` keeps it)."""
    text = path.read_text() if path.is_file() else ""
    bounds = section_bounds(text)
    return text[bounds[0] : bounds[1]].rstrip() if bounds else None


def write_section(path: Path, text: str) -> None:
    """Replace this scenario's section of ``path`` (or add it), leaving the others as they are."""
    current = path.read_text() if path.is_file() else ""
    if bounds := section_bounds(current):
        current = current[: bounds[0]] + current[bounds[1] :]
    at = current.find(BEFORE_HEADING)
    at = len(current) if at < 0 else at
    gap = "" if current[:at].endswith("\n\n") or not current[:at] else "\n"
    path.write_text(current[:at] + gap + text + "\n" + current[at:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats (>= 1)")
    parser.add_argument("--model_dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "bench-models")  # fmt: skip
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "RESULTS.md")
    args = parser.parse_args(argv)
    command = "uv run python bench/batch.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    from bench.batch_data import write_wdbc_csv  # numpy, Arrow: not for report.py's import

    ensure_model(args.model_dir)
    load = f"{os.getloadavg()[0]:.1f}"
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        work = Path(scratch)
        source = write_wdbc_csv(work / "cases.csv", args.rows)
        size_mb = source.stat().st_size / 1e6
        print(f"{args.rows:,} rows, {size_mb:,.0f} MB in {source}", flush=True)
        with source.open("rb") as handle:  # into the page cache, for every contender alike
            while handle.read(1 << 24):
                pass
        runs = [one_repeat(i, args.model_dir, source, work) for i in range(args.repeats)]
        output_size = check_outputs(work, args.rows)
    text = section(runs, args.rows, size_mb, output_size, info, command, load)
    write_section(args.output, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
