"""Metrics that add up across ``--workers`` processes: prometheus_client's multi-process mode.

With ``--workers N`` every worker is a process with its own counters, and a scrape of
``/metrics`` reaches whichever worker accepts the connection: each would report only the
requests it answered, and gRPC (served by the parent process) would not be seen at all. In
multi-process mode every process, the parent included, writes its values to files in one
directory, and ``/metrics`` (:class:`MultiProcessMetrics`) sums those files, so any worker
answers with the totals: our counters, KServe's stage histograms and gauges alike.

prometheus_client chooses the mode when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``, so :func:`prepare` runs before KServe is imported
(``python -m predictor`` calls it first; workers inherit the variable). It is on when that
variable is set, or when ``--workers`` is above 1, with a new directory under the temporary
directory then. Importing this module imports only the standard library.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

from predictor.serving.routes import route_of

ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client still honours the old lower-case name too.
LEGACY_ENV = "prometheus_multiproc_dir"
EXIT_BAD_SETTING = 2


def requested_workers(argv: Sequence[str]) -> int:
    """``--workers`` as KServe's parser will read it (1 when absent or not a number: the
    full parse in ``predictor.settings`` refuses a bad value in its own words)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--workers", type=int, default=1)
    try:
        known, _ = parser.parse_known_args(list(argv))
    except (argparse.ArgumentError, SystemExit):
        return 1
    return known.workers


def prepare(argv: Sequence[str], environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Turn multi-process mode on when needed; the metrics directory, or None when off.

    A directory named by the variable is emptied of metric files first: after a container
    restart an emptyDir keeps the files of the previous process, whose counts would
    otherwise be added to this one's. One made here is removed at exit.

    Raises:
        SystemExit: 2, after one line on stderr, when the directory cannot be written.
    """
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prepare() must run before prometheus_client is imported")
    named = environ.get(ENV) or environ.get(LEGACY_ENV)
    if not named:
        workers = requested_workers(argv)
        if workers <= 1:
            return None
        directory = Path(tempfile.mkdtemp(prefix="predictor-metrics-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    else:
        directory = Path(named)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for stale in directory.glob("*.db"):
                stale.unlink()
            with tempfile.NamedTemporaryFile(dir=directory, suffix=".probe"):
                pass  # every process writes its files here
        except OSError as error:
            sys.stderr.write(
                f"{ENV}={named}: metrics directory must be a writable directory "
                f"({error.strerror or error})\n"
            )
            raise SystemExit(EXIT_BAD_SETTING) from None
    environ[ENV] = str(directory)
    return directory


def active_directory(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """The directory of multi-process mode in this process, or None when it is off."""
    named = environ.get(ENV) or environ.get(LEGACY_ENV)
    return Path(named) if named else None


class MultiProcessMetrics:
    """ASGI: ``GET /metrics`` with the sum over every process's files; the rest to ``app``.

    Stands in for KServe's own ``/metrics`` route, which reads only its process's registry.
    The answer is encoded as KServe's is (OpenMetrics when the scraper asks for it).
    """

    def __init__(self, app: Any, directory: Path):
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        from predictor.monitoring import COLLECTOR

        self.app = app
        self.registry = CollectorRegistry()
        MultiProcessCollector(self.registry, path=str(directory))
        # Computed at scrape from every process's drift ring: nothing to sum (see there).
        self.registry.register(COLLECTOR)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or not route_of(scope["path"]).metrics
            or scope["method"] != "GET"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        from prometheus_client.exposition import choose_encoder

        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"").decode("latin-1")
        encoder, content_type = choose_encoder(accept)
        body = encoder(self.registry)
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
