"""Every setting of ``python -m predictor``, declared once: name, type, default, help, variable.

One field per setting on :class:`Settings` (pydantic-settings). The field's name is the flag
(``--max_instances``) and, upper-cased, the environment variable (``MAX_INSTANCES``); its type
and bounds are what a value must be; its description is the ``--help`` text. Flags of KServe's
own server parser (``--http_port``, ``--workers``, ...) are declared here too, marked
:func:`kserve_flag`: KServe's parser reads them (no environment variable, as in KServe), and
this class gives them their bounds. ``predictor.cli`` turns the command line into a
:class:`Settings` (flag > environment variable > default) and refuses a bad value in one line.

Adding a setting: one field here, plus the code that reads ``settings.<name>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from predictor.drift import DEFAULT_MIN_INSTANCES, DEFAULT_WINDOW

MIB = 1024 * 1024
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Port = Annotated[int, Field(ge=1, le=65535)]


def kserve_flag(default: Any, description: str = "", **bounds: Any) -> Any:
    """A flag KServe's server parser declares: no environment variable, our bounds."""
    return Field(default, description=description, json_schema_extra={"kserve": True}, **bounds)


def is_kserve_flag(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("kserve"))


def deprecated_alias(field: FieldInfo) -> str | None:
    """An older name of the setting, still accepted (flag and variable) with a warning."""
    extra = field.json_schema_extra
    return extra.get("deprecated_alias") if isinstance(extra, dict) else None


class Settings(BaseSettings):
    """What the predictor was asked to do, validated; immutable once read."""

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", protected_namespaces=(), validate_default=True
    )

    # ---- the model and its requests ---------------------------------------------------------
    model_dir: Path = Field(
        Path("/mnt/models"),
        description="training output directory (follows LATEST) or one version directory",
    )
    model_name: str | None = Field(
        None,
        min_length=1,
        description="name the model is served under (URL paths, metrics); default: the name "
        "the artifact records (python -m training --model-name, breast-cancer unless changed)",
    )
    max_instances: int = Field(
        10_000, ge=1, description="most instances accepted in one request; more is a 400"
    )
    explain_top_k: int = Field(
        30, ge=1, description="contributions returned per instance by :explain, largest first"
    )
    range_margin: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="warn when a value is beyond the training min/max by more than this "
        "fraction of the training span",
    )
    drift_window: int = Field(
        DEFAULT_WINDOW,
        ge=1,
        description="the drift figures (PSI per feature, malignant share) cover the pod's "
        "last this many scored instances",
    )
    drift_min_instances: int = Field(
        DEFAULT_MIN_INSTANCES,
        ge=1,
        description="fewer scored instances than this in the window: PSI and the predicted "
        "share are reported as NaN (too noisy to read); at most --drift_window",
    )
    # ---- request limits ---------------------------------------------------------------------
    max_body_bytes: int = Field(
        16 * MIB, ge=1, description="largest request body accepted, in bytes; more is a 413"
    )
    max_json_depth: int = Field(
        32,
        ge=1,
        description="deepest nesting of JSON arrays/objects accepted in a body; more is a 400",
    )
    request_timeout: float = Field(
        10.0,
        ge=0,
        allow_inf_nan=False,
        description="seconds to receive a request body (else 408) and to answer it "
        "(else 503); 0 disables",
    )
    max_inflight_instances: int = Field(
        40_000,
        ge=1,
        description="instances this process works on at once (REST and gRPC); a request "
        "past it is a 503 with Retry-After (gRPC RESOURCE_EXHAUSTED) unless it is alone",
    )
    slice_instances: int = Field(
        1000,
        ge=0,
        description="V1 predictions and plain V2 JSON inference requests of more instances "
        "are worked on this many at a time, letting other requests in between (same answer); "
        "0: in one go",
    )
    drain_seconds: float = Field(
        5.0,
        ge=0,
        allow_inf_nan=False,
        description="after SIGTERM, keep serving this long with readiness 503 before "
        "refusing new connections",
    )
    # ---- what the server offers ---------------------------------------------------------------
    enable_fast_lane: bool = Field(
        True,
        description="answer :predict and V2 JSON /infer in the fast lane before KServe's app, "
        "with uvloop (same answers; false is an escape hatch)",
        json_schema_extra={"deprecated_alias": "enable_fastpath"},
    )
    enable_model_repository_api: bool = Field(
        False,
        description="serve KServe's /v2/repository/models/<name>/load|unload (anyone who can "
        "reach the port could unload the model)",
    )
    enable_grpc_reflection: bool = Field(
        False,
        description="offer gRPC server reflection (grpcurl list/describe) next to the "
        "inference and health services",
    )
    # ---- who may call it (bearer JWTs; predictor.serving.auth) -------------------------------
    auth_issuer: str | None = Field(
        None,
        min_length=1,
        description="require JWTs of this issuer (iss) but on probes, /metrics",
    )
    auth_audience: str | None = Field(None, min_length=1, description="the aud a token must name")
    auth_allow: str | None = Field(
        None,
        min_length=1,
        description="subjects (sub) allowed, comma-separated; a trailing * matches a prefix",
    )
    auth_jwks_url: str | None = Field(
        None,
        min_length=1,
        description="its JWKS URL (https/http/file); default: discovery",
    )
    auth_jwks_ca_file: Path | None = Field(
        None, description="CA bundle to verify the JWKS server with (a cluster's ca.crt)"
    )
    auth_jwks_token_file: Path | None = Field(
        None, description="bearer token file for the JWKS server (a pod's token)"
    )
    # ---- logging ------------------------------------------------------------------------------
    log_level: LogLevel = Field("INFO", description="level of the server's own log lines")
    enable_access_log: bool = Field(
        False, description="log one line per HTTP request and per gRPC call"
    )
    # ---- KServe's server flags (its parser reads them; bounds and our defaults here) ----------
    http_port: Port = kserve_flag(8080, "port of the REST server (V1, V2, health, /metrics)")
    grpc_port: Port = kserve_flag(8081, "port of the gRPC server (V2 inference, health)")
    workers: int = kserve_flag(
        1, "REST server processes, each with its own copy of the model", ge=1
    )
    max_threads: int = kserve_flag(4, "threads of the gRPC server", ge=1)
    max_asyncio_workers: int | None = kserve_flag(
        None, "threads of the event loop's executor (KServe's default: from the CPU count)", ge=1
    )
    enable_grpc: bool = kserve_flag(True, "serve gRPC")
    enable_docs_url: bool = kserve_flag(False, "serve FastAPI's /docs (Swagger UI)")
    # KServe's default is on; a trace line per request costs ~15-30% throughput: opt in.
    enable_latency_logging: bool = kserve_flag(
        False, "KServe's log line per request with its stage latencies (costs throughput)"
    )
    access_log_format: str | None = kserve_flag(
        None, "uvicorn access-log format (turns KServe's access-log middleware on)"
    )
    log_config_file: str | None = kserve_flag(
        None, "uvicorn log configuration file (yaml or json) for --workers > 1"
    )
    event_loop: Literal["auto", "asyncio", "uvloop"] = kserve_flag(
        "auto", "event loop of the REST server"
    )
    timeout_keep_alive: int = kserve_flag(
        65, "seconds an idle keep-alive connection stays open", ge=1
    )
    grpc_max_send_message_length: int = kserve_flag(
        8 * MIB, "largest gRPC message sent, in bytes", ge=1
    )
    grpc_max_receive_message_length: int = kserve_flag(
        8 * MIB, "largest gRPC message received, in bytes", ge=1
    )
    ssl_certfile: str | None = kserve_flag(None, "certificate file: serve HTTPS")
    ssl_keyfile: str | None = kserve_flag(None, "private key file of --ssl_certfile")

    @model_validator(mode="after")
    def _min_instances_fit_the_window(self) -> Settings:
        if self.drift_min_instances > self.drift_window:
            raise ValueError(
                f"--drift_min_instances {self.drift_min_instances} must be at most "
                f"--drift_window ({self.drift_window})"
            )
        return self

    @model_validator(mode="after")
    def _auth_settings_fit_together(self) -> Settings:
        others = ("auth_audience", "auth_allow", "auth_jwks_url", "auth_jwks_ca_file",
                  "auth_jwks_token_file")  # fmt: skip
        if self.auth_issuer is None:
            given = next((name for name in others if getattr(self, name) is not None), None)
            if given is not None:
                raise ValueError(f"--{given} needs --auth_issuer (the issuer of the tokens)")
            return self
        for name in ("auth_audience", "auth_allow"):
            if getattr(self, name) is None:
                raise ValueError(f"--auth_issuer needs --{name} as well")
        subject_patterns(self.auth_allow or "")
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_others: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (passed as init values) over environment variables; no .env or secrets files.
        return init_settings, OurEnvironment(settings_cls)


class OurEnvironment(EnvSettingsSource):
    """The environment, for our own settings only: KServe reads its flags from the command
    line alone, and a Kubernetes service-link variable such as ``GRPC_PORT=tcp://...`` must
    not become a port."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if is_kserve_flag(field):
            return None, field_name, False
        return super().get_field_value(field, field_name)


def subject_patterns(text: str) -> tuple[str, ...]:
    """``--auth_allow``'s patterns: exact subjects, or prefixes ending in ``*``.

    Raises:
        ValueError: an empty entry, or a ``*`` anywhere but at the end of one.
    """
    patterns = tuple(entry.strip() for entry in text.split(","))
    for pattern in patterns:
        if not pattern:
            raise ValueError(f"--auth_allow {text!r} has an empty entry (a stray comma?)")
        if "*" in pattern[:-1]:
            raise ValueError(
                f"--auth_allow entry {pattern!r}: * may only end an entry (a prefix match)"
            )
    return patterns


def environment_variable(name: str) -> str:
    """The variable that sets a setting (``max_instances`` -> ``MAX_INSTANCES``)."""
    return name.upper()
