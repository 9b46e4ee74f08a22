"""bench/json_depth.py (proposed for predictor/limits.py) answers exactly like the original."""

from __future__ import annotations

import importlib.util
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from predictor import limits
from tests.support import ROOT

_spec = importlib.util.spec_from_file_location("bench_json_depth", ROOT / "bench" / "json_depth.py")
proposal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proposal)

STRUCTURAL = st.sampled_from(list(b'[]{}"\\'))
FILLER = st.sampled_from(list(b"a1,: .e-\n"))


@settings(max_examples=2000, deadline=None)
@given(
    body=st.lists(st.one_of(STRUCTURAL, FILLER), max_size=200).map(bytes),
    stop_above=st.integers(min_value=0, max_value=40),
)
def test_same_depth_as_limits_json_depth_for_any_bytes(body: bytes, stop_above: int) -> None:
    assert proposal.json_depth(body, stop_above) == limits.json_depth(body, stop_above)


@settings(max_examples=300, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=60,
    ),
    stop_above=st.integers(min_value=0, max_value=8),
)
def test_same_depth_for_json_documents(document, stop_above: int) -> None:
    body = json.dumps(document).encode()
    assert proposal.json_depth(body, stop_above) == limits.json_depth(body, stop_above)


def test_a_v1_batch_body() -> None:
    body = json.dumps({"instances": [[1.5] * 30] * 100}).encode()
    assert proposal.json_depth(body, 32) == limits.json_depth(body, 32) == 3
