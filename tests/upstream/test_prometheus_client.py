"""Canary for ``predictor/batched_metrics.py``: prometheus_client observes one value a call.

The batched fold writes a histogram child's ``_buckets`` and ``_sum`` as ``observe`` does.
When these fail, prometheus_client has changed those internals (or gained a way to add many
observations at once): the fold must follow, or go.
"""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from predictor.batched_metrics import Batched

pytestmark = pytest.mark.upstream

BUCKETS = (0.001, 0.01, 0.1, 1.0)
# On, between, below and beyond the bounds, a NaN (summed, counted in no bucket), a zero.
VALUES = [0.001, 0.0005, 0.01, 0.05, 0.1, 1.0, 3.0, 0.0, math.nan, 0.25, 0.001]


def test_histograms_add_one_observation_per_call_with_the_attributes_the_fold_writes() -> None:
    assert not any(hasattr(Histogram, name) for name in ("observe_many", "observe_batch"))
    child = Histogram("canary_seconds", "x", ["model"], registry=None).labels(model="m")
    assert list(child._upper_bounds) == list(Histogram.DEFAULT_BUCKETS)
    assert len(child._buckets) == len(child._upper_bounds)
    child._sum.inc(0.5)
    child._buckets[0].inc(2)
    assert child._sum.get() == 0.5
    assert child._buckets[0].get() == 2


def exposition(batched: bool, values: list[float]) -> bytes:
    registry = CollectorRegistry()
    histogram = Histogram("h_seconds", "h", ["model"], buckets=BUCKETS, registry=registry)
    counter = Counter("c", "c", ["kind"], registry=registry)
    h, c = histogram.labels(model="m"), counter.labels(kind="k")
    if batched:
        bh, bc = Batched(h), Batched(c)
        for value in values:
            bh.observe(value)
            bc.inc(1)
        bh.fold()
        bc.fold()
    else:
        for value in values:
            h.observe(value)
            c.inc()
    text = generate_latest(registry).decode()
    # Creation timestamps differ between the two registries; sums compare to 1e-12 below.
    return "\n".join(
        line for line in text.splitlines() if "_created" not in line and "_sum" not in line
    ).encode()


@pytest.mark.parametrize(
    "values", [VALUES, [v for v in VALUES if not math.isnan(v)]], ids=["a NaN", "no NaN"]
)
def test_a_fold_exposes_what_observing_each_value_would(values: list[float]) -> None:
    assert exposition(True, values) == exposition(False, values)
