"""Arrow without pandas: a second of every run that buys nothing.

pyarrow looks for pandas the first time it converts Python or NumPy values (``pa.array``,
which the batch CLI uses for its output columns) and imports it when it is installed, as it is
here (KServe depends on it): about a second of CPU for every run, every shard, and the batch
CLI uses no pandas type. pyarrow looks only once and remembers what it found, so that first
look is made here with pandas out of sight. The canary ``tests/upstream/test_pyarrow_pandas.py``
says when pyarrow stops importing pandas this way, and this module can go.
"""

from __future__ import annotations

import sys

import pyarrow as pa


class _PandasOutOfSight:
    """A meta path finder that refuses pandas, for the length of pyarrow's one look."""

    @staticmethod
    def find_spec(name: str, path=None, target=None):
        if name == "pandas":
            raise ImportError("pandas is not used by the batch CLI")
        return None


def convert_without_pandas() -> None:
    """Make pyarrow's one look for pandas now, finding none (unless pandas is imported)."""
    if "pandas" in sys.modules:
        return  # already paid for: let pyarrow use it
    sys.meta_path.insert(0, _PandasOutOfSight)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(_PandasOutOfSight)
