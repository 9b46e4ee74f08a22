"""Orchestrate one training run: check the destination, train, publish. All I/O lives here.

A run that has nothing to train (``--skip-if-present`` with a valid artifact) or nowhere to
write (exit 3) ends before anything heavy is imported.
"""

from __future__ import annotations

import argparse

from predictor.manifest import MANIFEST_FILENAME, sha256_hex
from training.report import progress, summary_table
from training.storage import StorageError, open_destination

EXIT_OK = 0
EXIT_DATA_ERROR = 2
EXIT_STORAGE_ERROR = 3


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
    from training.build import build_artifact
    from training.data import DataError

    try:
        built = build_artifact(options)
    except DataError as error:
        progress(f"error: {error}")
        return EXIT_DATA_ERROR
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
