"""A big V1 prediction worked on a slice of instances at a time, yielding the loop in between.

The model's pipeline (``SynchronousModel.answer``) runs a request from validation to the
answer's bytes in one synchronous call: for 10,000 instances that holds the event loop for
several milliseconds, during which no other request (a single case, a readiness probe) is
served. :func:`answer_in_slices` does the same work in slices of ``size`` instances (validate
a slice, yield; serialise a slice, yield) and returns the same bytes:

* validation: each slice takes the validator's fast path (:meth:`FeatureValidator.matrix_of`);
  at the first slice that does not, the whole request goes through ``v1_features``, so a bad
  request gets exactly the 400 it gets in one go (the first problems, their instance indices);
* scoring, out-of-range warnings and the drift window: one call over the whole matrix
  (for the folded linear model 10,000 instances take about 0.5 ms), so every number is
  computed as in one go;
* the answer: each slice's predictions serialised apart and joined by commas, inside the
  same envelope (orjson formats each value on its own, so the bytes are the whole's).

KServe's stage histograms get the request's own time, not the time it spent yielded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from predictor.metrics import model_metrics
from predictor.responses import (
    ORJSON_OPTIONS,
    AnswerContext,
    v1_body,
    v1_json_around,
    v1_predictions_json,
)
from predictor.validation import INSTANCES_KEY

if TYPE_CHECKING:
    from predictor.model import BreastCancerModel


class Clock:
    """The request's own time: wall time less the time it spent yielded to other tasks."""

    __slots__ = ("started", "yielded")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.yielded = 0.0

    def spent(self) -> float:
        return time.perf_counter() - self.started - self.yielded

    async def pause(self) -> None:
        """Let every other ready task run once."""
        began = time.perf_counter()
        await asyncio.sleep(0)
        self.yielded += time.perf_counter() - began


async def answer_in_slices(model: BreastCancerModel, payload: Any, size: int) -> bytes | None:
    """The bytes ``model.answer(payload)`` returns for a V1 prediction of more than ``size``
    instances, worked on ``size`` at a time; None for any other request (answer it whole).

    Raises:
        InvalidInput: as ``model.answer`` raises it.
    """
    instances = payload.get(INSTANCES_KEY) if type(payload) is dict else None
    if type(instances) is not list or not 0 < size < len(instances):
        return None
    return await worked_in_slices(
        model,
        len(instances),
        lambda clock: _validated(model, payload, instances, size, clock),
        lambda probabilities, warnings, clock: _serialised(
            model.answer_context, probabilities, warnings, size, clock
        ),
    )


async def worked_in_slices(
    model: BreastCancerModel,
    count: int,
    validated: Callable[[Clock], Awaitable[np.ndarray]],
    serialised: Callable[[np.ndarray, list[list[dict]] | None, Clock], Awaitable[bytes]],
) -> bytes:
    """A request of ``count`` instances: ``validated`` (timed as KServe's preprocess stage),
    then scored in one call and ``serialised`` (its predict stage), as ``model.answer`` does
    in one go; each of the two yields between its slices."""
    stages = model_metrics(model.name)
    clock = Clock()
    try:
        model.validator.check_count(count)
        features = await validated(clock)
    except BaseException:
        stages.stages["preprocess"].observe(clock.spent())
        raise
    preprocess = clock.spent()
    stages.instances.observe(count)
    clock = Clock()
    try:
        probabilities, warnings = model.score(features)
        body = await serialised(probabilities, warnings, clock)
    except BaseException:
        stages.stages["preprocess"].observe(preprocess)
        stages.stages["predict"].observe(clock.spent())
        raise
    stages.stage_notes["predict"].observe((preprocess, clock.spent(), 0.0))
    return body


async def _validated(
    model: BreastCancerModel, payload: dict, instances: list, size: int, clock: Clock
) -> np.ndarray:
    validator = model.validator
    parts = []
    for start in range(0, len(instances), size):
        part = validator.matrix_of(instances[start : start + size])
        if part is None:  # a problem to name, or mixed kinds: the whole request, as in one go
            return validator.v1(payload)
        parts.append(part)
        await clock.pause()
    return np.concatenate(parts)


async def _serialised(
    context: AnswerContext,
    probabilities: np.ndarray,
    warnings: list[list[dict]] | None,
    size: int,
    clock: Clock,
) -> bytes:
    pieces = []
    for start in range(0, len(probabilities), size):
        part = probabilities[start : start + size]
        if warnings is None:
            pieces.append(v1_predictions_json(part, context))
        else:
            body = v1_body(part, context, warnings[start : start + size])
            pieces.append(orjson.dumps(body["predictions"], option=ORJSON_OPTIONS)[1:-1])
        await clock.pause()
    return v1_json_around(b",".join(pieces), context)
