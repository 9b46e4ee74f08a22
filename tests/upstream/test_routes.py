"""Canaries for ``predictor/serving/refusals.py`` and the chart's readiness probe."""

from __future__ import annotations

import httpx
import pytest

from tests.support import RunningServer

pytestmark = pytest.mark.upstream


def test_model_versions_are_a_501(stock: RunningServer) -> None:
    """Workaround: ``RefusedRoutesMiddleware`` answers versioned paths with a clear 404.

    When this fails, KServe serves or refuses versions itself: drop ``VERSIONED_PATHS``.
    """
    response = httpx.get(f"{stock.base_url}/v2/models/breast-cancer/versions/1/ready")
    assert response.status_code == 501


def test_any_caller_can_unload_the_model_and_health_ready_stays_true(
    fresh_stock: RunningServer,
) -> None:
    """Workarounds: the repository routes answer 404 unless ``--enable_model_repository_api``
    (refusals.py), and readiness is probed on ``GET /v1/models/<name>`` (the chart's
    ``readinessProbe``, the README), never on ``/v2/health/ready``.

    When the unload route needs opting in, the refusal in refusals.py can go; when
    ``/v2/health/ready`` says false without a model, it becomes a valid readiness probe.
    """
    base = fresh_stock.base_url
    unloaded = httpx.post(f"{base}/v2/repository/models/breast-cancer/unload")
    assert unloaded.status_code == 200
    assert httpx.get(f"{base}/v1/models/breast-cancer").status_code == 404
    health = httpx.get(f"{base}/v2/health/ready")
    assert (health.status_code, health.json()) == (200, {"ready": True})


def test_get_on_predict_is_a_404_saying_the_model_does_not_exist(stock: RunningServer) -> None:
    """Workaround: ``RefusedRoutesMiddleware`` answers 405 with ``Allow: POST``.

    KServe's ``GET /v1/models/{name}`` route takes ``breast-cancer:predict`` for a model name.
    When this fails, KServe answers the wrong method itself: drop ``V1_VERBS``.
    """
    response = httpx.get(f"{stock.base_url}/v1/models/breast-cancer:predict")
    assert response.status_code == 404
    assert response.json()["error"] == "Model with name breast-cancer:predict does not exist."
