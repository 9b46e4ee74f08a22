"""The route table: every path shape the layers tell apart, classified once, in one place."""

from __future__ import annotations

import pytest

from predictor.serving.routes import ENDPOINTS, route_of, v1_path, v2_path

READINESS = ["/v1/models/breast-cancer", "/v2/health/ready", "/v2/models/m/ready",
             "/v2/models/m/versions/3/ready"]  # fmt: skip
NOT_READINESS = ["/v1/models/m:predict", "/v2/health/live", "/v2/models/m", "/metrics",
                 "/v1/models", "/v1/models/a/b"]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v1/models/breast-cancer:predict", "predict"),
        ("/v1/models/other-model:explain", "explain"),
        ("/v1/models/breast-cancer:feedback", "feedback"),
        ("/v2/models/breast-cancer/infer", "infer"),
        ("/v2/models/breast-cancer/versions/7/infer", "infer"),
        ("/v1/models/breast-cancer", "other"),
        ("/v1/models/breast-cancer:unknown", "other"),
        ("/v2/health/ready", "other"),
        ("/metrics", "other"),
        ("/predict", "other"),
    ],
)
def test_paths_map_to_a_fixed_set_of_endpoints(path: str, endpoint: str) -> None:
    assert route_of(path).endpoint == endpoint
    assert endpoint in ENDPOINTS


@pytest.mark.parametrize("path", READINESS)
def test_readiness_probes_are_known(path: str) -> None:
    assert route_of(path).readiness


@pytest.mark.parametrize("path", NOT_READINESS)
def test_other_paths_are_not_readiness_probes(path: str) -> None:
    assert not route_of(path).readiness


def test_model_names_and_versions_are_read_from_the_path() -> None:
    route = route_of("/v2/models/breast-cancer/versions/7/infer")
    assert (route.protocol, route.verb, route.model, route.version) == (
        "v2", "infer", "breast-cancer", "7"
    )  # fmt: skip
    assert route_of("/v1/models/a:predict").model == "a"
    assert route_of("/v1/models/a/b:predict").model is None  # not KServe's route shape


def test_the_helpers_build_the_paths_the_table_reads() -> None:
    assert route_of(v1_path("m", "predict")).verb == "predict"
    assert route_of(v1_path("m")).readiness
    assert route_of(v2_path("m", "infer")).scores
