"""``python -m predictor``: read the settings once, load the model, hand both to the server."""

from __future__ import annotations

import sys

from predictor.serving import multiprocess_metrics, startup  # cheap: standard library only

if __name__ == "__main__":
    # No cyclic GC while KServe and NumPy import (~7% of start-up); see startup.
    startup.begin()
    # Before prometheus_client is first imported: it picks its mode then (see there).
    multiprocess_metrics.prepare(sys.argv[1:])
    startup.import_kserve()  # minus pandas and the Kubernetes client; see there

import logging

from predictor import cli
from predictor.artifact import EXIT_NO_MODEL, ArtifactError
from predictor.model import BreastCancerModel
from predictor.serving.logs import configure_logging
from predictor.serving.server import serve

logger = logging.getLogger("predictor")


def main(argv: list[str] | None = None) -> int:
    command = cli.parse(argv)
    settings = command.settings
    configure_logging(settings)
    for warning in command.warnings:
        logger.warning("%s", warning)
    logger.info("%s", command.effective())
    model = BreastCancerModel(settings.model_name, settings.model_dir, settings)
    try:
        model.load()
    except ArtifactError as error:
        logger.error("%s", error)
        return EXIT_NO_MODEL
    finally:
        startup.end()
    return serve(model, settings)


if __name__ == "__main__":
    sys.exit(main())
