"""What the predictor's second representations buy: one instance in Python floats, and the
V1 serialisers that skip a dict per prediction.

    uv run python bench/representations.py          # about 30 s

The predictor carries one instance as a list of floats (``ValidatedBatch``) and answers it
with ``OnePrediction.json``; several instances are a float64 matrix answered by ``v1_json``;
answers with out-of-range warnings are ``orjson.dumps(v1_body(...))``. Each shortcut gives
the same bytes as the general way (``tests/bench/test_model_fast_paths.py``). This script
times each path beside the general one it replaces, from the decoded JSON to the answer's
bytes, in one process: rounds of calls in alternation (the order flips every round), median
time per call of each and their ratio. Validation, scoring and serialisation only: a
request's HTTP work comes on top (``bench/RESULTS.md``: ours' server CPU per request).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.payloads import ensure_model, scenario_parser
from bench.process import MODEL_NAME, ROOT
from predictor.labels import PROBABILITY_OUTPUT as PROBABILITY
from predictor.loader import load_artifact
from predictor.responses import ORJSON_OPTIONS, AnswerContext, OnePrediction, v1_body, v1_json
from predictor.validation import FeatureValidator

ROUNDS = 15
CALLS = {1: 3000, 16: 1000, 1000: 30}


def paths(model_dir: Path, count: int) -> dict[str, Callable[[], bytes]]:
    """Each way of answering ``count`` instances from their decoded request."""
    artifact = load_artifact(model_dir)
    scorer = artifact.scorer
    context = AnswerContext(
        artifact.threshold, MODEL_NAME, artifact.version, artifact.prediction_sets
    )
    validator = FeatureValidator(artifact.feature_names, 10_000)
    rows = orjson.loads((ROOT / "examples" / "valid_batch_request.json").read_bytes())
    payload = {"instances": (rows["instances"] * count)[:count]}
    one = OnePrediction(context)

    def python_floats() -> bytes:
        return one.json(scorer.probability_of_one(validator.v1_features(payload)))

    def matrix_v1_json() -> bytes:
        probabilities = scorer.probability_malignant(validator.v1(payload))
        return v1_json(probabilities, context)

    def matrix_dicts() -> bytes:
        probabilities = scorer.probability_malignant(validator.v1(payload))
        body = v1_body(probabilities, context)
        return orjson.dumps(body, option=ORJSON_OPTIONS)

    assert matrix_v1_json() == matrix_dicts(), f"v1_json differs for {count} instances"
    found = {"matrix, v1_json": matrix_v1_json, "matrix, dict per prediction": matrix_dicts}
    if count == 1:
        # The same answer but for the last bit of the probability (fsum vs BLAS: scoring.py).
        ours, general = orjson.loads(python_floats()), orjson.loads(matrix_dicts())
        (mine,), (theirs,) = ours.pop("predictions"), general.pop("predictions")
        assert ours == general and abs(mine.pop(PROBABILITY) - theirs.pop(PROBABILITY)) < 1e-12
        assert mine == theirs
        found = {"Python floats, OnePrediction": python_floats, **found}
    return found


def per_call(fn: Callable[[], bytes], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1000


def measure(model_dir: Path, count: int, rounds: int) -> dict[str, float]:
    """Median microseconds per call of each path, over alternating rounds."""
    found = paths(model_dir, count)
    times: dict[str, list[float]] = {name: [] for name in found}
    for round_ in range(rounds):
        order = list(found) if round_ % 2 == 0 else list(reversed(found))
        for name in order:
            times[name].append(per_call(found[name], CALLS[count]))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = scenario_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating rounds")
    args = parser.parse_args()
    ensure_model(args.model_dir)
    print("| instances | path | median per call | vs the dict path |")
    print("|---|---|---|---|")
    for count in CALLS:
        medians = measure(args.model_dir, count, args.rounds)
        general = medians["matrix, dict per prediction"]
        for name, value in medians.items():
            print(f"| {count} | {name} | {value:.1f} us | {value / general:.2f}x |")


if __name__ == "__main__":
    main()
