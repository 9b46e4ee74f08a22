"""``python -m predictor``: parse arguments (KServe's parser as parent) and start the server."""

from __future__ import annotations

from predictor import deferred_imports, fastpath  # cheap: standard library only

if __name__ == "__main__":
    # No cyclic GC while kserve and scikit-learn import (~7% of start-up); see fastpath.
    fastpath.begin_startup()
    deferred_imports.import_kserve()  # minus pandas and the Kubernetes client; see there

import argparse
import logging
import os
import sys

from kserve.model_server import parser as kserve_parser
from kserve.utils.utils import strtobool

from predictor.artifact import ArtifactError
from predictor.limits import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_JSON_DEPTH,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    Limits,
)
from predictor.logs import configure_logging
from predictor.model import BreastCancerModel, ModelOptions
from predictor.server import DEFAULT_DRAIN_SECONDS, PredictorServer, ServerSetupError

DEFAULT_MODEL_NAME = "breast-cancer"
DEFAULT_MODEL_DIR = "/mnt/models"
DEFAULT_MAX_INSTANCES = 10_000
EXIT_NO_MODEL = 2
EXIT_BAD_SETUP = 2
logger = logging.getLogger("predictor")


def build_parser(environ: dict[str, str]) -> argparse.ArgumentParser:
    """Every KServe server flag plus ours; defaults come from the environment, then constants."""
    parser = argparse.ArgumentParser(
        prog="python -m predictor",
        parents=[kserve_parser],
        description="Serve the breast-cancer model over KServe V1, V2 REST and V2 gRPC.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model_dir",
        default=environ.get("MODEL_DIR", DEFAULT_MODEL_DIR),
        help="training output directory (follows LATEST) or a version directory [env MODEL_DIR]",
    )
    parser.add_argument(
        "--max_instances",
        type=int,
        default=int(environ.get("MAX_INSTANCES", DEFAULT_MAX_INSTANCES)),
        help="most instances accepted in one request; more is a 400 [env MAX_INSTANCES]",
    )
    # String defaults from the environment go through ``type`` like a flag would, so a bad
    # value is a clean usage error (exit 2) naming the flag.
    parser.add_argument(
        "--max_body_bytes",
        type=int,
        default=environ.get("MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES)),
        help="largest request body accepted; more is a 413 [env MAX_BODY_BYTES]",
    )
    parser.add_argument(
        "--max_json_depth",
        type=int,
        default=environ.get("MAX_JSON_DEPTH", str(DEFAULT_MAX_JSON_DEPTH)),
        help="deepest nesting of JSON arrays/objects accepted in a body; more is a 400 "
        "[env MAX_JSON_DEPTH]",
    )
    parser.add_argument(
        "--request_timeout",
        type=float,
        default=environ.get("REQUEST_TIMEOUT", str(DEFAULT_REQUEST_TIMEOUT_SECONDS)),
        help="seconds to receive a request body (else 408) and to answer it (else 503); "
        "0 disables [env REQUEST_TIMEOUT]",
    )
    parser.add_argument(
        "--drain_seconds",
        type=float,
        default=environ.get("DRAIN_SECONDS", str(DEFAULT_DRAIN_SECONDS)),
        help="after SIGTERM, keep serving this long with readiness 503 before refusing new "
        "connections [env DRAIN_SECONDS]",
    )
    parser.add_argument(
        "--enable_model_repository_api",
        action="store_true",
        default=environ.get("ENABLE_MODEL_REPOSITORY_API", "") == "1",
        help="serve KServe's /v2/repository/models/<name>/load|unload (anyone who can reach "
        "the port could unload the model) [env ENABLE_MODEL_REPOSITORY_API=1]",
    )
    parser.add_argument(
        "--enable_fastpath",
        type=strtobool,
        default=environ.get("ENABLE_FASTPATH", "true"),
        help="route POST :predict straight to KServe's endpoint, drop KServe's timing "
        "middleware when its lines would not be printed, and use uvloop (responses are "
        "identical either way; false is an escape hatch) [env ENABLE_FASTPATH]",
    )
    parser.add_argument(
        "--explain_top_k",
        type=int,
        default=int(environ.get("EXPLAIN_TOP_K", 30)),
        help="contributions returned per instance by :explain, largest first [env EXPLAIN_TOP_K]",
    )
    parser.add_argument(
        "--range_margin",
        type=float,
        default=float(environ.get("RANGE_MARGIN", 0.0)),
        help="warn when a value is beyond the training min/max by more than this fraction of "
        "the training span [env RANGE_MARGIN]",
    )
    parser.add_argument(
        "--log_level",
        default=environ.get("LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of the server's own log lines [env LOG_LEVEL]",
    )
    parser.add_argument(
        "--enable_access_log",
        action="store_true",
        default=environ.get("ENABLE_ACCESS_LOG", "") == "1",
        help="log one line per HTTP request [env ENABLE_ACCESS_LOG=1]",
    )
    parser.set_defaults(
        model_name=environ.get("MODEL_NAME", DEFAULT_MODEL_NAME),
        # A trace line per request costs ~15-30% throughput; opt in with the flag.
        enable_latency_logging=False,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(dict(os.environ))
    args = parser.parse_args(argv)
    try:
        limits = Limits(args.max_body_bytes, args.max_json_depth, args.request_timeout)
    except ValueError as error:
        parser.error(str(error))
    if args.drain_seconds < 0:
        parser.error(f"--drain_seconds must be >= 0, got {args.drain_seconds}")
    log_settings = (args.log_level, args.enable_latency_logging, args.enable_access_log)
    configure_logging(*log_settings)
    options = ModelOptions(args.max_instances, args.explain_top_k, args.range_margin)
    model = BreastCancerModel(args.model_name, args.model_dir, options)
    try:
        model.load()
    except ArtifactError as error:
        logger.error("%s", error)
        return EXIT_NO_MODEL
    finally:
        fastpath.end_startup()
    server = PredictorServer(
        limits=limits,
        drain_seconds=args.drain_seconds,
        log_settings=log_settings,
        enable_model_repository_api=args.enable_model_repository_api,
        enable_fastpath=args.enable_fastpath,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        max_threads=args.max_threads,
        max_asyncio_workers=args.max_asyncio_workers,
        enable_grpc=args.enable_grpc,
        enable_docs_url=args.enable_docs_url,
        enable_latency_logging=args.enable_latency_logging,
        access_log_format=args.access_log_format,
        event_loop=args.event_loop,
        timeout_keep_alive=args.timeout_keep_alive,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    try:
        server.start([model])
    except ServerSetupError as error:
        logger.error("%s", error)
        return EXIT_BAD_SETUP
    return 0


if __name__ == "__main__":
    sys.exit(main())
