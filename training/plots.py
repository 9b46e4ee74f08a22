"""PNG plots for the model card, from the hold-out split (matplotlib is an optional extra).

matplotlib is imported lazily and drawn with ``Figure`` + ``FigureCanvasAgg`` (no pyplot, no
global backend state); without it :func:`render_plots` returns ``{}`` and training carries on.
"""

from __future__ import annotations

import io

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score, roc_curve

MISSING_MATPLOTLIB = "matplotlib not installed (pip install '.[plots]')"
PLOT_TITLES = {
    "roc_curve.png": "ROC curve",
    "calibration_curve.png": "Calibration (reliability) curve",
    "confusion_matrix.png": "Confusion matrix at the threshold",
    "threshold_tradeoff.png": "Sensitivity and specificity against the threshold",
}
PLOT_FILENAMES = tuple(PLOT_TITLES)
CALIBRATION_BINS = 10
MALIGNANT_COLOR, BENIGN_COLOR, THRESHOLD_COLOR = "#c0392b", "#2471a3", "#7d3c98"


def render_plots(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, target_sensitivity: float
) -> dict[str, bytes]:
    """Draw the four card plots; ``{}`` when matplotlib is not importable.

    Args:
        labels: Hold-out labels, 1 = malignant.
        probabilities: Hold-out probability of malignant.
        threshold: Predict malignant when probability >= threshold.
        target_sensitivity: The sensitivity the threshold was chosen for (on training OOF rows).

    Returns:
        {filename: PNG bytes} for the names in ``PLOT_FILENAMES``; same inputs, same bytes.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return {}
    labels = np.asarray(labels) == 1
    probabilities = np.asarray(probabilities, dtype=np.float64)
    drawers = (_roc, _calibration, _confusion, _tradeoff)
    pngs = {}
    for name, draw in zip(PLOT_FILENAMES, drawers, strict=True):
        figure = Figure(figsize=(6.4, 5.6), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure, labels, probabilities, threshold, target_sensitivity)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        pngs[name] = buffer.getvalue()
    return pngs


def _rates(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> tuple[float, float]:
    predicted = probabilities >= threshold
    return float(np.mean(predicted[labels])), float(np.mean(~predicted[~labels]))


def _roc(figure, labels, probabilities, threshold, _target) -> None:
    axes = figure.add_subplot()
    false_positive, true_positive, _ = roc_curve(labels, probabilities)
    auc = roc_auc_score(labels, probabilities)
    sensitivity, specificity = _rates(labels, probabilities, threshold)
    axes.plot(false_positive, true_positive, color=MALIGNANT_COLOR, label=f"ROC (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    axes.plot(
        1 - specificity,
        sensitivity,
        "o",
        color=THRESHOLD_COLOR,
        label=f"threshold {threshold:.3f}: sens {sensitivity:.3f}, spec {specificity:.3f}",
    )
    axes.set(
        title="ROC curve (hold-out split, positive = malignant)",
        xlabel="1 - specificity (benign flagged as malignant)",
        ylabel="sensitivity (malignant detected)",
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    zoom = axes.inset_axes((0.4, 0.28, 0.5, 0.45), xlim=(-0.005, 0.2), ylim=(0.8, 1.005))
    zoom.plot(false_positive, true_positive, color=MALIGNANT_COLOR)
    zoom.plot(1 - specificity, sensitivity, "o", color=THRESHOLD_COLOR)
    zoom.set_title("zoom: top-left corner", fontsize=9)
    zoom.tick_params(labelsize=8)
    zoom.grid(alpha=0.3)
    axes.indicate_inset_zoom(zoom, edgecolor="grey")


def _calibration(figure, labels, probabilities, _threshold, _target) -> None:
    curve, histogram = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    observed, predicted = calibration_curve(
        labels, probabilities, n_bins=CALIBRATION_BINS, strategy="quantile"
    )
    curve.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    curve.plot(predicted, observed, "o-", color=MALIGNANT_COLOR, label="model")
    curve.set(
        title=f"Calibration (hold-out split, {CALIBRATION_BINS} quantile bins)",
        ylabel="observed fraction malignant",
        ylim=(-0.02, 1.02),
    )
    curve.grid(alpha=0.3)
    curve.legend(loc="upper left")
    rows = len(labels) / CALIBRATION_BINS
    note = f"each point: one bin of ~{rows:.0f} rows;\nbins near 0 or 1 overlap"
    curve.text(0.98, 0.04, note, transform=curve.transAxes, ha="right", va="bottom", fontsize=9)
    bins = np.linspace(0, 1, 21)
    histogram.hist(probabilities[labels], bins=bins, color=MALIGNANT_COLOR, alpha=0.6)
    histogram.hist(probabilities[~labels], bins=bins, color=BENIGN_COLOR, alpha=0.6)
    histogram.legend(["malignant", "benign"], loc="upper center", ncols=2)
    histogram.set(xlabel="predicted probability of malignant", ylabel="rows", xlim=(0, 1))


def _confusion(figure, labels, probabilities, threshold, _target) -> None:
    axes = figure.add_subplot()
    predicted = probabilities >= threshold
    counts = np.array(
        [
            [np.sum(labels & predicted), np.sum(labels & ~predicted)],
            [np.sum(~labels & predicted), np.sum(~labels & ~predicted)],
        ]
    )
    axes.imshow(counts, cmap="Blues", vmin=0)
    names = ["malignant", "benign"]
    axes.set_xticks([0, 1], [f"predicted\n{name}" for name in names])
    axes.set_yticks([0, 1], [f"actual\n{name}" for name in names])
    for (row, column), count in np.ndenumerate(counts):
        dark = count > counts.max() / 2
        color = "white" if dark else "black"
        axes.text(column, row, str(count), ha="center", va="center", fontsize=22, color=color)
    axes.set_title(f"Confusion matrix (hold-out split, threshold {threshold:.3f})")


def _tradeoff(figure, labels, probabilities, threshold, target) -> None:
    axes = figure.add_subplot()
    grid = np.unique(np.concatenate([np.linspace(0, 1, 201), probabilities, [threshold]]))
    rates = np.array([_rates(labels, probabilities, value) for value in grid])
    sensitivity, specificity = _rates(labels, probabilities, threshold)
    axes.step(grid, rates[:, 0], where="pre", color=MALIGNANT_COLOR, label="sensitivity")
    axes.step(grid, rates[:, 1], where="pre", color=BENIGN_COLOR, label="specificity")
    target_label = f"target sensitivity {target} (applied to training OOF rows)"
    axes.axhline(target, color="grey", linestyle="--", label=target_label)
    axes.axvline(
        threshold,
        color=THRESHOLD_COLOR,
        linestyle=":",
        label=f"threshold {threshold:.3f}: sens {sensitivity:.3f}, spec {specificity:.3f}",
    )
    axes.set(
        title="Sensitivity and specificity vs threshold (hold-out split)",
        xlabel="threshold on probability of malignant (predict malignant if >=)",
        ylabel="rate",
        xlim=(0, 1),
        ylim=(-0.02, 1.02),
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower center")
