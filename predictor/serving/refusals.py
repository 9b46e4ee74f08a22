"""Routes KServe registers that this server refuses, and FastAPI's own errors as JSON.

* Any method but ``POST`` on a scoring route (``/v1/models/<name>:predict``, ``:explain``,
  ``:feedback``, ``/v2/models/<name>/infer``): KServe's ``GET /v1/models/{name}`` route takes
  ``<name>:predict`` for a model name (404 "Model with name ...:predict does not exist") and
  FastAPI answers a bare "Method Not Allowed" on ``/infer``; here a 405 naming the allowed
  method, with ``Allow: POST``.
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

from typing import Any
from urllib.parse import parse_qs

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from predictor.serving.decoding import describe_problems
from predictor.serving.rejection import error_response, reject
from predictor.serving.routes import REPOSITORY_PREFIX, Route, route_of

POST_ONLY = ((b"allow", b"POST"),)


class RefusedRoutesMiddleware:
    """405/404 with a JSON ``error`` for what KServe registers but this server does not offer."""

    def __init__(self, app: Any, enable_model_repository_api: bool):
        self.app = app
        self.refuse_repository = not enable_model_repository_api

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope, route_of(scope["path"]))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        await reject(send, status, message, POST_ONLY if status == 405 else ())

    def refusal(self, scope: dict, route: Route) -> tuple[int, str] | None:
        """The status and message this middleware answers the request with, or None."""
        if route.scores and scope["method"] != "POST":
            verb = f":{route.verb}" if route.protocol == "v1" else f"/{route.verb}"
            return 405, f"{verb} accepts POST only, got {scope['method']}"
        if route.protocol == "v2" and route.model and (route.version or _versioned(scope)):
            return 404, "model versions are not served: use /v2/models/<name>/... without a version"
        if self.refuse_repository and route.repository:
            return 404, (
                f"{REPOSITORY_PREFIX}... is disabled on this server "
                "(server flag --enable_model_repository_api)"
            )
        return None


def _versioned(scope: dict) -> bool:
    query = scope.get("query_string", b"")
    if b"model_version" not in query:
        return False
    return any(parse_qs(query.decode("latin-1")).get("model_version", []))


async def validation_error_handler(_request, error: RequestValidationError) -> Any:
    """FastAPI's 422 for a V2 body that fails the schema, with a readable ``error``."""
    problems = [p for p in error.errors() if p.get("type") != "bytes_type"] or error.errors()
    return error_response(422, describe_problems(problems))


async def http_error_handler(_request, error: StarletteHTTPException) -> Any:
    """Starlette's 404/405/400 with an ``error`` string instead of ``detail``."""
    return error_response(error.status_code, str(error.detail), error.headers)
