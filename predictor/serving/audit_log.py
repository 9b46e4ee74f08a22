"""The audit trail: one JSON line per answered or refused request of an authenticated server.

Every line is one JSON object on stdout, where a cluster's log pipeline collects container
output (format in charts/breast-cancer/README.md, "Audit trail"):

* ``"event": "answered"``: an inference request (V1 ``:predict``/``:explain``/``:feedback``,
  V2 ``infer``, gRPC ``ModelInfer``) that got past authentication, whatever its status:
  who asked (``subject``), what (``route``, ``model``, ``model_version``), ``request_id``,
  how many ``instances`` were answered and the ``labels`` returned, counted per label;
* ``"event": "refused"``: a request refused for its credentials (401/403, or gRPC
  UNAUTHENTICATED / PERMISSION_DENIED), with the ``reason``.

``status`` is the HTTP status; a gRPC call has ``grpc_status`` (the code's name) instead.
Never a feature value, a probability or the token.

Lines are gathered for :data:`FLUSH_SECONDS` and written together, straight to stdout's file
descriptor in writes of whole lines of at most ``PIPE_BUF`` bytes, which a pipe never
interleaves with another ``--workers`` process's writes: written one by one through
``logging``, a line cost about as much as the prediction it records (``bench/auth_cost.py``).
Outside an event loop a line is written at once; lines still pending at exit are written then.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import secrets
import select
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from predictor.audit import Answered

# A client's x-request-id is kept up to this many characters.
LONGEST_REQUEST_ID = 128
# Lines up to this many bytes are written by one write(2), whole (POSIX: atomic on a pipe).
ATOMIC_WRITE = getattr(select, "PIPE_BUF", 4096)
FLUSH_SECONDS = 0.05
# Request ids made here: unique to this process, then numbered.
_process_id = secrets.token_hex(6)
_numbers = itertools.count(1)
_pending: list[bytes] = []
# Time in UTC as ISO 8601 with a Z, to the microsecond.
LINE_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z


def request_id(given: str | bytes | None) -> str:
    """The client's ``x-request-id``, or a new one."""
    if not given:
        return f"{_process_id}-{next(_numbers)}"
    if isinstance(given, bytes):
        given = given.decode("latin-1")
    return given[:LONGEST_REQUEST_ID]


def answered(
    status_key: str, status: int | str, subject: str, route: str, model: str | None, request: str,
    client: str | None, record: Answered,
) -> None:  # fmt: skip
    """An inference request that got past authentication; ``status_key``: ``status`` (HTTP)
    or ``grpc_status``."""
    _write(
        {
            "time": datetime.now(UTC), "event": "answered", status_key: status,
            "subject": subject, "route": route, "model": model,
            "model_version": record.model_version, "request_id": request, "client": client,
            "instances": record.instances, "labels": record.labels,
        }
    )  # fmt: skip


def refused(
    status_key: str, status: int | str, reason: str, subject: str | None, route: str, request: str,
    client: str | None,
) -> None:  # fmt: skip
    """A request refused for its credentials."""
    _write(
        {
            "time": datetime.now(UTC), "event": "refused", status_key: status,
            "subject": subject, "route": route, "request_id": request, "client": client,
            "reason": reason,
        }
    )  # fmt: skip


def _write(fields: dict[str, Any]) -> None:
    _pending.append(orjson.dumps(fields, option=LINE_OPTIONS))
    if len(_pending) == 1:
        try:
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, flush)
        except RuntimeError:  # no running loop: now
            flush()


def flush() -> None:
    """Write the pending lines to stdout."""
    if not _pending:
        return
    lines = _pending[:]
    _pending.clear()
    sys.stdout.flush()  # what the logging handlers wrote first stays first
    fd = sys.stdout.fileno()
    chunk = b""
    for line in lines:
        if chunk and len(chunk) + len(line) > ATOMIC_WRITE:
            _write_all(fd, chunk)
            chunk = b""
        chunk += line
    _write_all(fd, chunk)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


atexit.register(flush)
