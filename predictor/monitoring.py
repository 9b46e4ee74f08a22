"""Is the model still right for what it is sent: drift, predicted share, model age, at scrape.

One custom prometheus_client collector, :data:`COLLECTOR`, computes its gauges when
``/metrics`` is scraped, from the served model (:class:`Monitoring`) and the pod's drift
window (``predictor.drift``). It is registered in prometheus_client's default registry,
which ``/metrics`` serves with one process; with ``--workers`` above 1 the serving room adds
it to the registry of its multi-process ``/metrics``. The figures are the pod's whatever
process answers: the window merges every process's ring and the rest is the artifact's.
Nothing is written per request for them, so multi-process mode has nothing to sum.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from predictor.drift import DriftWindow
from predictor.drift_reference import DRIFT_REFERENCE_FILENAME
from predictor.loader import Artifact

logger = logging.getLogger(__name__)

PSI = "breast_cancer_feature_psi"
WINDOW_INSTANCES = "breast_cancer_drift_window_instances"
PREDICTED_MALIGNANT = "breast_cancer_predicted_malignant_ratio"
TRAINING_MALIGNANT = "breast_cancer_training_malignant_ratio"
TARGET_SENSITIVITY = "breast_cancer_model_target_sensitivity"
TRAINED_AT = "breast_cancer_model_trained_timestamp_seconds"
HELP = {
    PSI: "PSI of the last --drift_window scored instances against the training distribution, "
    "per feature (NaN below --drift_min_instances): < 0.1 stable, 0.1-0.2 moderate, >= 0.2 "
    "significant.",
    WINDOW_INSTANCES: "Scored instances the PSI and the predicted malignant ratio are "
    "computed from (the pod's most recent, at most --drift_window).",
    PREDICTED_MALIGNANT: "Share of malignant labels over the drift window (NaN below "
    "--drift_min_instances).",
    TRAINING_MALIGNANT: "Share of malignant cases in the rows the served model was fitted on.",
    TARGET_SENSITIVITY: "Sensitivity the served model's threshold was chosen for (training).",
    TRAINED_AT: "Unix time the served model was trained.",
}


@dataclass
class Monitoring:
    """What the served model says about itself, and its drift window (None without a
    training reference in the artifact)."""

    feature_names: list[str]
    trained_at: float | None
    target_sensitivity: float | None
    training_malignant_ratio: float | None
    window: DriftWindow | None

    @classmethod
    def of(cls, metadata: dict[str, Any], window: DriftWindow | None) -> Monitoring:
        target = metadata.get("target_sensitivity")
        return cls(
            feature_names=list(metadata["feature_names"]),
            trained_at=_timestamp(metadata.get("created_at")),
            target_sensitivity=float(target) if _is_number(target) else None,
            training_malignant_ratio=window.reference.malignant_ratio if window else None,
            window=window,
        )

    def publish(self) -> None:
        """Serve these figures from this process's ``/metrics``."""
        COLLECTOR.monitoring = self

    def __setstate__(self, state: dict) -> None:
        # A --workers child unpickles the model: its /metrics serves the same figures.
        self.__dict__.update(state)
        self.publish()


class MonitoringCollector:
    """prometheus_client custom collector of the served model's :class:`Monitoring`."""

    def __init__(self) -> None:
        self.monitoring: Monitoring | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, text in HELP.items():
            yield GaugeMetricFamily(name, text, labels=["feature"] if name == PSI else None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        monitoring = self.monitoring
        if monitoring is None:
            return
        statics = {
            TRAINED_AT: monitoring.trained_at,
            TARGET_SENSITIVITY: monitoring.target_sensitivity,
            TRAINING_MALIGNANT: monitoring.training_malignant_ratio,
        }
        for name, value in statics.items():
            if value is not None:
                yield GaugeMetricFamily(name, HELP[name], value=value)
        if monitoring.window is None:
            return
        figures = monitoring.window.figures()
        yield GaugeMetricFamily(WINDOW_INSTANCES, HELP[WINDOW_INSTANCES], value=figures.instances)
        ratio = figures.predicted_malignant_ratio
        yield GaugeMetricFamily(PREDICTED_MALIGNANT, HELP[PREDICTED_MALIGNANT], value=ratio)
        psi = GaugeMetricFamily(PSI, HELP[PSI], labels=["feature"])
        values = figures.psi.tolist() if figures.psi is not None else None
        for index, name in enumerate(monitoring.feature_names):
            psi.add_metric([name], values[index] if values is not None else math.nan)
        yield psi


def start_monitoring(artifact: Artifact, window: int, min_instances: int) -> Monitoring:
    """The served model's figures, published; its drift window when the artifact has a
    training reference (without one, said once in the log)."""
    reference = artifact.drift_reference
    drift = None
    if reference is None:
        logger.info(
            "%s has no %s (trained before drift figures existed): %s and the drift window "
            "figures are not reported; retrain to get them",
            artifact.directory,
            DRIFT_REFERENCE_FILENAME,
            PSI,
        )
    else:
        drift = DriftWindow.from_environment(
            reference, artifact.threshold, capacity=window, min_instances=min_instances
        )
    monitoring = Monitoring.of(artifact.metadata, drift)
    monitoring.publish()
    return monitoring


def _timestamp(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


COLLECTOR = MonitoringCollector()
REGISTRY.register(COLLECTOR)
