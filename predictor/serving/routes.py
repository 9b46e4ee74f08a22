"""The route table: every path this server answers, by its shape, in one place.

KServe's app registers the routes; this table names them for the layers in front of it, so
that none of those layers spells a path out: the fast lane asks which requests it may answer,
the drain which paths are readiness probes, the refusals which verbs and versions are refused,
the request metrics which ``endpoint`` label a request gets. :func:`route_of` classifies a path
once (cached: a server sees few distinct paths).

Model names are one path segment without ``:``; KServe's V1 verbs are ``<name>:<verb>``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

V1_MODELS = "/v1/models/"
V2_MODELS = "/v2/models/"
METRICS_PATH = "/metrics"
REPOSITORY_PREFIX = "/v2/repository/"
# The V1 verbs that score instances (POST only), and V2's.
V1_VERBS = ("predict", "explain", "feedback")
V2_INFER = "infer"
# ``endpoint`` label values of the request metrics: the scoring routes and everything else.
ENDPOINTS = (*V1_VERBS, V2_INFER, "other")
# gRPC: KServe's V2 inference service; its health methods, and every other service (the
# standard health service, reflection), are open when authentication is on.
GRPC_INFERENCE_SERVICE = "inference.GRPCInferenceService"
GRPC_PUBLIC_METHODS = ("ServerLive", "ServerReady", "ModelReady")
GRPC_INFER = "ModelInfer"
# Distinct paths remembered (clients can send any; beyond this they are classified anew).
CACHED_PATHS = 1024

_SHAPES = (
    # (pattern, protocol, verb); the model name is group "model", a version group "version".
    (re.compile(r"/v1/models/(?P<model>[^/:]+):(?P<verb>[a-z]+)"), "v1", None),
    (re.compile(r"/v1/models/(?P<model>[^/:]+)"), "v1", "ready"),
    (re.compile(r"/v2/health/ready"), "v2", "ready"),
    (re.compile(r"/v2/health/live"), "v2", "live"),
    (re.compile(r"/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/ready"), "v2",
     "ready"),
    (re.compile(r"/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer"), "v2",
     "infer"),
    (re.compile(r"/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?"), "v2",
     "metadata"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Route:
    """What a request path is, as far as the layers in front of KServe's app care."""

    path: str
    protocol: str | None = None  # "v1" or "v2" (a path under /v1/ or /v2/), else None
    verb: str | None = None  # predict, explain, feedback, infer, ready, live, metadata, ...
    model: str | None = None
    version: str | None = None  # a model version in the path (this server serves none)

    @property
    def scores(self) -> bool:
        """A route that scores instances: POST only, counted under its own endpoint."""
        return (self.protocol == "v1" and self.verb in V1_VERBS) or self.verb == V2_INFER

    @property
    def endpoint(self) -> str:
        """The request metrics' ``endpoint`` label (one of :data:`ENDPOINTS`)."""
        return self.verb if self.scores else "other"

    @property
    def readiness(self) -> bool:
        """A readiness probe (``GET /v1/models/<name>``, V2's ready routes)."""
        return self.verb == "ready"

    @property
    def repository(self) -> bool:
        """KServe's model repository extension (load/unload)."""
        return self.path.startswith(REPOSITORY_PREFIX)

    @property
    def metrics(self) -> bool:
        return self.path == METRICS_PATH

    @property
    def public(self) -> bool:
        """Answered without credentials when authentication is on: the probes (readiness,
        liveness) and the metrics scrape; every other route needs a token."""
        return self.verb in ("ready", "live") or self.metrics


@functools.lru_cache(maxsize=CACHED_PATHS)
def route_of(path: str) -> Route:
    """Classify a request path (the ASGI scope's ``path``)."""
    if path.startswith(("/v1/", "/v2/")):
        for pattern, protocol, verb in _SHAPES:
            match = pattern.fullmatch(path)
            if match is not None:
                found = match.groupdict()
                return Route(
                    path, protocol, verb or found.get("verb"), found.get("model"),
                    found.get("version"),
                )  # fmt: skip
        return Route(path, path[1:3])  # under /v1/ or /v2/, but no shape of ours
    return Route(path)


def v1_path(model: str, verb: str | None = None) -> str:
    """``/v1/models/<model>`` or ``/v1/models/<model>:<verb>`` (for clients and the chart)."""
    return f"{V1_MODELS}{model}" + (f":{verb}" if verb else "")


def fastapi_v1_route(verb: str) -> str:
    """FastAPI's path template of a V1 verb route, as KServe writes its own."""
    return V1_MODELS + "{model_name}:" + verb


def v2_path(model: str, action: str) -> str:
    """``/v2/models/<model>/<action>``."""
    return f"{V2_MODELS}{model}/{action}"


def grpc_public(method: str) -> bool:
    """A gRPC method (``/package.Service/Method``) answered without credentials."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service != GRPC_INFERENCE_SERVICE or name in GRPC_PUBLIC_METHODS


def grpc_scores(method: str) -> bool:
    """The gRPC method that scores instances (audited)."""
    return method == f"/{GRPC_INFERENCE_SERVICE}/{GRPC_INFER}"
