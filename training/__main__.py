"""``python -m training``: parse the command line and run the training pipeline.

Only light modules are imported here: ``--help``, a bad argument, ``--skip-if-present`` with a
valid artifact and an unwritable destination all answer without importing scikit-learn.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass

from training.config import CLASSIFIERS, TrainingConfig, accepted_diagnoses
from training.gate import GatePolicy
from training.run import run

EXIT_INTERRUPTED = 130
# What resolve_version_dir accepts in LATEST, and what a pvc:// subPath or s3:// key can hold.
VERSION_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
DEFAULTS = TrainingConfig()


class DefaultsWhereMeaningful(argparse.ArgumentDefaultsHelpFormatter):
    """Append ``(default: X)`` only for real values: not for a required option, a default the
    help text describes itself (None), or an off switch (False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


@dataclass(frozen=True)
class Fraction:
    """An argparse type: a number in (0, 1), with 1 (``include_one``) or 0 (``include_zero``)."""

    include_one: bool
    include_zero: bool = False

    @property
    def interval(self) -> str:
        return f"{'[' if self.include_zero else '('}0, 1{']' if self.include_one else ')'}"

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (
            0.0 < value < 1.0
            or (self.include_one and value == 1.0)
            or (self.include_zero and value == 0.0)
        ):
            raise argparse.ArgumentTypeError(f"must be a number in {self.interval}, got {text!r}")
        return value


@dataclass(frozen=True)
class AtLeast:
    """An argparse type: an integer no smaller than ``minimum``."""

    minimum: int

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = self.minimum - 1
        if value < self.minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {self.minimum}, got {text!r}")
        return value


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0 (scikit-learn would refuse anything else only
    once training has started)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def version_name(text: str) -> str:
    """An argparse type: a name usable as one directory (and S3 key segment) under --output."""
    if not VERSION_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be letters, digits, '.', '_' or '-', not starting with '.', got {text!r}"
        )
    return text


HOLD_OUT_FRACTION = Fraction(include_one=False)
SENSITIVITY = Fraction(include_one=True)
# Gate floors and tolerances: 0 turns a check off, 1 is the strictest a metric allows.
GATE_VALUE = Fraction(include_one=True, include_zero=True)
GATE = GatePolicy()
CV_FOLDS = AtLeast(2)
KEPT_VERSIONS = AtLeast(1)


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
            "2 bad arguments or bad training data (nothing written), 3 the destination cannot "
            "be written (checked before training; the previous model stays current), 4 the "
            "promotion gate refused the new model (a message names each metric, its value and "
            "the floor's or champion's; nothing written, LATEST untouched). S3 "
            "endpoint and credentials: AWS_ENDPOINT_URL (or S3_ENDPOINT + S3_USE_HTTPS), "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION."
        ),
        formatter_class=DefaultsWhereMeaningful,
    )
    parser.add_argument(
        "--output",
        required=True,
        help="destination: a directory (e.g. models/ or a PVC mount) or s3://bucket/prefix",
    )
    parser.add_argument(
        "--data",
        help="CSV with a header of the 30 scikit-learn feature names plus 'diagnosis' "
        f"({accepted_diagnoses()}), or UCI's headerless wdbc.data; default: scikit-learn's "
        "bundled WDBC data",
    )
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="random seed")
    parser.add_argument(
        "--test-size",
        type=HOLD_OUT_FRACTION,
        default=DEFAULTS.test_size,
        help=f"fraction of rows held out for the final evaluation, in {HOLD_OUT_FRACTION.interval}",
    )
    parser.add_argument(
        "--cv-folds",
        type=CV_FOLDS,
        default=DEFAULTS.cv_folds,
        help=f"stratified CV folds on the training rows, >= {CV_FOLDS.minimum}",
    )
    parser.add_argument(
        "--target-sensitivity",
        type=SENSITIVITY,
        default=DEFAULTS.target_sensitivity,
        help="malignant recall the threshold must reach on out-of-fold training predictions, "
        f"in {SENSITIVITY.interval}",
    )
    parser.add_argument(
        "--classifier", choices=CLASSIFIERS, default=DEFAULTS.classifier, help="estimator"
    )
    parser.add_argument(
        "--regularization",
        type=positive_number,
        default=DEFAULTS.regularization,
        help="inverse regularisation strength C of the logistic regression, a finite number > 0",
    )
    parser.add_argument(
        "--model-name", default="breast-cancer", help="model name recorded in the artifact"
    )
    parser.add_argument(
        "--version",
        type=version_name,
        help="version directory name (a version of that name is replaced); default: UTC time "
        "+ random",
    )
    parser.add_argument(
        "--keep-versions",
        type=KEPT_VERSIONS,
        default=5,
        help="versions kept in a local destination, most recently written first, "
        f">= {KEPT_VERSIONS.minimum}",
    )
    parser.add_argument(
        "--skip-if-present",
        action="store_true",
        help="exit 0 without training if the destination already holds a valid artifact: "
        "the --version one when given, else the one LATEST names",
    )
    parser.add_argument(
        "--no-plots",
        action="store_true",
        help="skip the model-card plots (they also skip when matplotlib is not installed)",
    )
    add_prediction_set_options(parser)
    add_gate_options(parser)
    return parser


def add_prediction_set_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("prediction sets (class-conditional split conformal)")
    group.add_argument(
        "--coverage",
        type=HOLD_OUT_FRACTION,
        default=DEFAULTS.coverage,
        help="probability, for each class, that a prediction set holds the true label, "
        f"in {HOLD_OUT_FRACTION.interval}",
    )
    group.add_argument(
        "--calibration-size",
        type=HOLD_OUT_FRACTION,
        default=DEFAULTS.calibration_size,
        help="fraction of the training rows kept from the served model's fit to calibrate "
        f"its prediction sets, in {HOLD_OUT_FRACTION.interval}",
    )


def add_gate_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "promotion gate (on the hold-out rows; refused: exit 4, nothing written)"
    )
    gate_options = (
        ("--min-roc-auc", GATE.min_roc_auc, "floor of the hold-out ROC-AUC"),
        (
            "--max-sensitivity-shortfall",
            GATE.max_sensitivity_shortfall,
            "hold-out sensitivity may fall at most this far below --target-sensitivity",
        ),
        ("--min-specificity", GATE.min_specificity, "floor of the hold-out specificity"),
        (
            "--champion-roc-auc-tolerance",
            GATE.champion_roc_auc_tolerance,
            "how far the ROC-AUC may fall below the champion's (the model LATEST names, "
            "scored on the same rows)",
        ),
        (
            "--champion-sensitivity-tolerance",
            GATE.champion_sensitivity_tolerance,
            "how far the sensitivity may fall below the champion's (each at its own threshold)",
        ),
    )
    for flag, default, meaning in gate_options:
        group.add_argument(
            flag, type=GATE_VALUE, default=default, help=f"{meaning}, in {GATE_VALUE.interval}"
        )
    group.add_argument(
        "--skip-promotion-gate",
        action="store_true",
        help="promote whatever the checks say (they still run and promotion.json records "
        "that the gate was skipped)",
    )


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    try:
        return run(options)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
