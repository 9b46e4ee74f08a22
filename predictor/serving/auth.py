"""Bearer-token authentication of REST and gRPC requests, and their audit lines.

With ``--auth_issuer`` set, :class:`Authentication` is the outermost ASGI layer, in front of
the fast lane, so one check covers every route whichever part of the server answers it: a
route the route table does not call public (:attr:`~.routes.Route.public`: the readiness and
liveness probes, ``/metrics``) needs a valid token of an allowed subject
(:class:`~.tokens.Verifier`). A refusal is the server's JSON error body (:mod:`.rejection`),
logged as an audit line only: 401 with ``WWW-Authenticate: Bearer`` (``error="invalid_token"``
and a description when a token was sent, RFC 6750), or 403 naming the subject. gRPC calls go through
:class:`GrpcAuthentication`: the ``authorization`` metadata, UNAUTHENTICATED or
PERMISSION_DENIED; the health service and the inference service's health methods stay open.

Each inference request that passes is audited (:mod:`.audit_log`) with what the model noted
while answering it (:mod:`predictor.audit`); so is each refusal.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
from grpc import aio

from predictor import audit
from predictor.serving import audit_log, http_metrics
from predictor.serving.rejection import send_error_body
from predictor.serving.routes import grpc_public, grpc_scores, route_of
from predictor.serving.tokens import Forbidden, Unauthenticated, Verifier

AUTHORIZATION = b"authorization"
REQUEST_ID = b"x-request-id"


def challenge(error: Exception) -> bytes:
    """The ``WWW-Authenticate`` value for a refusal (RFC 6750, section 3)."""
    if isinstance(error, Forbidden):
        return b'Bearer error="insufficient_scope"'
    if getattr(error, "missing", False):
        return b"Bearer"
    description = str(error).replace("\\", "").replace('"', "'")
    return f'Bearer error="invalid_token", error_description="{description}"'.encode("latin-1")


class Authentication:
    """ASGI: ``app`` answers only requests with an allowed caller, or public routes."""

    def __init__(self, app: Any, verifier: Verifier):
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope["path"])
        if route.public:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        authorization = given_id = None
        for name, value in scope["headers"]:
            if name == AUTHORIZATION:
                authorization = value
            elif name == REQUEST_ID:
                given_id = value
        try:
            # A token seen before is answered without awaiting anything.
            caller = self.verifier.known(authorization) or await self.verifier.caller(authorization)
        except (Unauthenticated, Forbidden) as error:
            await self._refuse(scope, send, error, given_id, started)
            return
        if not route.scores:
            await self.app(scope, receive, send)
            return
        record = audit.recording()  # the request metrics note the status in it
        try:
            await self.app(scope, receive, send)
        finally:
            client = scope.get("client")
            audit_log.answered(
                "status", record.status, caller.subject, f"{scope['method']} {scope['path']}",
                route.model, audit_log.request_id(given_id), client[0] if client else None,
                record,
            )  # fmt: skip

    async def _refuse(
        self, scope: dict, send: Any, error: Exception, given_id: bytes | None, started: float
    ) -> None:
        status = 403 if isinstance(error, Forbidden) else 401
        # The audit line below is the refusal's log line (no WARNING line besides).
        await send_error_body(send, status, str(error), ((b"www-authenticate", challenge(error)),))
        http_metrics.record(route_of(scope["path"]).endpoint, status, time.perf_counter() - started)
        audit_log.refused(
            "status", status, str(error), getattr(error, "subject", None), _route(scope),
            audit_log.request_id(given_id), _client(scope),
        )  # fmt: skip


def _route(scope: dict) -> str:
    return f"{scope['method']} {scope['path']}"


def _client(scope: dict) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class GrpcAuthentication(aio.ServerInterceptor):
    """gRPC: the inference service's methods need the ``authorization`` metadata."""

    def __init__(self, verifier: Verifier):
        self.verifier = verifier

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        method = details.method
        if handler is None or grpc_public(method) or handler.unary_unary is None:
            return handler
        answer, scores = handler.unary_unary, grpc_scores(method)

        async def checked(request: Any, context: aio.ServicerContext) -> Any:
            metadata = {key: value for key, value in context.invocation_metadata() or ()}
            given_id = metadata.get("x-request-id")
            try:
                caller = await self.verifier.caller(metadata.get("authorization"))
            except (Unauthenticated, Forbidden) as error:
                forbidden = isinstance(error, Forbidden)
                code = (
                    grpc.StatusCode.PERMISSION_DENIED
                    if forbidden
                    else grpc.StatusCode.UNAUTHENTICATED
                )
                audit_log.refused(
                    "grpc_status", code.name, str(error), getattr(error, "subject", None),
                    f"gRPC {method}", audit_log.request_id(given_id), context.peer(),
                )  # fmt: skip
                await context.abort(code, str(error))
            if not scores:
                return await answer(request, context)
            record = audit.recording()
            code_name = "UNKNOWN"
            try:
                response = await answer(request, context)
                code_name = "OK"
                return response
            except BaseException:
                code_name = getattr(context.code(), "name", None) or code_name
                raise
            finally:
                audit_log.answered(
                    "grpc_status", code_name, caller.subject, f"gRPC {method}",
                    getattr(request, "model_name", None), audit_log.request_id(given_id),
                    context.peer(), record,
                )  # fmt: skip

        return grpc.unary_unary_rpc_method_handler(
            checked,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
