"""``:explain`` and out-of-range warnings over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from predictor.loader import Artifact
from tests.support import MODEL_NAME, RunningServer, example_index, load_example, running_predictor
from training.__main__ import main as training_main

V1_EXAMPLES = [e for e in example_index() if e["protocol"] == "v1"]


def post(server: RunningServer, verb: str, body) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/models/{MODEL_NAME}:{verb}", json=body)


@pytest.mark.parametrize("example", V1_EXAMPLES, ids=[e["file"] for e in V1_EXAMPLES])
def test_explain_matches_predict_and_sums_to_the_log_odds(
    server: RunningServer, artifact: Artifact, pipeline, example: dict
) -> None:
    body = load_example(example["file"])
    predicted, explained = post(server, "predict", body), post(server, "explain", body)
    assert explained.status_code == predicted.status_code == example["status"]
    if example["status"] != 200:
        assert explained.json() == predicted.json()
        return
    features = np.array(
        [
            [i[n] for n in artifact.feature_names] if isinstance(i, dict) else i
            for i in body["instances"]
        ]
    )
    log_odds = pipeline.decision_function(features)
    for index, explanation in enumerate(explained.json()["explanations"]):
        contributions = [c["contribution"] for c in explanation["contributions"]]
        assert len(contributions) == len(artifact.feature_names)
        total = explanation["baseline_log_odds"] + sum(contributions)
        assert abs(total - log_odds[index]) <= 1e-9
        assert abs(explanation["log_odds"] - log_odds[index]) <= 1e-9
        magnitudes = [abs(c) for c in contributions]
        assert magnitudes == sorted(magnitudes, reverse=True)
        prediction = predicted.json()["predictions"][index]
        assert explanation["label"] == prediction["label"]
        assert explanation["probability_malignant"] == pytest.approx(
            prediction["probability_malignant"], abs=1e-12
        )


def metric_value(server: RunningServer, name: str, feature: str | None = None) -> float:
    selector = f'{name}{{feature="{feature}"}}' if feature else name
    for line in httpx.get(f"{server.base_url}/metrics").text.splitlines():
        if line.startswith(selector + " "):
            return float(line.split()[-1])
    return 0.0


def test_out_of_range_value_is_scored_flagged_and_counted(server: RunningServer) -> None:
    body = load_example("out_of_range_request.json")
    counter = "breast_cancer_out_of_range_values_total"
    before = metric_value(server, counter, "mean area")
    response = post(server, "predict", body)
    assert response.status_code == 200
    (warning,) = response.json()["predictions"][0]["warnings"]
    assert warning["feature"] == "mean area"
    assert warning["value"] == 5000.0
    assert warning["training_max"] < 5000.0
    assert metric_value(server, counter, "mean area") == before + 1
    in_range = post(server, "predict", load_example("valid_request.json")).json()
    assert in_range["predictions"][0]["warnings"] == []


def test_explain_is_501_for_a_non_linear_model(tmp_path: Path) -> None:
    output = tmp_path / "forest"
    assert (
        training_main(
            [
                "--output",
                str(output),
                "--classifier",
                "random_forest",
                "--cv-folds",
                "3",
                "--no-plots",
            ]
        )
        == 0
    )
    with running_predictor(output, tmp_path) as forest:
        assert post(forest, "predict", load_example("valid_request.json")).status_code == 200
        response = post(forest, "explain", load_example("valid_request.json"))
        log = forest.log()
    assert response.status_code == 501
    assert "explanations need a linear model" in response.json()["error"]
    # A documented 501 is the client asking for what this model does not offer: one line.
    assert (
        "WARNING kserve: rejected request (501) POST /v1/models/breast-cancer:explain: "
        "explanations need a linear model"
    ) in log
    assert "Traceback" not in log
