"""What the results ran on: machine, versions, commit (the head of RESULTS.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata

from bench.process import ROOT

PACKAGES = ("kserve", "numpy", "scikit-learn", "fastapi", "uvicorn", "orjson", "uvloop")


def machine_info() -> dict[str, str]:
    lscpu = _output("lscpu")
    model = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    commit = _output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = _output("git", "-C", str(ROOT), "status", "--porcelain", "--", "predictor", "bench")
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "wrk": _output("wrk", "--version").splitlines()[0] if shutil.which("wrk") else "absent",
        "commit": commit + (" + uncommitted changes in predictor/ or bench/" if dirty else ""),
    }


def _output(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(args, capture_output=True, text=True, timeout=10)
        return (done.stdout + done.stderr).strip()
    return "?"
