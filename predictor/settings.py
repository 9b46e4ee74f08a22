"""Every setting of ``python -m predictor`` in one immutable value, read once at start-up.

Precedence: command-line flag > environment variable > default. A bad value, whether it came
from a flag or from the environment, stops start-up with exit code 2 and one line naming
where it came from, the value and what is allowed. KServe's own server flags (``--http_port``,
``--workers``, ...) come from its parser, so ``--help`` lists them all.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from kserve.model_server import parser as kserve_parser

from predictor.drift import DEFAULT_MIN_INSTANCES as DEFAULT_DRIFT_MIN_INSTANCES
from predictor.drift import DEFAULT_WINDOW as DEFAULT_DRIFT_WINDOW
from predictor.model import ModelOptions
from predictor.serving.drain import DEFAULT_DRAIN_SECONDS
from predictor.serving.limits import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_JSON_DEPTH,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    Limits,
)
from predictor.serving.logs import LOG_LEVELS, LogSettings
from predictor.serving.server import ServerOptions

PROG = "python -m predictor"
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f", ""})


@dataclass(frozen=True)
class Settings:
    """What the predictor was asked to do, validated."""

    model_name: str
    model_dir: Path
    model: ModelOptions
    limits: Limits
    server: ServerOptions
    log: LogSettings


@dataclass(frozen=True)
class Option:
    """One of our settings: its flag, environment variable, default and accepted values."""

    dest: str
    env: str
    default: Any
    convert: Callable[[str], Any]
    allowed: str
    help: str
    switch: bool = False  # a flag without a value (present = true); the env var takes a word


def _integer(minimum: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        value = int(text.strip())
        if value < minimum:
            raise ValueError
        return value

    return convert


def _seconds(text: str) -> float:
    value = float(text.strip())
    if not math.isfinite(value) or value < 0:
        raise ValueError
    return value


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError
    return level


BOOLEAN = "true or false (also 1/0, yes/no)"
OPTIONS = (
    Option("model_dir", "MODEL_DIR", "/mnt/models", str, "a path",
           "training output directory (follows LATEST) or a version directory"),
    Option("max_instances", "MAX_INSTANCES", 10_000, _integer(1), "an integer >= 1",
           "most instances accepted in one request; more is a 400"),
    Option("max_body_bytes", "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, _integer(1),
           "an integer >= 1", "largest request body accepted, in bytes; more is a 413"),
    Option("max_json_depth", "MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH, _integer(1),
           "an integer >= 1",
           "deepest nesting of JSON arrays/objects accepted in a body; more is a 400"),
    Option("request_timeout", "REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT_SECONDS, _seconds,
           "seconds >= 0", "seconds to receive a request body (else 408) and to answer it "
           "(else 503); 0 disables"),
    Option("drain_seconds", "DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS, _seconds, "seconds >= 0",
           "after SIGTERM, keep serving this long with readiness 503 before refusing new "
           "connections"),
    Option("enable_model_repository_api", "ENABLE_MODEL_REPOSITORY_API", False, _boolean,
           BOOLEAN, "serve KServe's /v2/repository/models/<name>/load|unload (anyone who "
           "can reach the port could unload the model)", switch=True),
    Option("enable_fastpath", "ENABLE_FASTPATH", True, _boolean, BOOLEAN,
           "answer POST :predict in a fast lane in front of KServe's app (the model's own "
           "pipeline, without FastAPI) and use uvloop (responses, metrics and log lines are "
           "identical either way; false is an escape hatch)"),
    Option("enable_grpc_reflection", "ENABLE_GRPC_REFLECTION", False, _boolean, BOOLEAN,
           "offer gRPC server reflection (grpcurl list/describe) next to the inference and "
           "health services", switch=True),
    Option("explain_top_k", "EXPLAIN_TOP_K", 30, _integer(1), "an integer >= 1",
           "contributions returned per instance by :explain, largest first"),
    Option("range_margin", "RANGE_MARGIN", 0.0, _seconds, "a number >= 0",
           "warn when a value is beyond the training min/max by more than this fraction of "
           "the training span"),
    Option("log_level", "LOG_LEVEL", "INFO", _log_level, " | ".join(LOG_LEVELS),
           "level of the server's own log lines"),
    Option("enable_access_log", "ENABLE_ACCESS_LOG", False, _boolean, BOOLEAN,
           "log one line per HTTP request and per gRPC call", switch=True),
    Option("model_name", "MODEL_NAME", "breast-cancer", str, "a name",
           "name the model is served under (URL paths, metrics)"),
    Option("drift_window", "DRIFT_WINDOW", DEFAULT_DRIFT_WINDOW, _integer(1), "an integer >= 1",
           "the drift figures (PSI per feature, predicted malignant share) are computed over "
           "the pod's last this many scored instances"),
    Option("drift_min_instances", "DRIFT_MIN_INSTANCES", DEFAULT_DRIFT_MIN_INSTANCES,
           _integer(1), "an integer >= 1, at most --drift_window",
           "fewer scored instances than this in the window: PSI and the predicted share are "
           "reported as NaN (too noisy to read)"),
)  # fmt: skip
# KServe's flags that get a range check here (argparse already checked their type).
PORT_RANGE = (1, 65535)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump) and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` only where a default exists (never ``(default: None)``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> OneLineParser:
    """Every KServe server flag plus ours; ours read their value as text (see :func:`parse`)."""
    parser = OneLineParser(
        prog=PROG,
        parents=[kserve_parser],
        description="Serve the breast-cancer model over KServe V1, V2 REST and V2 gRPC. "
        "Each of our flags can also be set by the environment variable named in its help; "
        "a flag wins over its variable.",
        formatter_class=DefaultsHelpFormatter,
    )
    for option in OPTIONS:
        shown = option.default if option.dest != "max_body_bytes" else f"{option.default} (16 MiB)"
        where = f"(default: {shown}; env {option.env})"
        flag = f"--{option.dest}"
        if option.switch:
            parser.add_argument(flag, action="store_const", const="true", default=None,
                                help=f"{option.help} {where}")  # fmt: skip
        elif any(action.dest == option.dest for action in kserve_parser._actions):
            parser.set_defaults(**{option.dest: None})  # KServe's flag; our default and env
            _describe_kserve_flag(parser, option, where)
        else:
            parser.add_argument(flag, default=None, metavar=option.dest.upper(),
                                help=f"{option.help}; {option.allowed} {where}")  # fmt: skip
    # A trace line per request costs ~15-30% throughput: opt in with the flag.
    parser.set_defaults(enable_latency_logging=False)
    return parser


def _describe_kserve_flag(parser: argparse.ArgumentParser, option: Option, where: str) -> None:
    for action in parser._actions:
        if action.dest == option.dest:
            action.help = f"{option.help} {where}"


def parse(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Settings:
    """Read every setting once: flag > environment variable > default.

    Raises:
        SystemExit: 2, after one line on stderr naming the bad value and what is allowed.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    values = {option.dest: _resolve(parser, option, args, environ) for option in OPTIONS}
    for flag in ("http_port", "grpc_port"):
        port = getattr(args, flag)
        if not PORT_RANGE[0] <= port <= PORT_RANGE[1]:
            parser.error(f"--{flag} {port}: expected a port number between 1 and 65535")
    for flag in ("workers", "max_threads", "timeout_keep_alive"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} {getattr(args, flag)}: expected an integer >= 1")
    if values["drift_min_instances"] > values["drift_window"]:
        parser.error(f"--drift_min_instances {values['drift_min_instances']}: expected at most "
                     f"--drift_window ({values['drift_window']})")  # fmt: skip
    return Settings(
        model_name=values["model_name"],
        model_dir=Path(values["model_dir"]),
        model=ModelOptions(values["max_instances"], values["explain_top_k"],
                           values["range_margin"], drift_window=values["drift_window"],
                           drift_min_instances=values["drift_min_instances"]),
        limits=Limits(values["max_body_bytes"], values["max_json_depth"],
                      values["request_timeout"]),
        server=ServerOptions(
            http_port=args.http_port, grpc_port=args.grpc_port, workers=args.workers,
            max_threads=args.max_threads, max_asyncio_workers=args.max_asyncio_workers,
            enable_grpc=args.enable_grpc,
            enable_grpc_reflection=values["enable_grpc_reflection"],
            enable_docs_url=args.enable_docs_url,
            access_log_format=args.access_log_format, log_config_file=args.log_config_file,
            event_loop=args.event_loop, timeout_keep_alive=args.timeout_keep_alive,
            ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
            drain_seconds=values["drain_seconds"],
            enable_model_repository_api=values["enable_model_repository_api"],
            enable_fastpath=values["enable_fastpath"],
        ),
        log=LogSettings(values["log_level"], args.enable_latency_logging,
                        values["enable_access_log"]),
    )  # fmt: skip


def _resolve(
    parser: OneLineParser, option: Option, args: argparse.Namespace, environ: Mapping[str, str]
) -> Any:
    given = getattr(args, option.dest)
    if given is not None:
        source, text = f"--{option.dest}", given
    elif option.env in environ:
        source, text = f"environment variable {option.env}", environ[option.env]
    else:
        return option.default
    try:
        return option.convert(text)
    except ValueError:
        parser.error(f"{source}={text[:80]!r}: expected {option.allowed}")
