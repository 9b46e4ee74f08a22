"""``python -m training``: parse the command line and run the training pipeline."""

from __future__ import annotations

import argparse
import sys

from training.run import run
from training.train import CLASSIFIERS, TrainingConfig

EXIT_INTERRUPTED = 130
DEFAULTS = TrainingConfig()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=(
            "Train the breast-cancer classifier (positive class: malignant), evaluate it on a "
            "stratified hold-out split and k-fold CV, choose a decision threshold for a target "
            "sensitivity, and write a versioned, sha256-checked artifact."
        ),
        epilog=(
            "Exit codes: 0 success (or artifact already present with --skip-if-present), "
            "2 bad arguments or bad training data (nothing written), 3 the destination could "
            "not be written (the previous model stays current). S3 endpoint and credentials: "
            "AWS_ENDPOINT_URL (or S3_ENDPOINT + S3_USE_HTTPS), AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--output",
        required=True,
        help="destination: a directory (e.g. models/ or a PVC mount) or s3://bucket/prefix",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="CSV with a header of the 30 scikit-learn feature names plus 'diagnosis' (M/B), "
        "or UCI's headerless wdbc.data; default: scikit-learn's bundled WDBC data",
    )
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="random seed")
    parser.add_argument(
        "--test-size",
        type=_fraction,
        default=DEFAULTS.test_size,
        help="fraction of rows held out for the final evaluation",
    )
    parser.add_argument(
        "--cv-folds", type=int, default=DEFAULTS.cv_folds, help="stratified CV folds (>= 2)"
    )
    parser.add_argument(
        "--target-sensitivity",
        type=_fraction,
        default=DEFAULTS.target_sensitivity,
        help="malignant recall the threshold must reach on out-of-fold training predictions",
    )
    parser.add_argument(
        "--classifier", choices=CLASSIFIERS, default=DEFAULTS.classifier, help="estimator"
    )
    parser.add_argument(
        "--regularization",
        type=float,
        default=DEFAULTS.regularization,
        help="inverse regularisation strength C of the logistic regression",
    )
    parser.add_argument(
        "--model-name", default="breast-cancer", help="model name recorded in the artifact"
    )
    parser.add_argument(
        "--version", default=None, help="version directory name (default: UTC time + random)"
    )
    parser.add_argument(
        "--keep-versions",
        type=int,
        default=5,
        help="versions kept in a local destination, newest first",
    )
    parser.add_argument(
        "--skip-if-present",
        action="store_true",
        help="exit 0 without training if the destination already holds a valid artifact",
    )
    parser.add_argument(
        "--no-plots",
        action="store_true",
        help="skip the model-card plots (they also skip when matplotlib is not installed)",
    )
    return parser


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0 and value != 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.cv_folds < 2:
        parser.error(f"--cv-folds must be >= 2, got {options.cv_folds}")
    if options.keep_versions < 1:
        parser.error(f"--keep-versions must be >= 1, got {options.keep_versions}")
    if options.test_size >= 1.0:
        parser.error(f"--test-size must be below 1, got {options.test_size}")
    try:
        return run(options)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
