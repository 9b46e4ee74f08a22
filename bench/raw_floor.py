"""The raw floor: a bare ASGI app under uvicorn (uvloop + httptools) answering a constant.

No KServe, no FastAPI or Starlette, no model, no gRPC: it reads each request's body whole
and answers a constant JSON body shaped like our predictor's (V1 ``:predict``, V2
``/infer``), with the same readiness path. Whatever it reaches is the most a Python server
on uvicorn can do on this machine; ours against it is what the framework layers cost.

Run: ``python bench/raw_floor.py --http_port P`` (the other servers' flags are accepted and
ignored, so the benchmark starts it like them).
"""

from __future__ import annotations

import argparse
import json

import uvicorn

HOST = "127.0.0.1"
JSON_HEADERS = [(b"content-type", b"application/json")]


def answers(model_name: str) -> dict[tuple[str, str], bytes]:
    """(method, path) -> constant body, shaped like our predictor's answers."""
    v1 = {
        "predictions": [{"label": "benign", "probability_malignant": 0.5, "warnings": []}],
        "model_name": model_name,
        "model_version": "constant",
        "threshold": 0.5,
    }
    v2 = {
        "model_name": model_name,
        "model_version": "constant",
        "id": "constant",
        "parameters": {"threshold": 0.5},
        "outputs": [
            {"name": "probability_malignant", "shape": [1], "datatype": "FP64", "data": [0.5]},
            {"name": "label", "shape": [1], "datatype": "BYTES", "data": ["benign"]},
        ],
    }
    ready = {"name": model_name, "ready": True}
    bodies = {
        ("POST", f"/v1/models/{model_name}:predict"): v1,
        ("POST", f"/v2/models/{model_name}/infer"): v2,
        ("GET", f"/v1/models/{model_name}"): ready,
    }
    compact = {route: json.dumps(body, separators=(",", ":")) for route, body in bodies.items()}
    return {route: text.encode() for route, text in compact.items()}


def constant_app(model_name: str):
    """The ASGI callable: HTTP only (uvicorn runs with the lifespan protocol off)."""
    routes = answers(model_name)
    not_found = b'{"error":"not found"}'

    async def app(scope: dict, receive, send) -> None:
        more = True
        while more:  # read the whole body, as a real handler must
            message = await receive()
            more = message.get("more_body", False)
        body = routes.get((scope["method"], scope["path"]))
        status = 200 if body is not None else 404
        body = body if body is not None else not_found
        headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http_port", type=int, default=8080)
    parser.add_argument("--model_name", default="model")
    for ignored in ("--grpc_port", "--model_dir", "--workers"):
        parser.add_argument(ignored, help="ignored; accepted like the other servers")
    args = parser.parse_args(argv)
    uvicorn.run(
        constant_app(args.model_name),
        host=HOST,
        port=args.http_port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
