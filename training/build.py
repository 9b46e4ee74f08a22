"""Train a challenger from the command-line options, then package it: load data, train, card.

Imports scikit-learn, SciPy and (for the plots) matplotlib, several seconds in all, so
``run.py`` imports this module only once training is going to happen.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from training.card import BOOTSTRAP_RESAMPLES, CARD_FILENAME, build_model_card
from training.config import TrainingConfig
from training.data import DataError, Dataset, load_bundled, load_csv
from training.gate import PromotionDecision
from training.package import PROMOTION_FILENAME, build_files, new_version
from training.plots import MISSING_MATPLOTLIB, render_plots
from training.report import progress
from training.train import TrainingResult, train


@dataclass(frozen=True)
class Challenger:
    """A trained model that is not yet an artifact: the promotion gate judges it first."""

    dataset: Dataset
    config: TrainingConfig
    result: TrainingResult


@dataclass(frozen=True)
class BuiltArtifact:
    """A new version's name, its files in upload order, and the metrics that justify it."""

    version: str
    files: dict[str, bytes]
    metrics: dict


def train_challenger(options: argparse.Namespace) -> Challenger:
    """Train on the data ``options`` name; nothing is written.

    Raises:
        DataError: Unusable data, or data that cannot support the configuration (e.g. more
            folds than rows of a class); the message names the problem.
    """
    dataset = load_csv(options.data) if options.data else load_bundled()
    progress(
        f"loaded {len(dataset.labels)} rows from {dataset.source} "
        f"({dataset.class_counts['malignant']} malignant, {dataset.class_counts['benign']} benign)"
    )
    config = TrainingConfig(
        seed=options.seed,
        test_size=options.test_size,
        cv_folds=options.cv_folds,
        target_sensitivity=options.target_sensitivity,
        classifier=options.classifier,
        regularization=options.regularization,
        calibration_size=options.calibration_size,
        coverage=options.coverage,
    )
    try:
        result = train(dataset, config, progress)
    except ValueError as error:
        raise DataError(f"cannot train on {dataset.source}: {error}") from error
    return Challenger(dataset, config, result)


def build_artifact(
    options: argparse.Namespace, challenger: Challenger, decision: PromotionDecision
) -> BuiltArtifact:
    """The files of a promoted challenger, its promotion record among them."""
    created_at = datetime.now(UTC)
    version = options.version or new_version(created_at)
    promotion = {"version": version, **decision.to_json()}
    extra = model_card_files(
        options, challenger.result, challenger.dataset, challenger.config, decision
    )
    extra[PROMOTION_FILENAME] = json.dumps(promotion, indent=2).encode() + b"\n"
    version, files = build_files(
        result=challenger.result,
        dataset=challenger.dataset,
        config=challenger.config,
        model_name=options.model_name,
        extra_files=extra,
        version=version,
        created_at=created_at,
    )
    return BuiltArtifact(version, files, challenger.result.metrics)


def model_card_files(
    options: argparse.Namespace,
    result: TrainingResult,
    dataset: Dataset,
    config: TrainingConfig,
    decision: PromotionDecision | None = None,
) -> dict[str, bytes]:
    """The model card and its hold-out plots, written next to the model in the version dir."""
    if options.no_plots:
        plots, skipped = {}, "--no-plots was given"
    else:
        plots = render_plots(
            result.holdout_labels,
            result.holdout_probabilities,
            result.threshold,
            config.target_sensitivity,
        )
        skipped = None if plots else MISSING_MATPLOTLIB
    progress(f"plots skipped: {skipped}" if skipped else f"plots: {', '.join(plots)}")
    card = build_model_card(
        model_name=options.model_name,
        result=result,
        dataset=dataset,
        config=config,
        plot_files=list(plots),
        plots_skipped=skipped,
        promotion=decision,
    )
    progress(
        f"{CARD_FILENAME}: hold-out metrics with 95% bootstrap intervals "
        f"({BOOTSTRAP_RESAMPLES} resamples, seed {config.seed})"
    )
    return {CARD_FILENAME: card.encode(), **plots}
