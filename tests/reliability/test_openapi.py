"""Schemathesis against the server's own OpenAPI document (FastAPI serves /openapi.json).

Schema-conforming (positive) and schema-violating (negative) requests for every documented
operation, with the model name in paths either pinned to ours (so bodies reach the model)
or generated. Asserted: no 5xx and every 4xx carries a JSON ``error`` string. Our 422 body
is ``{"error": ...}``, not the ``{"detail": [...]}`` FastAPI documents, so response-schema
conformance is deliberately not checked.

schemathesis' pytest integration (``from_fixture``/``parametrize``) breaks on pytest 9
(``Function._nodeid``), so its Hypothesis strategies are used directly.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support import MODEL_NAME, RunningServer


def case_strategy(base_url: str):
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return st.one_of(
        *(schema.as_strategy(mode) for mode in modes),
        *(schema.as_strategy(mode, path_parameters={"model_name": MODEL_NAME}) for mode in modes),
    )


def run_cases(server: RunningServer, examples: int, derandomize: bool) -> dict[int, int]:
    statuses: dict[int, int] = {}

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=case_strategy(server.base_url))
    def call(case) -> None:
        response = case.call(base_url=server.base_url, timeout=10)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, (where, response.text[:300])
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body, dict) and isinstance(body.get("error"), str), (where, body)

    call()
    ready = httpx.get(f"{server.base_url}/v1/models/{MODEL_NAME}", timeout=5)
    assert ready.status_code == 200
    return statuses


def test_documented_operations_never_answer_5xx(guarded_server: RunningServer) -> None:
    statuses = run_cases(guarded_server, examples=200, derandomize=True)
    assert 200 in statuses and any(400 <= s < 500 for s in statuses), statuses


@pytest.mark.slow
def test_documented_operations_thoroughly(guarded_server: RunningServer) -> None:
    run_cases(guarded_server, examples=3000, derandomize=False)
