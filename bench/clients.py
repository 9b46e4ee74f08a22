"""Load clients that wrk cannot be: gRPC at a fixed concurrency, and big-request latency.

Both print one JSON line on stdout and are bounded in request count and in time. ``run.py``
starts them pinned to the load core with ``taskset``; they only talk to 127.0.0.1.

    python bench/clients.py grpc --port G --model NAME --requests 4000 --concurrency 16
    python bench/clients.py latency --url URL --body FILE --requests 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

LOCALHOST = "127.0.0.1"
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (seconds in, seconds out)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(latencies: list[float], elapsed: float, failures: int, **extra) -> dict:
    return {
        "requests": len(latencies) + failures,
        "ok": len(latencies),
        "non_ok": failures,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
        "median_ms": statistics.median(latencies) * 1000 if latencies else None,
        **extra,
    }


async def grpc_load(
    port: int, model: str, features: list[float], requests: int, concurrency: int, limit: float
) -> dict:
    """``requests`` ModelInfer calls (1 instance each), ``concurrency`` in flight at a time."""
    import grpc

    pb = open_inference_protos()
    request = pb.ModelInferRequest(
        model_name=model,
        inputs=[
            pb.ModelInferRequest.InferInputTensor(
                name="features",
                datatype="FP64",
                shape=[1, len(features)],
                contents=pb.InferTensorContents(fp64_contents=features),
            )
        ],
    )
    latencies: list[float] = []
    failures = 0
    codes: dict[str, int] = {}
    deadline = time.monotonic() + limit
    async with grpc.aio.insecure_channel(f"{LOCALHOST}:{port}") as channel:
        infer = channel.unary_unary(
            MODEL_INFER,
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )
        for _ in range(20):  # warm-up, not counted
            await infer(request, timeout=10)
        remaining = requests

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0 and time.monotonic() < deadline:
                remaining -= 1
                started = time.perf_counter()
                try:
                    await infer(request, timeout=10)
                except grpc.aio.AioRpcError as error:
                    failures += 1
                    codes[error.code().name] = codes.get(error.code().name, 0) + 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return summary(latencies, elapsed, failures, codes=codes)


def open_inference_protos():
    """KServe's generated V2 protobuf module, without importing kserve (2 s of imports)."""
    import importlib.util
    from pathlib import Path

    package = importlib.util.find_spec("kserve")
    path = Path(package.origin).parent / "protocol" / "grpc" / "grpc_predict_v2_pb2.py"
    spec = importlib.util.spec_from_file_location("grpc_predict_v2_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def latency_probe(url: str, body_path: str, requests: int, warmup: int, limit: float) -> dict:
    """Sequential POSTs of one big body; the time to the last byte of each answer."""
    import httpx

    with open(body_path, "rb") as handle:
        body = handle.read()
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    failures = 0
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + limit
    with httpx.Client(timeout=60) as client:
        for index in range(warmup + requests):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            response.read()
            took = time.perf_counter() - started
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            if index < warmup:
                continue
            if 200 <= response.status_code < 300:
                latencies.append(took)
            else:
                failures += 1
    elapsed = sum(latencies)
    return summary(latencies, elapsed, failures, statuses=statuses, body_bytes=len(body))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    grpc_parser = sub.add_parser("grpc")
    grpc_parser.add_argument("--port", type=int, required=True)
    grpc_parser.add_argument("--model", required=True)
    grpc_parser.add_argument("--features", required=True, help="JSON list of floats")
    grpc_parser.add_argument("--requests", type=int, default=4000)
    grpc_parser.add_argument("--concurrency", type=int, default=16)
    grpc_parser.add_argument("--time_limit", type=float, default=30.0)
    latency_parser = sub.add_parser("latency")
    latency_parser.add_argument("--url", required=True)
    latency_parser.add_argument("--body", required=True)
    latency_parser.add_argument("--requests", type=int, default=15)
    latency_parser.add_argument("--warmup", type=int, default=2)
    latency_parser.add_argument("--time_limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.command == "grpc":
        result = asyncio.run(
            grpc_load(
                args.port,
                args.model,
                [float(v) for v in json.loads(args.features)],
                args.requests,
                args.concurrency,
                args.time_limit,
            )
        )
    else:
        if not args.url.startswith(f"http://{LOCALHOST}:"):
            parser.error("only http://127.0.0.1 targets are allowed")
        result = latency_probe(args.url, args.body, args.requests, args.warmup, args.time_limit)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
