"""The servers the benchmark compares, and where each runs: pinned to CPU 0, load on CPU 1.

Every server takes the same flags (``--model_dir``, ``--model_name``, the two ports and
``--workers``), loads the same trained artifact (or none, for the two floors) and answers
under the same model name; ``bench/process.py`` starts it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bench.process import MODEL_NAME, RunningServer, predictor_command, start_server

BENCH_DIR = Path(__file__).resolve().parent
SERVER_CPUS = "0"
LOAD_CPUS = "1"
BOTH_CPUS = "0,1"  # the 1-vs-2-workers phase: server and wrk share both cores
# SIGTERM grace before the group is killed: shutdown is not measured, and our predictor
# would otherwise drain for seconds after each measurement.
STOP_GRACE_SECONDS = 1.5


@dataclass(frozen=True)
class Server:
    """One compared server: what it is (for RESULTS.md) and how it is run."""

    name: str
    description: str
    script: str  # a file in bench/, or "" for ``python -m predictor``
    grpc: bool = True  # serves the V2 gRPC scenario
    ours: bool = False  # our predictor: gets the targets and the workers phase

    def command(self, model_dir: Path) -> list[str]:
        if not self.script:
            return predictor_command(model_dir)
        return [sys.executable, str(BENCH_DIR / self.script), "--model_dir", str(model_dir)]


SERVERS = {
    server.name: server
    for server in (
        Server(
            "baseline",
            "plain KServe Model (np.asarray + predict_proba, ModelServer defaults)",
            "baseline_model.py",
        ),
        Server(
            "floor",
            "KServe floor (predict returns a constant, logging quiet)",
            "constant_model.py",
        ),
        Server(
            "raw-floor",
            "bare ASGI app under uvicorn (uvloop + httptools) that reads the body and answers "
            "a constant V1/V2-shaped JSON; no KServe, no FastAPI, no gRPC",
            "raw_floor.py",
            grpc=False,
        ),
        Server(
            "ours",
            "our predictor as it is in the tree (`python -m predictor`)",
            "",
            ours=True,
        ),
    )
}


def ours(names: list[str]) -> list[str]:
    """The names in ``names`` that are our predictor."""
    return [name for name in names if SERVERS[name].ours]


def start(
    name: str, model_dir: Path, log_dir: Path, cpus: str = SERVER_CPUS, workers: int = 1
) -> RunningServer:
    """Start one compared server pinned to ``cpus``; ``ready_seconds`` is its cold start."""
    command = [*SERVERS[name].command(model_dir), "--model_name", MODEL_NAME]
    if workers > 1:
        command += ["--workers", str(workers)]
    return start_server(command, log_dir, name=name, cpus=cpus)
