"""Routes KServe registers that this server refuses, and FastAPI's own errors as JSON.

* ``GET`` (or any method but ``POST``) on ``/v1/models/<name>:predict``, ``:explain`` or
  ``:feedback``: KServe's ``GET /v1/models/{name}`` route takes ``<name>:predict`` for a
  model name and answers 404 "Model with name breast-cancer:predict does not exist"; here a
  405 naming the allowed method (with ``Allow: POST``).
* ``/v2/repository/models/<name>/load|unload`` lets any caller unload the model (the pod
  then stays unready while liveness passes): 404 unless ``--enable_model_repository_api``.
* model versions (``/v2/models/<name>/versions/<v>/...`` or ``?model_version=<v>``): KServe
  answers 501 "Model versioning not supported yet"; here a 404 that says what to use.
* FastAPI's 404/405/422 bodies carry ``detail``; here an ``error`` string, like every other
  error of this server.

FastAPI offers no supported way to remove a route once KServe has added it, hence a
middleware (canary: ``tests/upstream/test_routes.py``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from predictor.serving.decoding import describe_problems
from predictor.serving.rejection import log_rejection, reject

REFUSED_PREFIX = "/v2/"
REPOSITORY_ROUTE_PREFIX = "/v2/repository/"
# KServe answers these with 501 (NotImplementedError: "Model versioning not supported yet").
VERSIONED_PATHS = re.compile(r"^/v2/models/[^/]+/versions/")
V1_VERBS = re.compile(r"^/v1/models/[^/]+:(predict|explain|feedback)$")
POST_ONLY = ((b"allow", b"POST"),)


class RefusedRoutesMiddleware:
    """404 with a JSON ``error`` for routes KServe registers but this server does not offer."""

    def __init__(self, app: Any, enable_model_repository_api: bool):
        self.app = app
        self.refuse_repository = not enable_model_repository_api

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if scope["method"] != "POST" and V1_VERBS.match(path):
            verb = path.rsplit(":", 1)[1]
            message = f":{verb} accepts POST only, got {scope['method']}"
            await reject(send, 405, message, POST_ONLY)
            return
        # Every refused route is under /v2/: one test lets everything else through.
        message = self._refusal(scope) if path.startswith(REFUSED_PREFIX) else None
        if message is None:
            await self.app(scope, receive, send)
            return
        await reject(send, 404, message)

    def refuses(self, scope: dict) -> bool:
        """Whether this middleware would answer the HTTP request itself (with a refusal)."""
        path = scope["path"]
        if scope["method"] != "POST" and V1_VERBS.match(path):
            return True
        return path.startswith(REFUSED_PREFIX) and self._refusal(scope) is not None

    def _refusal(self, scope: dict) -> str | None:
        path = scope["path"]
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


async def validation_error_handler(_request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 for a V2 body that fails the schema, with a readable ``error``."""
    problems = [p for p in error.errors() if p.get("type") != "bytes_type"] or error.errors()
    message = describe_problems(problems)
    log_rejection(422, message)
    return JSONResponse({"error": message}, status_code=422)


async def http_error_handler(_request, error: StarletteHTTPException) -> JSONResponse:
    """Starlette's 404/405/400 with an ``error`` string instead of ``detail``."""
    log_rejection(error.status_code, str(error.detail))
    return JSONResponse(
        {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
    )
