"""Batched observations: folded once per event-loop turn, at once off the loop, before a scrape."""

from __future__ import annotations

import asyncio
import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from predictor import batched_metrics
from predictor.batched_metrics import Batched, BatchedTogether


def histogram() -> tuple[Histogram, Batched]:
    metric = Histogram("t_seconds", "t", buckets=(0.01, 0.1, 1.0), registry=CollectorRegistry())
    return metric, Batched(metric)


def counts(metric: Histogram) -> dict[str, float]:
    samples = next(iter(metric.collect())).samples
    return {
        sample.labels.get("le", sample.name): sample.value
        for sample in samples
        if not sample.name.endswith("_created")
    }


def test_off_the_event_loop_a_value_is_folded_at_once() -> None:
    metric, batched = histogram()
    batched.observe(0.05)
    assert counts(metric)["0.1"] == 1
    assert counts(metric)["t_seconds_sum"] == 0.05


async def test_on_the_loop_values_wait_for_the_next_turn_then_count_exactly() -> None:
    metric, batched = histogram()
    for value in (0.005, 0.01, 0.05, 5.0, 0.5):
        batched.observe(value)
    assert counts(metric)["t_seconds_count"] == 0  # still noted, not folded
    await asyncio.sleep(0)  # one turn of the loop
    assert counts(metric) == {
        "0.01": 2.0,
        "0.1": 3.0,
        "1.0": 4.0,
        "+Inf": 5.0,
        "t_seconds_count": 5.0,
        "t_seconds_sum": math.fsum((0.005, 0.01, 0.05, 5.0, 0.5)),
    }


async def test_flush_folds_every_metric_noted_so_far() -> None:
    metric, batched = histogram()
    counter = Counter("t_total", "t", registry=CollectorRegistry())
    batched_counter = Batched(counter)
    batched.observe(0.2)
    batched_counter.inc(1)
    batched_counter.inc(1)
    batched_metrics.flush()
    assert counts(metric)["t_seconds_count"] == 1
    assert next(iter(counter.collect())).samples[0].value == 2


async def test_values_noted_after_a_fold_are_folded_in_a_later_turn() -> None:
    metric, batched = histogram()
    batched.observe(0.2)
    await asyncio.sleep(0)
    batched.observe(0.3)
    await asyncio.sleep(0)
    assert counts(metric)["t_seconds_count"] == 2


async def test_a_timed_count_adds_one_to_its_counter_per_value_it_times() -> None:
    metric, _ = histogram()
    counter = Counter("timed_total", "t", registry=CollectorRegistry())
    timed = Batched(metric, counter=counter)
    for seconds in (0.001, 0.2, 3.0):
        timed.observe(seconds)
    batched_metrics.flush()
    assert next(iter(counter.collect())).samples[0].value == 3
    assert counts(metric)["t_seconds_count"] == 3


async def test_metrics_noted_together_count_as_each_noted_alone() -> None:
    alone = [histogram() for _ in range(3)]
    together = [histogram() for _ in range(3)]
    group = BatchedTogether(*(batched for _, batched in together))
    rows = [(0.005, 0.05, 0.5), (0.2, float("nan"), 2.0), (0.01, 0.1, 1.0)]
    for row in rows:
        group.observe(row)
        for (_, batched), value in zip(alone, row, strict=True):
            batched.observe(value)
    together[0][1].observe(0.3)  # a metric of the group noted alone as well
    alone[0][1].observe(0.3)
    assert counts(together[0][0])["t_seconds_count"] == 0  # still noted, not folded
    await asyncio.sleep(0)
    for (expected, _), (metric, _) in zip(alone, together, strict=True):
        assert str(counts(metric)) == str(counts(expected))  # str: NaN sums compare equal


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
    # Creation timestamps differ between the two registries.
    return "\n".join(
        line for line in text.splitlines() if "_created" not in line and "_sum" not in line
    ).encode()


@pytest.mark.parametrize(
    "values", [VALUES, [v for v in VALUES if not math.isnan(v)]], ids=["a NaN", "no NaN"]
)
def test_a_fold_exposes_what_observing_each_value_would(values: list[float]) -> None:
    assert exposition(True, values) == exposition(False, values)
