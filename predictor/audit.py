"""What an answered request gave away, for the audit trail: instances, labels, model version.

The serving room opens an :class:`Answered` record for each authenticated inference request
(:func:`recording`) and writes it to the audit log once the answer is sent; the model notes
into it what it decided (:func:`note_scores`, :func:`note_labels`), the server the status it
answered with (:func:`note_status`). Outside such a request (authentication off, the batch
CLI) there is no record and noting costs one context-variable lookup. The record is one
mutable object shared by reference, so a copy of the context (a task or thread a framework
starts for the request) notes into the same record.

Never the features, nor the probabilities: the labels and their counts are what the caller
learnt, and enough to account for it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass, field

from predictor.artifact import NEGATIVE_LABEL, POSITIVE_LABEL
from predictor.labels import Probabilities, decide_labels


@dataclass(slots=True)
class Answered:
    """The model's part of one audit line."""

    model_version: str | None = None
    status: int = 0  # the HTTP status answered (0: none was sent)
    instances: int = 0
    labels: dict[str, int] = field(default_factory=dict)


_answered: contextvars.ContextVar[Answered | None] = contextvars.ContextVar(
    "answered", default=None
)


def recording() -> Answered:
    """Open a record for the request this task answers; the model notes into it."""
    record = Answered()
    _answered.set(record)
    return record


def note_status(status: int) -> None:
    """The HTTP status the request was answered with, if it is audited."""
    record = _answered.get()
    if record is not None:
        record.status = status


def note_labels(model_version: str, labels: Iterable[str]) -> None:
    """The labels the answer carries (one per instance), if the request is audited."""
    record = _answered.get()
    if record is None:
        return
    record.model_version = model_version
    counts = record.labels
    for label in labels:
        record.instances += 1
        counts[label] = counts.get(label, 0) + 1


def note_scores(model_version: str, probabilities: Probabilities, threshold: float) -> None:
    """The labels of these probabilities at the threshold (computed only when audited)."""
    record = _answered.get()
    if record is None:
        return
    if len(probabilities) != 1:
        note_labels(model_version, decide_labels(probabilities, threshold))
        return
    # One instance, the usual request: no list of labels to build.
    label = POSITIVE_LABEL if probabilities[0] >= threshold else NEGATIVE_LABEL
    record.model_version = model_version
    record.instances += 1
    record.labels[label] = record.labels.get(label, 0) + 1
