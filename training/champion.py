"""The champion: the model ``LATEST`` names in the destination, read as the predictor reads it.

It is loaded with the predictor's own loader, so every file is checked against
``SHA256SUMS`` before anything is parsed or unpickled, and scored with the predictor's own
scorer on the challenger's hold-out rows at its own threshold. A champion that fails its
check, or whose features differ from the challenger's, cannot be compared: the gate then
says so and judges by the floors alone (a broken champion must not block its repair).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from predictor.artifact import LATEST_FILENAME, ArtifactError
from predictor.loader import Artifact, load_artifact
from training.evaluate import classification_metrics
from training.gate import Champion, Scores
from training.storage import Destination


def load_champion(destination: Destination) -> Artifact | Champion | None:
    """The verified champion, a ``Champion`` saying why it cannot be used, or None.

    Raises:
        StorageError: The destination cannot be read.
    """
    with tempfile.TemporaryDirectory(prefix="champion-") as scratch:
        location = destination.fetch_current(Path(scratch))
        if location is None:
            return None
        named = (location / LATEST_FILENAME).read_text(encoding="utf-8", errors="replace")
        try:
            # The scorer holds everything it needs in memory: the scratch copy can go.
            return load_artifact(location)
        except ArtifactError as error:
            return Champion(named.strip() or "(LATEST is empty)", not_comparable=str(error))


def score_champion(
    champion: Artifact | Champion | None,
    feature_names: Sequence[str],
    features: np.ndarray,
    labels: np.ndarray,
) -> Champion | None:
    """The champion's gate scores on the challenger's hold-out rows, or why there are none.

    Args:
        champion: What ``load_champion`` returned.
        feature_names: The challenger's features, in its order (the rows' columns).
        features: The challenger's hold-out rows.
        labels: Their labels (1 = malignant).
    """
    if not isinstance(champion, Artifact):
        return champion
    theirs, ours = list(champion.feature_names), list(feature_names)
    if theirs != ours:
        missing = [name for name in ours if name not in theirs]
        extra = [name for name in theirs if name not in ours]
        difference = (
            f"missing {missing}, extra {extra}"
            if missing or extra
            else "the same names in another order"
        )
        return Champion(
            champion.version,
            not_comparable=f"its feature schema differs from the challenger's: {difference}",
        )
    probabilities = champion.scorer.probability_malignant(features)
    metrics = classification_metrics(labels, probabilities, champion.threshold)
    return Champion(champion.version, scores=Scores.from_metrics(metrics))
