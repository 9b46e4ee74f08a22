"""gRPC load with ghz (Go): ``ModelInfer`` calls at a fixed concurrency, every code counted.

Measured side by side here, ghz spends about 0.6x the CPU per call of the Python grpc.aio
client it replaced, so on its one core it stays further from saturation while the server
saturates its own; the report shows both shares for every measurement. (Its JSON report
lists every call; writing it after the load is counted in ghz's CPU too.)

ghz is built once from the Go module proxy with ``go install`` into ``bench/.tools/``
(git-ignored): about two minutes on 2 cores the first time, then cached. It needs only
the ``go`` command (``apt-get install -y golang-go``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

from google.protobuf import descriptor_pb2

from bench.loadgen import LoadResult, run_pinned
from bench.servers import BENCH_DIR, LOAD_CPUS

GHZ_PACKAGE = "github.com/bojand/ghz/cmd/ghz"
GHZ_VERSION = "v0.93.0"  # the newest the Go module proxy serves
TOOLS_DIR = BENCH_DIR / ".tools"
MODEL_INFER = "inference.GRPCInferenceService.ModelInfer"


def ghz_path() -> Path:
    return TOOLS_DIR / f"ghz-{GHZ_VERSION}" / "ghz"


def ensure_ghz() -> Path:
    """The cached ghz binary, built with ``go install`` if it is not there yet."""
    binary = ghz_path()
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go not found: apt-get install -y golang-go (ghz is built with it)")
    print(f"building ghz {GHZ_VERSION} into {binary.parent} (once) ...", flush=True)
    subprocess.run(
        [go, "install", f"{GHZ_PACKAGE}@{GHZ_VERSION}"],
        env={**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0"},
        check=True,
        capture_output=True,
        timeout=1200,
    )
    return binary


def inference_protos():
    """KServe's generated V2 protobuf module, without importing kserve (2 s of imports)."""
    package = importlib.util.find_spec("kserve")
    path = Path(package.origin).parent / "protocol" / "grpc" / "grpc_predict_v2_pb2.py"
    spec = importlib.util.spec_from_file_location("grpc_predict_v2_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_request(model: str, features: list[float], directory: Path) -> dict[str, Path]:
    """The service's descriptor (a protoset) and one serialised 1-instance request."""
    pb = inference_protos()
    descriptor = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    protoset = directory / "grpc_predict_v2.protoset"
    protoset.write_bytes(descriptor_pb2.FileDescriptorSet(file=[descriptor]).SerializeToString())
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="features",
        datatype="FP64",
        shape=[1, len(features)],
        contents=pb.InferTensorContents(fp64_contents=features),
    )
    request = directory / "grpc_request.bin"
    request.write_bytes(pb.ModelInferRequest(model_name=model, inputs=[tensor]).SerializeToString())
    return {"protoset": protoset, "request": request}


def run_ghz(
    target: str, files: dict[str, Path], concurrency: int, seconds: float, cpus: str = LOAD_CPUS
) -> LoadResult:
    """``seconds`` of calls, ``concurrency`` in flight on one HTTP/2 connection."""
    command = [
        str(ensure_ghz()), "--insecure", "--protoset", str(files["protoset"]),
        "--call", MODEL_INFER, "--binary-file", str(files["request"]),
        "--concurrency", str(concurrency), "--connections", "1", "--cpus", "1",
        "--duration", f"{max(1, round(seconds))}s", "--duration-stop", "wait",
        "--timeout", "10s", "--format", "json", target,
    ]  # fmt: skip
    done = run_pinned(command, seconds + 60, cpus)
    if done.returncode != 0:
        raise RuntimeError(f"ghz failed:\n{done.stderr[-2000:]}")
    return parse_ghz(json.loads(done.stdout), done.cpu_seconds, done.wall_seconds)


def parse_ghz(report: dict, cpu_seconds: float, wall_seconds: float) -> LoadResult:
    """ghz's JSON report (durations in ns) as a LoadResult; every non-OK code fails."""
    codes = report.get("statusCodeDistribution") or {}
    count, ok = int(report["count"]), int(codes.get("OK", 0))
    if not ok:
        raise RuntimeError(f"ghz: no call succeeded: {report.get('errorDistribution')}")
    percentiles = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"]}
    return LoadResult(
        rps=ok / (report["total"] / 1e9),
        p50_ms=percentiles.get(50),
        p99_ms=percentiles.get(99),
        requests=count,
        non2xx=count - ok,
        load_cpu_seconds=cpu_seconds,
        load_seconds=wall_seconds,
    )
