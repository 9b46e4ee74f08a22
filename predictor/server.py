"""The model server: KServe's REST and gRPC servers with request limits and graceful drain.

What this adds to ``kserve.ModelServer`` (0.21):

* **Graceful drain.** On SIGTERM (or SIGINT) readiness (``GET /v1/models/<name>``,
  ``/v2/models/<name>/ready``, ``/v2/health/ready``) answers 503 at once, every request keeps
  being served (responses carry ``Connection: close`` so clients reconnect elsewhere) for
  ``drain_seconds``; only then is the listening socket closed, requests in flight finish, and
  the process exits 0. A second signal ends the drain window early. KServe's own ``stop()``
  unloads the models while requests may still be in flight and, with one worker, leaves the
  REST server to uvicorn, which closes the socket at once: it is never called here.
* **Request limits** (:mod:`predictor.limits`) on every worker process.
* **Client errors stay 4xx.** A body KServe cannot decode (e.g. a V2 binary-extension request
  with a bad ``inference-header-content-length`` or without ``inputs``, or malformed
  CloudEvent headers) is a 400, not a 500; FastAPI's 422/404/405 bodies get an ``error`` string.
* **No model management over HTTP** unless asked: KServe's ``/v2/repository/models/<name>/
  load|unload`` lets any caller unload the model (the pod then stays unready while liveness
  passes); those routes answer 404 unless ``enable_model_repository_api`` is set. The
  ``/v2/models/<name>/versions/<v>/...`` routes (a 501 in KServe) answer 404 too.

``--workers > 1`` runs KServe's multi-process server: each child re-imports the FastAPI app
(``kserve.model_server:app``), so middleware added in the parent would be lost; here the
middleware is added in ``create_application``, which each child runs itself. The parent
forwards SIGTERM to the children at once (each drains on its own) and stops respawning them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import pickle
import re
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve import ModelServer
from kserve import model_server as kserve_model_server
from kserve.constants.constants import (
    FASTAPI_APP_IMPORT_STRING,
    INFERENCE_CONTENT_LENGTH_HEADER,
    PredictorProtocol,
)
from kserve.errors import InvalidInput
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.grpc.server import GRPCServer
from kserve.protocol.rest.multiprocess.server import RESTServerMultiProcess, RESTServerProcess
from kserve.protocol.rest.server import RESTServer, _RefreshingServer
from kserve.protocol.rest.v2_datamodels import InferenceRequest
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from predictor import fastpath
from predictor.limits import Limits, RequestLimitMiddleware
from predictor.logs import configure_logging

logger = logging.getLogger("predictor.server")

DEFAULT_DRAIN_SECONDS = 5.0
# Used for the phase after the drain window when request_timeout is 0 (no per-request bound).
UNBOUNDED_GRACE_SECONDS = 30
REPOSITORY_ROUTE_PREFIX = "/v2/repository/"
READINESS_PATHS = re.compile(
    r"^/v1/models/[^/:]+$|^/v2/health/ready$|^/v2/models/[^/]+(?:/versions/[^/]+)?/ready$"
)
# KServe answers these with 501 (NotImplementedError: "Model versioning not supported yet").
VERSIONED_PATHS = re.compile(r"^/v2/models/[^/]+/versions/")
MAX_VALIDATION_PROBLEMS = 3


class ServerSetupError(Exception):
    """The server cannot start with these options; the message says what to change."""


@dataclass
class Drain:
    """Shared by the uvicorn server (which starts it) and the middleware (which reads it)."""

    seconds: float = DEFAULT_DRAIN_SECONDS
    draining: bool = False

    def begin(self) -> bool:
        """Start draining; False when it had already started (a second signal)."""
        if self.draining:
            return False
        self.draining = True
        return True


class DrainMiddleware:
    """While draining: readiness answers 503 and every response closes its connection."""

    def __init__(self, app: Any, drain: Drain):
        self.app = app
        self.drain = drain

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.drain.draining:
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "GET" and READINESS_PATHS.match(scope.get("path", "")):
            response = JSONResponse(
                {"error": "server is shutting down: not ready for new traffic"},
                status_code=503,
                headers={"connection": "close"},
            )
            await response(scope, receive, send)
            return

        async def closing_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing_send)


class RefusedRoutesMiddleware:
    """404 with a JSON ``error`` for routes KServe registers but this server does not offer.

    * model versions (``/v2/models/<name>/versions/<v>/...`` or ``?model_version=<v>``):
      KServe answers 501 "Model versioning not supported yet";
    * ``/v2/repository/...`` (load/unload) unless ``enable_model_repository_api``.

    FastAPI offers no supported way to remove a route once KServe has added it.
    """

    def __init__(self, app: Any, enable_model_repository_api: bool):
        self.app = app
        self.refuse_repository = not enable_model_repository_api

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        message = self._refusal(scope) if scope["type"] == "http" else None
        if message is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"error": message}, status_code=404)(scope, receive, send)

    def _refusal(self, scope: dict) -> str | None:
        path = scope.get("path", "")
        if path.startswith("/v2/models/") and (
            VERSIONED_PATHS.match(path) or _asks_for_a_version(scope)
        ):
            return "model versions are not served: use /v2/models/<name>/... without a version"
        if self.refuse_repository and path.startswith(REPOSITORY_ROUTE_PREFIX):
            return (
                f"{REPOSITORY_ROUTE_PREFIX}... is disabled on this server "
                "(server flag --enable_model_repository_api)"
            )
        return None


def _asks_for_a_version(scope: dict) -> bool:
    query = scope.get("query_string", b"")
    if b"model_version" not in query:
        return False
    return any(parse_qs(query.decode("latin-1")).get("model_version", []))


class ClientInputDataPlane(DataPlane):
    """KServe's data plane, but a request body it cannot decode is the client's error (400).

    ``DataPlane.decode`` only interprets the client's bytes and headers, so any failure there
    (KServe raises ValueError/KeyError/TypeError on several malformed V2 binary-extension and
    CloudEvent inputs) is reported as ``InvalidInput`` naming the problem.
    """

    def decode(self, body, headers, *args, **kwargs):
        if isinstance(body, bytes | bytearray) and headers:
            _check_binary_header_length(body, headers)
        protocol = kwargs.get("protocol_version", args[0] if args else None)
        if _is_v2_json_bytes(body, headers, protocol):
            body = _parse_v2_json(body)
        try:
            return super().decode(body, headers, *args, **kwargs)
        except InvalidInput:
            raise
        except KeyError as error:
            raise InvalidInput(f"malformed request: required field {error} is missing") from None
        except Exception as error:
            raise InvalidInput(f"malformed request: {type(error).__name__}: {error}") from None


def _is_v2_json_bytes(body, headers: dict | None, protocol: str | None) -> bool:
    """A V2 body FastAPI left as bytes (not a JSON content type) without the binary header.

    Plain ``curl -d`` sends a form content type; KServe would answer that the binary
    extension's header is missing. Without that header the body can only be JSON.
    """
    return (
        protocol == PredictorProtocol.REST_V2.value
        and isinstance(body, bytes | bytearray)
        and INFERENCE_CONTENT_LENGTH_HEADER not in (headers or {})
    )


def _parse_v2_json(body: bytes) -> InferenceRequest:
    try:
        return InferenceRequest.model_validate_json(bytes(body))
    except ValidationError as error:
        raise InvalidInput(describe_problems(error.errors())) from None


def _check_binary_header_length(body: bytes, headers: dict) -> None:
    value = headers.get(INFERENCE_CONTENT_LENGTH_HEADER)
    if value is None:
        return
    try:
        length = int(value)
    except ValueError:
        length = -1
    if not 0 <= length <= len(body):
        raise InvalidInput(
            f"header {INFERENCE_CONTENT_LENGTH_HEADER!r} must be an integer between 0 and the "
            f"body length ({len(body)}), got {value[:40]!r}"
        )


async def validation_error_handler(_request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 for a V2 body that fails the schema, with a readable ``error``."""
    problems = [p for p in error.errors() if p.get("type") != "bytes_type"] or error.errors()
    return JSONResponse({"error": describe_problems(problems)}, status_code=422)


def describe_problems(problems: list[dict]) -> str:
    """Pydantic's errors for a V2 body as one line naming each field and what is wrong."""
    if problems and problems[0].get("type") == "json_invalid":
        reason = (problems[0].get("ctx") or {}).get("error", "JSON decode error")
        location = problems[0].get("loc") or ()
        # FastAPI's errors end their location with the byte offset; pydantic's own have none.
        at = f" at byte {location[-1]}" if location and isinstance(location[-1], int) else ""
        return f"request body is not valid JSON: {reason}{at}"
    described = []
    for problem in problems[:MAX_VALIDATION_PROBLEMS]:
        # loc is e.g. ("body", "InferenceRequest", "inputs", 0, "shape"): keep the field path.
        where = ".".join(
            str(part)
            for part in problem.get("loc", ())
            if part != "body" and not (isinstance(part, str) and part[:1].isupper())
        )
        described.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    more = len(problems) - len(described)
    message = "invalid inference request: " + "; ".join(described)
    if more > 0:
        message += f" (and {more} more)"
    return message


async def http_error_handler(_request, error: StarletteHTTPException) -> JSONResponse:
    """Starlette's 404/405/400 with an ``error`` string instead of ``detail``."""
    return JSONResponse(
        {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
    )


class DrainingUvicornServer(_RefreshingServer):
    """uvicorn's server whose first SIGTERM/SIGINT drains before it stops accepting."""

    def __init__(self, config, drain: Drain):
        super().__init__(config)
        self.drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # The signal is deliberately not recorded in ``_captured_signals``: uvicorn would
        # re-raise it after shutting down, which runs KServe's stop() (unloads the models).
        if self.drain.begin():
            threading.Thread(target=self._exit_after_drain, args=(sig,), daemon=True).start()
            return
        if sig == signal.SIGINT and self.should_exit:
            self.force_exit = True
        self.should_exit = True

    def _exit_after_drain(self, sig: int) -> None:
        logger.info(
            "%s received: readiness is 503; serving requests for %g s more before closing "
            "the listening socket",
            signal.Signals(sig).name,
            self.drain.seconds,
        )
        time.sleep(self.drain.seconds)
        logger.info("drain window over: refusing new connections, finishing requests in flight")
        self.should_exit = True


class PredictorRESTServer(RESTServer):
    """KServe's REST server with our middleware, error handlers and draining uvicorn server."""

    def __init__(
        self,
        *args,
        limits: Limits,
        drain: Drain,
        log_settings: tuple | None = None,
        enable_model_repository_api: bool = False,
        enable_fastpath: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.drain = drain
        self.log_settings = log_settings
        self.enable_model_repository_api = enable_model_repository_api
        self.enable_fastpath = enable_fastpath
        self._server = DrainingUvicornServer(self.config, drain)

    def create_application(self):
        super().create_application()
        app = kserve_model_server.app
        app.add_exception_handler(RequestValidationError, validation_error_handler)
        app.add_exception_handler(StarletteHTTPException, http_error_handler)
        # add_middleware puts each one outside the previous: the drain state is looked at
        # first, then refused routes, then the limits.
        app.add_middleware(RequestLimitMiddleware, limits=self.limits)
        app.add_middleware(
            RefusedRoutesMiddleware, enable_model_repository_api=self.enable_model_repository_api
        )
        app.add_middleware(DrainMiddleware, drain=self.drain)
        if self.enable_fastpath:
            # Runs in every serving process (each --workers child builds its own app).
            fastpath.tune_app(app)

    def run(self, sockets=None):
        """Entry point of each ``--workers > 1`` child: our logging, then KServe's run."""
        if self.log_settings is not None:
            configure_logging(*self.log_settings)
        # Children never run __main__: freeze their start-up heap too (10k-instance p99).
        fastpath.end_startup()
        super().run(sockets=sockets)


class PredictorRESTMultiProcess(RESTServerMultiProcess):
    """KServe's multi-process REST server running our REST server in each child.

    KServe's supervision pings each child with a *blocking* 5 s wait on the parent's event
    loop and kills any child that has not answered by then, which on a small machine kills
    children that are still importing (seen here with 2 CPUs and 2 workers) and respawns
    them in a loop, without our logging. Here a child is replaced when it has exited, or when
    it has not answered a ping for ``HUNG_AFTER_SECONDS`` (startup included); pings never
    block, and nothing is respawned once draining has begun.
    """

    HUNG_AFTER_SECONDS = 60.0

    def __init__(self, rest_server: PredictorRESTServer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rest_server = rest_server
        self.draining = False
        self._last_pong: dict[int, float] = {}
        self._ping_pending: set[int] = set()

    def begin_drain(self) -> None:
        """Tell every child to drain (they answer readiness 503 and stop after the window)."""
        self.draining = True
        for process in self._processes:
            if process.pid is not None and process._process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM)

    async def keep_subprocess_alive(self, sockets) -> None:
        now = time.monotonic()
        for index, process in enumerate(self._processes):
            if self.draining or self.should_exit.is_set():
                return  # children exit on their own after the drain window
            key = id(process)
            self._last_pong.setdefault(key, now)
            if process._process.exitcode is None:
                if self._responsive(process, key, now):
                    continue
                logger.warning(
                    "worker process [%s] has not answered for %g s: replacing it",
                    process.pid,
                    self.HUNG_AFTER_SECONDS,
                )
                process.kill()
            else:
                logger.warning(
                    "worker process [%s] exited with %s: replacing it",
                    process.pid,
                    process._process.exitcode,
                )
            self._last_pong.pop(key, None)
            self._ping_pending.discard(key)
            replacement = RESTServerProcess(
                sockets, self._rest_server.run, log_config_file=self.log_config_file
            )
            replacement.start()
            self._processes[index] = replacement
            logger.info("started worker process [%s]", replacement.pid)

    def _responsive(self, process: RESTServerProcess, key: int, now: float) -> bool:
        """Collect pongs without waiting and send the next ping; False once it is silent."""
        connection = process._parent_conn
        try:
            while connection.poll(0):
                connection.recv()
                self._last_pong[key] = now
                self._ping_pending.discard(key)
            if key not in self._ping_pending:
                connection.send(b"ping")
                self._ping_pending.add(key)
        except (OSError, EOFError):
            pass  # the pipe closed: the exit code will tell on the next round
        return now - self._last_pong[key] < self.HUNG_AFTER_SECONDS


class PredictorServer(ModelServer):
    """``kserve.ModelServer`` with graceful drain, request limits and 4xx for client errors."""

    def __init__(
        self,
        *,
        limits: Limits,
        drain_seconds: float = DEFAULT_DRAIN_SECONDS,
        log_settings: tuple | None = None,
        enable_model_repository_api: bool = False,
        enable_fastpath: bool = True,
        **kwargs,
    ):
        # After the drain window, requests in flight are bounded by the request timeout.
        grace = (
            math.ceil(limits.request_timeout) + 1
            if limits.request_timeout
            else UNBOUNDED_GRACE_SECONDS
        )
        super().__init__(grace_period=grace, **kwargs)
        self.dataplane = ClientInputDataPlane(model_registry=self.registered_models)
        self.limits = limits
        self.drain = Drain(drain_seconds)
        self.log_settings = log_settings
        self.enable_model_repository_api = enable_model_repository_api
        self.enable_fastpath = enable_fastpath

    def start(self, models) -> None:
        """Register the ready models, serve REST (and gRPC) until drained, then return."""
        # KServe's own registration (raises NoModelReady when no model is ready).
        self._register_and_check_atleast_one_model_is_ready(models)
        # What KServe's single- and multi-process REST servers are both built from.
        server_args = (
            FASTAPI_APP_IMPORT_STRING,
            self.dataplane,
            self.model_repository_extension,
            self.http_port,
        )
        server_options = {
            "access_log_format": self.access_log_format,
            "workers": self.workers,
            "grace_period": self.grace_period,
            "event_loop": self.event_loop,
            "timeout_keep_alive": self.timeout_keep_alive,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
        }
        rest = PredictorRESTServer(
            *server_args,
            **server_options,
            limits=self.limits,
            drain=self.drain,
            log_settings=self.log_settings,
            enable_model_repository_api=self.enable_model_repository_api,
            enable_fastpath=self.enable_fastpath,
        )
        if self.enable_grpc:
            self._grpc_server = GRPCServer(
                self.grpc_port,
                self.dataplane,
                self.model_repository_extension,
                kwargs=vars(kserve_model_server.args),
                grace_period=self.grace_period,
            )
        if self.workers > 1:
            _require_picklable(self.dataplane, self.workers)
            self._rest_multiprocess_server = PredictorRESTMultiProcess(
                rest,
                *server_args,
                **server_options,
                log_config_file=kserve_model_server.args.log_config_file,
            )
            self.servers.append(self._serve_multiprocess())
        else:
            self._rest_server = rest
            self.servers.append(self._serve_single(rest))
        if self._grpc_server is not None:
            self.servers.append(self._grpc_server.start(self.max_threads))
        if self.workers == 1 and self.enable_fastpath:
            # uvloop, as uvicorn picks for --workers > 1 children (asyncio.run would not).
            fastpath.use_event_loop(self.event_loop)
        self.setup_event_loop()
        asyncio.run(self._serve())
        logger.info("server stopped")

    async def _serve_single(self, rest: PredictorRESTServer) -> None:
        # uvicorn handles SIGTERM/SIGINT itself while it serves (DrainingUvicornServer).
        await rest.start()
        await self._stop_grpc()

    async def _serve_multiprocess(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_parent_signal, sig)
        await self._rest_multiprocess_server.start()
        await self._stop_grpc()

    def _on_parent_signal(self, sig: int) -> None:
        multiprocess = self._rest_multiprocess_server
        if not self.drain.begin():
            logger.info("second %s: stopping now", signal.Signals(sig).name)
            multiprocess.should_exit.set()
            return
        logger.info(
            "%s received: workers drain for %g s (readiness 503) before closing the socket",
            signal.Signals(sig).name,
            self.drain.seconds,
        )
        multiprocess.begin_drain()
        asyncio.get_running_loop().call_later(self.drain.seconds, multiprocess.should_exit.set)

    async def _stop_grpc(self) -> None:
        if self._grpc_server is not None:
            await self._grpc_server.stop()

    def stop(self, sig: int) -> None:
        """Never unload models under requests in flight: a stop request starts a drain."""
        if self._rest_multiprocess_server is not None:
            self._on_parent_signal(sig)
        elif self._rest_server is not None:
            self._rest_server._server.handle_exit(sig, None)


def _require_picklable(dataplane: DataPlane, workers: int) -> None:
    """``--workers > 1`` sends the loaded models to each child by pickling them: check first."""
    try:
        pickle.dumps(dataplane.model_registry)
    except Exception as error:
        raise ServerSetupError(
            f"--workers {workers} needs models that can be pickled to the worker processes, "
            f"but pickling failed ({type(error).__name__}: {error}); run with --workers 1"
        ) from error
