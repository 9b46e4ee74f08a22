"""Build an artifact's files from the command-line options: load data, train, card, package.

Imports scikit-learn, SciPy and (for the plots) matplotlib, several seconds in all, so
``run.py`` imports this module only once training is going to happen.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from training.card import BOOTSTRAP_RESAMPLES, CARD_FILENAME, build_model_card
from training.config import TrainingConfig
from training.data import DataError, Dataset, load_bundled, load_csv
from training.package import build_files
from training.plots import MISSING_MATPLOTLIB, render_plots
from training.report import progress
from training.train import TrainingResult, train


@dataclass(frozen=True)
class BuiltArtifact:
    """A new version's name, its files in upload order, and the metrics that justify it."""

    version: str
    files: dict[str, bytes]
    metrics: dict


def build_artifact(options: argparse.Namespace) -> BuiltArtifact:
    """Train on the data ``options`` name and package the result; nothing is written.

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
    )
    try:
        result = train(dataset, config, progress)
    except ValueError as error:
        raise DataError(f"cannot train on {dataset.source}: {error}") from error
    version, files = build_files(
        result=result,
        dataset=dataset,
        config=config,
        model_name=options.model_name,
        extra_files=model_card_files(options, result, dataset, config),
        version=options.version,
    )
    return BuiltArtifact(version, files, result.metrics)


def model_card_files(
    options: argparse.Namespace, result: TrainingResult, dataset: Dataset, config: TrainingConfig
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
    )
    progress(
        f"{CARD_FILENAME}: hold-out metrics with 95% bootstrap intervals "
        f"({BOOTSTRAP_RESAMPLES} resamples, seed {config.seed})"
    )
    return {CARD_FILENAME: card.encode(), **plots}
