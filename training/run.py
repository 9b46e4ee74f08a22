"""Orchestrate one training run: load data, train, package, publish. All I/O lives here."""

from __future__ import annotations

import argparse
from pathlib import Path

from training.card import BOOTSTRAP_RESAMPLES, CARD_FILENAME, build_model_card
from training.data import DataError, Dataset, load_bundled, load_csv
from training.package import build_files
from training.plots import MISSING_MATPLOTLIB, render_plots
from training.report import progress, summary_table
from training.storage import (
    StorageError,
    is_s3,
    local_artifact_is_valid,
    s3_artifact_is_valid,
    s3_client,
    s3_endpoint,
    write_local,
    write_s3,
)
from training.train import TrainingConfig, train

EXIT_OK = 0
EXIT_DATA_ERROR = 2
EXIT_STORAGE_ERROR = 3


def run(options: argparse.Namespace) -> int:
    """Run training end to end from parsed options; return the process exit code."""
    destination: str = options.output
    endpoint = s3_endpoint() if is_s3(destination) else None
    client = s3_client(endpoint) if is_s3(destination) else None
    if options.skip_if_present and _artifact_present(destination, client):
        progress(f"a valid artifact is already in {destination}; skipping training")
        return EXIT_OK
    try:
        dataset = load_csv(options.data) if options.data else load_bundled()
    except DataError as error:
        progress(f"error: {error}")
        return EXIT_DATA_ERROR
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
        # e.g. more folds than rows of a class: the data cannot support this configuration
        progress(f"error: cannot train on {dataset.source}: {error}")
        return EXIT_DATA_ERROR
    version, files = build_files(
        result=result,
        dataset=dataset,
        config=config,
        model_name=options.model_name,
        extra_files=_model_card_files(options, result, dataset, config),
        version=options.version,
    )
    try:
        if client is not None:
            write_s3(destination, version, files, client, endpoint)
        else:
            write_local(Path(destination), version, files, keep=options.keep_versions)
    except StorageError as error:
        progress(f"error: {error}")
        return EXIT_STORAGE_ERROR
    progress(f"wrote version {version} to {destination} (LATEST -> {version})")
    progress("summary\n" + summary_table(result.metrics))
    return EXIT_OK


def _artifact_present(destination: str, client) -> bool:
    if client is not None:
        return s3_artifact_is_valid(destination, client)
    return local_artifact_is_valid(Path(destination))


def _model_card_files(options, result, dataset: Dataset, config: TrainingConfig) -> dict:
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
