"""What the drift window costs a prediction: the fast lane's CPU per request, with and without.

    uv run python bench/drift_cost.py            # about a minute

Two fast lanes in one process serve the same one-instance V1 body from the same artifact;
one model has its drift window, the other has it switched off. They answer rounds of
requests in alternation (the order flips every round) and each round is timed in process
CPU time, which other processes on a shared machine barely move (unlike req/s through a
socket). Reported: median CPU per request of each, and the median of the per-round
differences with its quartiles. The window's folds (once a second) fall inside the rounds.
Only our Python path is measured (no HTTP parsing or socket I/O): add the difference to
``ours``' server CPU per request in ``bench/RESULTS.md`` to see its share.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.payloads import ensure_model, scenario_parser
from bench.process import MODEL_NAME, ROOT
from predictor.model import BreastCancerModel
from predictor.serving import eventloop, startup
from predictor.serving.fast_lane import FastLane

BODY = (ROOT / "examples" / "valid_request.json").read_bytes()
SCOPE = {
    "type": "http",
    "method": "POST",
    "path": f"/v1/models/{MODEL_NAME}:predict",
    "root_path": "",
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
}
# Requests between two turns of the event loop, as with a few connections.
TURN = 8


class OneModel:
    """The model registry as the lane reads it."""

    def __init__(self, model: BreastCancerModel):
        self.model = model

    def get_model(self, name: str) -> BreastCancerModel:
        return self.model


def lane(model_dir: Path, drift: bool) -> FastLane:
    model = BreastCancerModel(MODEL_NAME, model_dir)
    model.load()
    if model._drift is None:
        raise SystemExit(f"{model_dir} has no drift_reference.json: retrain it (delete it)")
    if not drift:
        model._drift = None
    return FastLane(None, OneModel(model))


async def receive() -> dict:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def send(message: dict) -> None:
    if message["type"] == "http.response.start" and message["status"] != 200:
        raise RuntimeError(f"status {message['status']}")


async def round_us(app: Any, requests: int) -> float:
    """Process CPU microseconds per request over ``requests`` requests."""
    started = time.process_time()
    for index in range(requests):
        await app(SCOPE, receive, send)
        if index % TURN == TURN - 1:
            await asyncio.sleep(0)
    return (time.process_time() - started) / requests * 1e6


async def measure(lanes: dict[str, FastLane], rounds: int, requests: int) -> dict[str, list]:
    times: dict[str, list[float]] = {name: [] for name in lanes}
    for index in range(rounds):
        for name in lanes if index % 2 else reversed(list(lanes)):
            times[name].append(await round_us(lanes[name], requests))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000, help="per round")
    args = parser.parse_args(argv)
    ensure_model(args.model_dir)
    lanes = {"without": lane(args.model_dir, drift=False), "with": lane(args.model_dir, True)}
    startup.end()  # the server's GC settings: a frozen start-up heap
    eventloop.use_event_loop("auto")  # uvloop, as the server runs
    times = asyncio.run(measure(lanes, args.rounds, args.requests))
    added = [w - o for w, o in zip(times["with"], times["without"], strict=True)]
    low, _, high = statistics.quantiles(added, n=4)
    for name, values in times.items():
        print(f"{name:>8} drift window: {statistics.median(values):6.2f} us CPU per request")
    print(
        f"added: {statistics.median(added):.2f} us per request (median of {args.rounds} paired "
        f"rounds of {args.requests}; quartiles {low:.2f} to {high:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
