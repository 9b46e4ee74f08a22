"""Bounded admission: how many instances this process works on at once, over every request.

One :class:`InstanceBudget` per process (``--max_inflight_instances``), held by the data
plane, so that every way in takes from the same budget: the fast lane (V1 and V2 JSON),
KServe's REST routes and gRPC (both through the data plane's ``infer`` and ``explain``). A
request that would take the instances in flight past the budget is refused before any work
is done on it: ``Overloaded``, answered 503 with ``Retry-After`` (gRPC: RESOURCE_EXHAUSTED)
and counted in ``breast_cancer_requests_refused_total{reason="overloaded"}``.

A request is always admitted when nothing else is in flight, however many instances it
holds (up to ``--max_instances``, which the model checks): otherwise a valid request larger
than the budget could never be served. Readiness is not touched: a busy pod is not an
unready one, and a refused request can go to another pod or come back in a second.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import orjson
from kserve.protocol.infer_type import InferRequest

from predictor.metrics import refusals
from predictor.serving.limits import RETRY_AFTER_HEADER, RETRY_AFTER_SECONDS
from predictor.serving.rejection import error_response
from predictor.validation import INSTANCES_KEY

OVERLOADED = "overloaded"


class Overloaded(Exception):
    """Admitting the request would take the instances in flight past the budget."""

    def __init__(self, count: int, in_flight: int, limit: int):
        super().__init__(
            f"the server is working on {in_flight} instances; this request's {count} would "
            f"take it past its budget of {limit} (server flag --max_inflight_instances); "
            f"retry in {RETRY_AFTER_SECONDS} s or send fewer instances per request"
        )
        self.count = count


class InstanceBudget:
    """Instances admitted and not yet answered, against ``limit`` (one event loop's)."""

    __slots__ = ("in_flight", "limit")

    def __init__(self, limit: int):
        self.limit = limit
        self.in_flight = 0

    @classmethod
    def unlimited(cls) -> InstanceBudget:
        """A budget nothing goes past (a data plane built without the settings')."""
        return cls(sys.maxsize)

    def take(self, count: int) -> None:
        """Admit ``count`` instances, or raise ``Overloaded`` (counted) without taking any."""
        in_flight = self.in_flight
        if in_flight and in_flight + count > self.limit:
            refusals(OVERLOADED).inc()
            raise Overloaded(count, in_flight, self.limit)
        self.in_flight = in_flight + count

    def give_back(self, count: int) -> None:
        self.in_flight -= count

    @contextlib.contextmanager
    def held(self, count: int) -> Iterator[None]:
        """``count`` instances taken for the block (raises ``Overloaded`` on entry)."""
        self.take(count)
        try:
            yield
        finally:
            self.give_back(count)


def instances_in(payload: Any) -> int:
    """How many instances a decoded request asks to be worked on (0 when it cannot say: the
    model refuses such a request with its own 400).

    V1: the length of ``instances`` (a body left as bytes by its content type is parsed for
    it); V2 REST and gRPC: the first dimension of the first input tensor.
    """
    if type(payload) is dict:  # first: the usual request
        instances = payload.get(INSTANCES_KEY)
        return len(instances) if type(instances) is list else 0
    if isinstance(payload, InferRequest):
        if not payload.inputs or not payload.inputs[0].shape:
            return 0
        first = payload.inputs[0].shape[0]
        return first if type(first) is int and first > 0 else 0
    if isinstance(payload, bytes | bytearray | memoryview | str):
        try:
            decoded = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return 0
        return instances_in(decoded) if type(decoded) is dict else 0
    return 0


async def overloaded_handler(_request: Any, error: Overloaded) -> Any:
    """FastAPI's answer to ``Overloaded`` raised on KServe's routes: 503 with Retry-After."""
    name, value = RETRY_AFTER_HEADER
    return error_response(503, str(error), {name.decode(): value.decode()})
