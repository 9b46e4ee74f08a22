"""Orchestrate one training run: check the destination, train, judge, publish. All I/O lives here.

A run that has nothing to train (``--skip-if-present`` with a valid artifact) or nowhere to
write (exit 3) ends before anything heavy is imported. A challenger the promotion gate
refuses (exit 4) is not written at all: no version directory, ``LATEST`` untouched.
"""

from __future__ import annotations

import argparse

from predictor.manifest import MANIFEST_FILENAME, sha256_hex
from training.gate import GatePolicy, PromotionDecision, Scores, decide
from training.report import progress, summary_table
from training.storage import StorageError, open_destination

EXIT_OK = 0
EXIT_DATA_ERROR = 2
EXIT_STORAGE_ERROR = 3
EXIT_REFUSED = 4


def gate_policy(options: argparse.Namespace) -> GatePolicy:
    return GatePolicy(
        min_roc_auc=options.min_roc_auc,
        max_sensitivity_shortfall=options.max_sensitivity_shortfall,
        min_specificity=options.min_specificity,
        champion_roc_auc_tolerance=options.champion_roc_auc_tolerance,
        champion_sensitivity_tolerance=options.champion_sensitivity_tolerance,
    )


def run(options: argparse.Namespace) -> int:
    """Run training end to end from parsed options; return the process exit code."""
    try:
        destination = open_destination(options.output, options.keep_versions)
        if options.skip_if_present and destination.holds_valid_artifact(options.version):
            which = f"version {options.version}" if options.version else "the LATEST version"
            progress(f"{which} in {options.output} is valid; skipping training")
            return EXIT_OK
        destination.preflight()
    except StorageError as error:
        progress(f"error: {error} (checked before training; nothing was trained)")
        return EXIT_STORAGE_ERROR
    # scikit-learn, SciPy and matplotlib take seconds to import: only now that training runs.
    from training.build import build_artifact, train_challenger
    from training.champion import load_champion, score_champion
    from training.data import FEATURE_NAMES, DataError

    try:
        champion = load_champion(destination)
    except StorageError as error:
        progress(f"error: {error} (checked before training; nothing was trained)")
        return EXIT_STORAGE_ERROR
    try:
        challenger = train_challenger(options)
    except DataError as error:
        progress(f"error: {error}")
        return EXIT_DATA_ERROR
    result = challenger.result
    decision = decide(
        Scores.from_metrics(result.metrics["holdout"]),
        score_champion(champion, FEATURE_NAMES, result.holdout_features, result.holdout_labels),
        gate_policy(options),
        challenger.config.target_sensitivity,
        skip=options.skip_promotion_gate,
    )
    report_decision(decision)
    if not decision.promoted:
        still = decision.champion_version
        progress(
            f"promotion refused: {decision.reasons()}. Nothing was written to {options.output}: "
            + (f"LATEST still names {still}" if still else "it holds no promoted model")
            + " (--skip-promotion-gate promotes anyway)"
        )
        return EXIT_REFUSED
    built = build_artifact(options, challenger, decision)
    try:
        destination.publish(built.version, built.files)
    except StorageError as error:
        progress(f"error: {error}")
        return EXIT_STORAGE_ERROR
    manifest_sha256 = sha256_hex(built.files[MANIFEST_FILENAME])
    progress(
        f"wrote version {built.version} to {options.output} (LATEST -> {built.version}; "
        f"{MANIFEST_FILENAME} sha256 {manifest_sha256})"
    )
    progress("summary\n" + summary_table(built.metrics))
    return EXIT_OK


def report_decision(decision: PromotionDecision) -> None:
    """One progress line per check, then the verdict."""
    progress(f"promotion gate: {decision.champion_note()}")
    for check in decision.checks:
        mark = "pass" if check.passed else "FAIL"
        progress(f"  {mark} {check.sentence(decision.champion_version)}")
    if decision.skipped and not decision.passed:
        progress(
            f"promotion gate skipped (--skip-promotion-gate): it would have refused "
            f"({decision.reasons()}); promoting anyway, recorded in promotion.json"
        )
