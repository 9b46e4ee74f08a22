"""k8s/monitoring.py, the traffic and queries of k8s/e2e.sh's monitoring checks, off the cluster:
its cases against the real predictor, its dashboard queries parsed."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import promql_parser
import pytest

from tests.chart.conftest import ROOT
from tests.chart.promql import dashboard, dashboard_queries
from tests.support import RunningServer

spec = importlib.util.spec_from_file_location("e2e_monitoring", ROOT / "k8s" / "monitoring.py")
assert spec and spec.loader
monitoring = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = monitoring
spec.loader.exec_module(monitoring)


def test_every_panel_query_is_run_with_its_variables_replaced() -> None:
    queries = monitoring.dashboard_queries("breast-cancer-e2e", "breast-cancer", "1m")
    panels = [where for where, _ in dashboard_queries(dashboard()) if where.startswith("panel")]
    assert len(queries) == len(panels)
    for where, expr in queries:
        assert "$" not in expr, where
        promql_parser.parse(expr)
        assert 'namespace="breast-cancer-e2e", pod=~"breast-cancer-predictor-.+"' in expr, where


def test_shifted_cases_scale_exactly_the_three_area_features() -> None:
    plain, outcomes = monitoring.wdbc_cases(1500, 1.0, seed=3)
    shifted, same_outcomes = monitoring.wdbc_cases(1500, 1.6, seed=3)
    names = [str(n) for n in monitoring.load_breast_cancer().feature_names]
    areas = [names.index(name) for name in monitoring.AREA_FEATURES]
    assert areas and outcomes == same_outcomes and set(outcomes) == {"malignant", "benign"}
    np.testing.assert_allclose(shifted[:, areas], plain[:, areas] * 1.6)
    others = [i for i in range(len(names)) if i not in areas]
    np.testing.assert_array_equal(shifted[:, others], plain[:, others])


@pytest.mark.parametrize("url", ["http://10.244.0.7:8080/v1/models/m", "http://example.com/x"])
def test_only_loopback_addresses_are_sent_to(url: str) -> None:
    with pytest.raises(SystemExit, match="only loopback"):
        monitoring.loopback(url)


def test_cases_are_scored_by_the_real_predictor(server: RunningServer, capsys) -> None:
    url = f"{server.base_url}/v1/models/breast-cancer"
    assert monitoring.main(["cases", url, "--rows", "250", "--seed", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["statuses"] == {"predict 200": 3}
    assert sum(summary["labels"].values()) == 250
