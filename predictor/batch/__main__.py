"""``python -m predictor.batch``: score a CSV (or Parquet) file with the served model.

    python -m predictor.batch --model_dir DIR --input PATH --output PATH [--errors PATH]
                              [--shards N --shard I]

Exit codes: 0 when the run completed (refused rows included: they are in the errors file);
2 for a bad flag or an unusable model (as ``python -m predictor``); 3 when the input cannot
be read or used (a feature column missing, ...) or an output cannot be written; 130 or 143
when interrupted (SIGINT, SIGTERM). On any failure neither output file is left behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from predictor.artifact import EXIT_NO_MODEL, ArtifactError
from predictor.batch.arrow import convert_without_pandas
from predictor.batch.job import BatchOptions, Summary, report, score_file
from predictor.batch.storage import (
    InputError,
    OutputError,
    errors_location,
    is_s3,
    part_locations,
)
from predictor.loader import Artifact, load_artifact

PROG = "python -m predictor.batch"
EXIT_OK = 0
EXIT_IO = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
# Set by Kubernetes in every pod of an Indexed Job: the pod's completion index.
SHARD_ENV = "JOB_COMPLETION_INDEX"
DEFAULT_MODEL_DIR = "/mnt/models"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Score a CSV or Parquet file (or a shard of it) with the model the "
        "predictor serves: "
        "same artifact checks, validation rules and scores. Scored rows go to --output, "
        "refused ones to the errors file, each with its row number and the API's message.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model_dir", default=DEFAULT_MODEL_DIR,
                        help="training output directory (follows LATEST), a version directory, "
                        "or an s3:// prefix of either")  # fmt: skip
    parser.add_argument("--input", required=True,
                        help="CSV file with a header naming the 30 features (any order) and "
                        "any other columns, or a Parquet file (.parquet, .pq) with those "
                        "columns: a path or s3://bucket/key")  # fmt: skip
    parser.add_argument("--output", required=True,
                        help="scored rows (CSV); with --shards, a directory or s3:// prefix "
                        "that gets part-NNNNN.csv and part-NNNNN.errors.csv")  # fmt: skip
    parser.add_argument("--errors", default=None,
                        help="refused rows (CSV: row, message); default: the output's name "
                        "with .errors.csv for .csv")  # fmt: skip
    parser.add_argument("--shards", type=_at_least(1), default=None,
                        help="split the input into this many parts (CSV: byte ranges; Parquet: "
                        "row ranges), one per run")  # fmt: skip
    parser.add_argument("--shard", type=_at_least(0), default=None,
                        help=f"which range this run scores, 0-based (default: ${SHARD_ENV}, "
                        "which an Indexed Job sets)")  # fmt: skip
    parser.add_argument("--range_margin", type=_margin, default=0.0,
                        help="flag values beyond the training min/max by more than this "
                        "fraction of the training span (the server's --range_margin)")  # fmt: skip
    parser.add_argument("--progress_seconds", type=_margin, default=5.0,
                        help="seconds between progress lines on stderr")  # fmt: skip
    return parser


def _at_least(minimum: int):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    return convert


def _margin(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def parse(argv: Sequence[str] | None, environ: Mapping[str, str]) -> tuple[str, BatchOptions]:
    """The model directory and the run's options; exits 2 with one line on a bad combination."""
    parser = build_parser()
    args = parser.parse_args(argv)
    shards, shard = args.shards, args.shard
    if shards is None:
        if shard is not None:
            parser.error("--shard needs --shards")
        shards, shard = 1, 0
        output = args.output
        errors = args.errors or errors_location(output)
    else:
        if args.errors is not None:
            parser.error("--errors does not go with --shards: each shard writes its errors to "
                         "part-NNNNN.errors.csv in the --output directory")  # fmt: skip
        if shard is None:
            shard = _shard_from_env(parser, environ)
        if shard >= shards:
            parser.error(f"--shard {shard} is not below --shards {shards}")
        output, errors = part_locations(args.output, shard)
    if len({args.input, output, errors}) < 3:
        parser.error("--input, the output and the errors file must be three different files")
    options = BatchOptions(args.input, output, errors, shards, shard, args.range_margin,
                           args.progress_seconds)  # fmt: skip
    return args.model_dir, options


def _shard_from_env(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> int:
    text = environ.get(SHARD_ENV)
    if text is None:
        parser.error(f"--shards needs --shard, or ${SHARD_ENV} (an Indexed Job sets it)")
    try:
        return _at_least(0)(text)
    except argparse.ArgumentTypeError as error:
        parser.error(f"${SHARD_ENV}: {error}")


def load_model(model_dir: str) -> Artifact:
    """The verified artifact, from a directory or downloaded from an ``s3://`` prefix."""
    if not is_s3(model_dir):
        return load_artifact(model_dir)
    from botocore.exceptions import BotoCoreError, ClientError

    from predictor.object_store import download_prefix, parse_s3_uri, s3_client, s3_endpoint

    endpoint = s3_endpoint()
    with tempfile.TemporaryDirectory(prefix="batch-model-") as scratch:
        try:
            bucket, prefix = parse_s3_uri(model_dir)
            copied = download_prefix(s3_client(endpoint), bucket, prefix, Path(scratch))
        except (ValueError, BotoCoreError, ClientError) as error:
            raise ArtifactError(
                f"cannot download the model from {model_dir} (endpoint "
                f"{endpoint or 'AWS default'}): {error}"
            ) from None
        if not copied:
            raise ArtifactError(f"no trained model under {model_dir} (no objects there)")
        return load_artifact(scratch)


class Terminated(BaseException):
    """SIGTERM (a pod being stopped): unwinds like Ctrl-C, so partial outputs are removed."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    model_dir, options = parse(argv, environ)
    convert_without_pandas()
    try:
        artifact = load_model(model_dir)
    except ArtifactError as error:
        report(f"error: {error}")
        return EXIT_NO_MODEL
    where = options.input
    if options.shards > 1:
        where += f" (shard {options.shard} of {options.shards}, 0-based)"
    report(
        f"model version {artifact.version} ({artifact.scorer.kind} scorer from "
        f"{artifact.scorer_file}, threshold {artifact.threshold:.4f}); scoring {where}"
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = score_file(options, artifact)
    except (InputError, OutputError) as error:
        report(f"error: {error}")
        return EXIT_IO
    except KeyboardInterrupt:
        report("interrupted; no output written")
        return EXIT_INTERRUPTED
    except Terminated:
        report("terminated; no output written")
        return EXIT_TERMINATED
    finally:
        signal.signal(signal.SIGTERM, previous)
    report(done_line(summary, options))
    return EXIT_OK


def done_line(summary: Summary, options: BatchOptions) -> str:
    rows = f"{summary.rows:,} rows"
    if summary.rows:
        rows += f" (rows {summary.first_row:,}-{summary.first_row + summary.rows - 1:,})"
    rate = summary.rows / max(summary.seconds, 1e-9)
    return (
        f"done: {rows}: {summary.scored:,} scored -> {options.output}, "
        f"{summary.refused:,} refused -> {options.errors}; "
        f"{summary.seconds:.1f} s, {rate:,.0f} rows/s"
    )


if __name__ == "__main__":
    sys.exit(main())
