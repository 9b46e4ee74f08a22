"""The audit trail: one JSON line per answered or refused request of an authenticated server.

Written on the ``predictor.audit`` logger, which prints each line bare (no timestamp prefix)
on stdout, where a cluster's log pipeline collects container output; every line is one JSON
object (format in charts/breast-cancer/README.md, "Audit trail"):

* ``"event": "answered"``: an inference request (V1 ``:predict``/``:explain``/``:feedback``,
  V2 ``infer``, gRPC ``ModelInfer``) that got past authentication, whatever its status:
  who asked (``subject``), what (``route``, ``model``, ``model_version``), ``request_id``,
  how many ``instances`` were answered and the ``labels`` returned, counted per label;
* ``"event": "refused"``: a request refused for its credentials (401/403, or gRPC
  UNAUTHENTICATED / PERMISSION_DENIED), with the ``reason``.

``status`` is the HTTP status; a gRPC call has ``grpc_status`` (the code's name) instead.
Never a feature value, a probability or the token.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from predictor.audit import Answered

AUDIT_LOGGER = "predictor.audit"
# A client's x-request-id is kept up to this many characters.
LONGEST_REQUEST_ID = 128

logger = logging.getLogger(AUDIT_LOGGER)


def request_id(given: str | bytes | None) -> str:
    """The client's ``x-request-id``, or a new one."""
    if not given:
        return uuid.uuid4().hex
    if isinstance(given, bytes):
        given = given.decode("latin-1")
    return given[:LONGEST_REQUEST_ID]


def answered(
    status: dict[str, Any], subject: str, route: str, model: str | None, request: str,
    client: str | None, record: Answered,
) -> None:  # fmt: skip
    """An inference request that got past authentication; ``status``: ``{"status": 200}``
    or ``{"grpc_status": "OK"}``."""
    _write(
        {
            "event": "answered", **status, "subject": subject, "route": route, "model": model,
            "model_version": record.model_version, "request_id": request, "client": client,
            "instances": record.instances, "labels": record.labels,
        }
    )  # fmt: skip


def refused(
    status: dict[str, Any], reason: str, subject: str | None, route: str, request: str,
    client: str | None,
) -> None:  # fmt: skip
    """A request refused for its credentials."""
    _write(
        {
            "event": "refused", **status, "subject": subject, "route": route,
            "request_id": request, "client": client, "reason": reason,
        }
    )  # fmt: skip


def _write(fields: dict[str, Any]) -> None:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    logger.info("%s", orjson.dumps({"time": now, **fields}).decode())
