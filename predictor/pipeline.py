"""KServe's ``Model.__call__`` pipeline run synchronously: one implementation for every caller.

KServe's endpoint reaches a model through ``Model.__call__``, which looks up its Prometheus
histogram children and inspects every handler for a coroutine on each request. A model whose
handlers are plain functions can run the same stages in one synchronous call,
:meth:`SynchronousModel.answer`; ``__call__`` delegates to it, and so does the serving
room's fast lane, so both paths share one implementation.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import orjson
from cloudevents.sdk.converters.util import has_binary_headers
from kserve import Model
from kserve.logging import trace_logger
from kserve.model import InferenceVerb

from predictor.metrics import model_metrics
from predictor.responses import ORJSON_OPTIONS

JSON_CONTENT_TYPE = "application/json"
CLOUDEVENT_JSON = "application/cloudevents+json"
HANDLERS = ("preprocess", "predict", "explain")


class SynchronousModel(Model):
    """A ``kserve.Model`` whose request pipeline is :meth:`answer` when its handlers allow."""

    def __init__(self, name: str):
        super().__init__(name)
        self._sync_handlers = type(self).postprocess is Model.postprocess and not any(
            inspect.iscoroutinefunction(getattr(self, handler)) for handler in HANDLERS
        )

    @property
    def answers_synchronously(self) -> bool:
        """True when :meth:`answer` is the whole pipeline: synchronous handlers, KServe's
        own ``postprocess``, no response headers asked of ``predict``."""
        return self._sync_handlers and not self.required_response_headers

    def predict_json(self, payload: Any) -> bytes | None:
        """A V1 prediction already serialised, or None to have ``predict`` called.

        Override to skip building the dict ``predict`` would return: the bytes must be what
        fastapi's ORJSONResponse renders from that dict.
        """
        return None

    async def __call__(
        self,
        body: Any,
        headers: dict[str, str] | None = None,
        verb: InferenceVerb = InferenceVerb.PREDICT,
    ) -> tuple[Any, dict[str, str]]:
        """KServe's entry point: :meth:`answer`, or KServe's own pipeline when it cannot be."""
        if not self.answers_synchronously:
            return await super().__call__(body, headers, verb)
        return self.answer(body, headers, verb)

    def answer(
        self,
        body: Any,
        headers: dict[str, str] | None = None,
        verb: InferenceVerb = InferenceVerb.PREDICT,
        cloudevent: bool | None = None,
    ) -> tuple[Any, dict[str, str]]:
        """``kserve.Model.__call__``'s stages, histograms and trace line, synchronously.

        ``preprocess``, ``validate``, then ``predict`` (or :meth:`predict_json`) or
        ``explain``, each stage observed in KServe's histogram even when it fails; KServe's
        default ``postprocess`` returns its input, so it is timed but not called.

        Args:
            cloudevent: whether KServe answers this request with a CloudEvent; None to tell
                from ``headers`` (the fast lane passes False: it leaves those to KServe).

        Returns:
            The response and its headers. A V1 prediction comes serialised with its content
            type (the bytes ORJSONResponse would render); a cloudevent request keeps its dict
            (KServe wraps it), a V2 request its InferResponse.
        """
        if cloudevent is None:
            cloudevent = is_cloudevent(headers)
        metrics = model_metrics(self.name)  # this process's, resolved once
        histograms = metrics.stages
        clock = time.perf_counter
        start = clock()
        try:
            payload = self.preprocess(body, headers)
        except BaseException:
            histograms["preprocess"].observe(clock() - start)
            raise
        preprocessed = clock()
        try:
            payload = self.validate(payload)
            if verb is InferenceVerb.PREDICT:
                stage = "predict"
            elif verb is InferenceVerb.EXPLAIN:
                stage = "explain"
            else:
                raise NotImplementedError
        except BaseException:
            histograms["preprocess"].observe(preprocessed - start)
            raise
        middle = clock()
        try:
            if stage == "explain":
                response = self.explain(payload, headers)
            else:
                response = None if cloudevent else self.predict_json(payload)
                if response is None:
                    response = self.predict(payload, headers)
        except BaseException:
            histograms["preprocess"].observe(preprocessed - start)
            histograms[stage].observe(clock() - middle)
            raise
        end = clock()
        finish = clock()  # KServe's postprocess would run here
        # The three stages in one note: the same observations, one append.
        metrics.stage_notes[stage].observe((preprocessed - start, end - middle, finish - end))
        if self.enable_latency_logging is True:
            _log_latency(headers, stage, preprocessed - start, end - middle, finish - end)
        if stage == "predict" and not cloudevent:
            if type(response) is dict:
                response = orjson.dumps(response, option=ORJSON_OPTIONS)
            if type(response) is bytes:
                return response, {"content-type": JSON_CONTENT_TYPE}
        return response, {}


def is_cloudevent(headers: dict[str, str] | None) -> bool:
    """Requests KServe answers with a cloudevent: their response must stay a dict."""
    if not headers:
        return False
    return has_binary_headers(headers) or headers.get("content-type", "") == CLOUDEVENT_JSON


def _log_latency(
    headers: dict[str, str] | None, stage: str, pre: float, middle: float, post: float
) -> None:
    """KServe's latency trace line, word for word."""
    request_id = headers.get("x-request-id", "N.A.") if headers else "N.A."
    stage_ms = round(middle * 1000, 9)
    trace_logger.info(
        f"requestId: {request_id}, preprocess_ms: {round(pre * 1000, 9)}, "
        f"explain_ms: {stage_ms if stage == 'explain' else 0}, "
        f"predict_ms: {stage_ms if stage == 'predict' else 0}, "
        f"postprocess_ms: {round(post * 1000, 9)}"
    )
