"""The trained artifact and the request bodies every server gets."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.process import ROOT

DRIFT_FILE = "drift_reference.json"  # predictor.drift_reference's, without importing it
SHARED_MODEL_DIR = Path(tempfile.gettempdir()) / "bench-models"


def scenario_parser(doc: str | None) -> argparse.ArgumentParser:
    """A scenario script's command line: its docstring's first paragraph, and --model_dir
    (the artifact every scenario shares, trained by :func:`ensure_model` when missing)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--model_dir", type=Path, default=SHARED_MODEL_DIR,
                        help="the artifact (trained there when missing)")  # fmt: skip
    return parser


def ensure_model(model_dir: Path) -> None:
    """Train the artifact with the project's CLI unless a current one is already there (one
    without drift_reference.json would be served without the drift window, and measured
    cheaper than it is)."""
    latest = model_dir / "LATEST"
    if latest.is_file() and (model_dir / latest.read_text().strip() / DRIFT_FILE).is_file():
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
    """One JSON file per body (``v1_one``, ``v1_hundred``, ``v1_10k``, ``v2_one``), and the
    gRPC request's features (``grpc_features``), in ``directory``."""
    rows = training_rows(model_dir, 10_000)
    bodies = {
        "v1_one": {"instances": rows[:1]},
        "v1_hundred": {"instances": rows[:100]},
        "v1_10k": {"instances": rows},
        "v2_one": {
            "inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP64", "data": rows[0]}]
        },
        "grpc_features": rows[0],
    }
    paths = {}
    for key, body in bodies.items():
        paths[key] = directory / f"{key}.json"
        paths[key].write_text(json.dumps(body, separators=(",", ":")))
    return paths
