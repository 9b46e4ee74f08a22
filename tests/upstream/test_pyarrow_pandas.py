"""The batch CLI's workaround for pyarrow importing pandas: still needed, and harmless."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT


def fresh_interpreter(code: str) -> str:
    """Run ``code`` in a new Python (nothing imported yet); return what it printed."""
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@pytest.mark.upstream
def test_pyarrow_still_imports_pandas_on_its_first_conversion() -> None:
    """When this fails, pyarrow stopped importing pandas: drop predictor/batch/arrow.py."""
    code = "import sys, pyarrow as pa; pa.array([1.5]); print('pandas' in sys.modules)"
    assert fresh_interpreter(code) == "True"


def test_after_the_workaround_arrow_converts_the_same_without_pandas() -> None:
    code = (
        "import sys, numpy as np, pyarrow as pa, pyarrow.compute as pc\n"
        "from predictor.batch.arrow import convert_without_pandas\n"
        "convert_without_pandas()\n"
        "print([pa.array(np.array([0.1, 2.5])).to_pylist(), pa.array(['a', None]).to_pylist(),\n"
        "       pc.cast(pa.array(['1e-3']), pa.float64()).to_numpy().tolist(),\n"
        "       'pandas' in sys.modules])\n"
        "import pandas\n"  # still importable by whoever wants it
        "print(pandas.DataFrame({'a': [1]}).shape)"
    )
    assert fresh_interpreter(code).splitlines() == ["[[0.1, 2.5], ['a', None], [0.001], False]",
                                                    "(1, 1)"]  # fmt: skip
