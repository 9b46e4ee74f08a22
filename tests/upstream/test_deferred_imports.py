"""The workaround for kserve's eager imports: still needed, effective, and transparent."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from predictor.serving.deferred_imports import DEFERRALS
from tests.support import ROOT

DEFERRED = [deferral.module for deferral in DEFERRALS]


def fresh_interpreter(code: str) -> str:
    """Run ``code`` in a new Python (nothing imported yet); return what it printed."""
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def loaded_after(setup: str) -> list[str]:
    code = f"import sys\n{setup}\nprint(sorted(m for m in {DEFERRED!r} if m in sys.modules))"
    return ast.literal_eval(fresh_interpreter(code))


@pytest.mark.upstream
def test_kserve_still_imports_them_eagerly() -> None:
    """When this fails, kserve stopped importing a module: drop it from DEFERRALS."""
    assert loaded_after("import kserve") == sorted(DEFERRED)


def test_import_kserve_defers_them_through_everything_the_server_imports() -> None:
    setup = (
        "from predictor.serving.deferred_imports import import_kserve\n"
        "import_kserve()\n"
        "import predictor.__main__  # every module the server imports"
    )
    assert loaded_after(setup) == []


@pytest.mark.parametrize(
    "check",
    [
        # kserve's DataFrame helpers get the real pandas on first use.
        "import pandas\n"
        "utils = sys.modules['kserve.utils.utils']\n"
        "frame = utils.get_predict_input({'instances': [{'a': [1], 'b': [2]}]})\n"
        "assert type(frame) is pandas.DataFrame and utils.pd.DataFrame is pandas.DataFrame\n"
        "assert utils.get_predict_response({'instances': []}, frame, 'm') == "
        "{'predictions': [{'a': 1, 'b': 2}]}",
        "from kserve import InferInput, InferRequest\n"
        "request = InferRequest('m', [InferInput('x', [2], 'FP64', data=[1.0, 2.0])])\n"
        "assert list(request.as_dataframe()['x']) == [1.0, 2.0]",
        # KServeClient's modules reach the real Kubernetes client and requests.
        "import kubernetes.client, requests\n"
        "client_module = sys.modules['kserve.api.kserve_client']\n"
        "assert client_module.client.V1ObjectMeta is kubernetes.client.V1ObjectMeta\n"
        "assert client_module.requests.get is requests.get\n"
        "watch = sys.modules['kserve.api.watch'].k8s_watch\n"
        "assert watch.Watch.__module__ == 'kubernetes.watch.watch'",
        # Afterwards sys.modules holds the real modules, never a stand-in.
        "import pandas, kubernetes\n"
        "from predictor.serving.deferred_imports import StandIn\n"
        "assert not isinstance(pandas, StandIn) and not isinstance(kubernetes, StandIn)\n"
        "assert pandas.DataFrame.__module__ == 'pandas.core.frame'",
    ],
    ids=["kserve DataFrame helpers", "as_dataframe", "KServeClient modules", "sys.modules"],
)
def test_deferred_modules_work_when_used(check: str) -> None:
    code = (
        "import sys\nfrom predictor.serving.deferred_imports import import_kserve\n"
        "import_kserve()\n"
    )
    fresh_interpreter(code + check + "\nprint('ok')")
