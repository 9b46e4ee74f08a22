"""``python -m predictor``: parse arguments (KServe's parser as parent) and start the server."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from kserve import ModelServer
from kserve.model_server import parser as kserve_parser

from predictor.artifact import ArtifactError
from predictor.logs import configure_logging
from predictor.model import BreastCancerModel, ModelOptions

DEFAULT_MODEL_NAME = "breast-cancer"
DEFAULT_MODEL_DIR = "/mnt/models"
DEFAULT_MAX_INSTANCES = 10_000
EXIT_NO_MODEL = 2
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
    args = build_parser(dict(os.environ)).parse_args(argv)
    configure_logging(args.log_level, args.enable_latency_logging, args.enable_access_log)
    options = ModelOptions(args.max_instances, args.explain_top_k, args.range_margin)
    model = BreastCancerModel(args.model_name, args.model_dir, options)
    try:
        model.load()
    except ArtifactError as error:
        logger.error("%s", error)
        return EXIT_NO_MODEL
    ModelServer(
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
    ).start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
