"""The model card (``model_card.md``): use, provenance, metrics with bootstrap CIs, caveats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from predictor.drift_reference import DRIFT_REFERENCE_FILENAME, DriftReference
from training.card_sections import prediction_set_lines, promotion_lines
from training.data import Dataset
from training.evaluate import classification_metrics
from training.gate import PromotionDecision
from training.plots import PLOT_TITLES
from training.train import TrainingConfig, TrainingResult

CARD_FILENAME = "model_card.md"
INTERVAL_METRICS = ("roc_auc", "sensitivity", "specificity", "precision", "accuracy", "brier")
BOOTSTRAP_RESAMPLES = 1000


def bootstrap_intervals(
    labels: np.ndarray,
    probabilities: np.ndarray,
    threshold: float,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap intervals of the hold-out metrics, resampling rows.

    Each resample draws ``len(labels)`` rows with replacement; it is evaluated through how
    often it drew each row (same numbers as re-running the metrics, without the loop). A
    resample with one class only has no AUC, sensitivity or specificity, and one without
    predicted malignant rows has no precision: it is skipped for those metrics only.

    Returns:
        {metric: (low, high)} for roc_auc, sensitivity, specificity, precision, accuracy, brier.
    """
    actual = np.asarray(labels) == 1
    scores = np.asarray(probabilities, dtype=np.float64)
    predicted, rows = scores >= threshold, len(actual)
    drawn = np.random.default_rng(seed).integers(0, rows, (resamples, rows))
    offsets = np.arange(resamples)[:, None] * rows
    counts = np.bincount((drawn + offsets).ravel(), minlength=resamples * rows)
    counts = counts.reshape(resamples, rows).astype(np.float64)
    positives, negatives = counts[:, actual], counts[:, ~actual]
    true_pos = counts[:, actual & predicted].sum(axis=1)
    true_neg = counts[:, ~actual & ~predicted].sum(axis=1)
    flagged = counts[:, predicted].sum(axis=1)
    # AUC = P(malignant row outscores benign row), ties count 1/2: per malignant row, the drawn
    # weight of benign rows below it, from cumulative sums over benign rows sorted by score
    order = np.argsort(scores[~actual], kind="stable")
    benign_sorted = scores[~actual][order]
    below = np.cumsum(np.pad(negatives[:, order], ((0, 0), (1, 0))), axis=1)
    lower = np.searchsorted(benign_sorted, scores[actual], side="left")
    upper = np.searchsorted(benign_sorted, scores[actual], side="right")
    wins = below[:, lower] + 0.5 * (below[:, upper] - below[:, lower])
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = {
            "roc_auc": (positives * wins).sum(axis=1)
            / (positives.sum(axis=1) * negatives.sum(axis=1)),
            "sensitivity": true_pos / positives.sum(axis=1),
            "specificity": true_neg / negatives.sum(axis=1),
            "precision": true_pos / flagged,
            "accuracy": (true_pos + true_neg) / rows,
            "brier": counts @ (scores - actual) ** 2 / rows,
        }
    finite = {name: values[np.isfinite(values)] for name, values in samples.items()}
    return {
        name: (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
        if values.size
        else (float("nan"), float("nan"))
        for name, values in finite.items()
    }


def build_model_card(
    *,
    model_name: str,
    result: TrainingResult,
    dataset: Dataset,
    config: TrainingConfig,
    plot_files: Sequence[str] = (),
    plots_skipped: str | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    promotion: PromotionDecision | None = None,
) -> str:
    """Render the card from one training run (pure: no I/O, no clock, deterministic).

    Args:
        plot_files: PNG names written next to the card; linked with relative paths.
        plots_skipped: Why there are no plots (stated in the card), or None.
        promotion: The promotion gate's decision on this model.
    """
    holdout, rows = result.metrics["holdout"], result.metrics["rows"]
    out_of_fold = result.metrics["cross_validation"]["out_of_fold"]
    labels, scores = result.holdout_labels, result.holdout_probabilities
    intervals = bootstrap_intervals(labels, scores, result.threshold, config.seed, resamples)
    counts, target = dataset.class_counts, config.target_sensitivity
    malignant = max(holdout["true_malignant"] + holdout["false_benign"], 1)
    lines = [
        f"# Model card: {model_name}",
        "",
        f"Binary classifier ({config.classifier}, scaled inputs) scoring the probability that a "
        "breast mass is **malignant** (the positive class) from 30 features of a fine-needle "
        "aspirate (FNA). Version, creation time and library versions: see `metadata.json` in this "
        f"directory. Training config: seed {config.seed}, hold-out fraction {config.test_size}, "
        f"{config.cv_folds}-fold CV, regularisation C = {config.regularization}.",
        "\n## Intended use\n",
        "- Decision support for research and education on FNA-derived cell-nucleus features.",
        "- At most a clinician-facing triage aid: a second opinion that flags cases for review "
        "by a qualified person, who makes every decision.",
        "\n## Out-of-scope use\n",
        "- **Not a diagnostic device.** Not cleared or validated for clinical diagnosis; never act "
        "on its output alone.",
        "- Not for images: it takes the 30 numeric WDBC features, not slides or mammograms.",
        "- Not for populations, labs or measurement protocols unlike WDBC's (one institution's "
        "patients, features from its own digitised-image segmentation); scores there are "
        "unvalidated.",
        "\n## Data provenance\n",
        f"- Source: `{dataset.source}`; {len(dataset.labels)} rows "
        f"({counts['malignant']} malignant, {counts['benign']} benign).",
        f"- sha256 fingerprint (feature names, values, labels): `{dataset.fingerprint}`",
        f"- Stratified split: {rows['holdout']} hold-out rows never seen by fitting, threshold "
        f"choice or calibration; {rows['train']} training rows for cross-validation and the "
        f"threshold, of which {rows['fit']} fit the served model and {rows['calibration']} "
        "calibrate its prediction sets (never fitted).",
        "\n## Metrics (hold-out split, positive class = malignant)\n",
        f"95% intervals: percentile bootstrap over hold-out rows, {resamples} resamples, "
        f"seed {config.seed}. Out-of-fold (OOF) = {config.cv_folds}-fold CV on training rows.\n",
        "| metric | hold-out | 95% CI | training OOF |",
        "|---|---:|---:|---:|",
    ]
    for name in INTERVAL_METRICS:
        low, high = intervals[name]
        lines.append(
            f"| {name} | {holdout[name]:.3f} | {low:.3f} to {high:.3f} | {out_of_fold[name]:.3f} |"
        )
    lines += ["\n## Decision threshold\n", *_threshold_lines(result, target)]
    lines += ["\n## Prediction sets\n", *prediction_set_lines(result, config)]
    lines += ["\n## Promotion\n", *promotion_lines(promotion)]
    lines += [
        f"\n## Confusion matrix (hold-out, threshold {result.threshold:.4f})\n",
        "| | predicted malignant | predicted benign |",
        "|---|---:|---:|",
        f"| **actual malignant** | {holdout['true_malignant']} | {holdout['false_benign']} |",
        f"| **actual benign** | {holdout['false_malignant']} | {holdout['true_benign']} |",
        *_drift_lines(result.drift_reference, rows["holdout"]),
        "\n## Caveats\n",
        f"- Small data set: {len(dataset.labels)} rows from one institution (WDBC). The hold-out "
        f"split has {rows['holdout']} rows ({malignant} malignant), so the intervals above are "
        f"wide: one more missed cancer moves hold-out sensitivity by {100 / malignant:.1f} points.",
        f"- Calibration: hold-out Brier score {holdout['brier']:.3f}. Probabilities reflect the "
        f"training prevalence ({counts['malignant'] / len(dataset.labels):.0%} malignant); where "
        "cancer is rarer they overstate risk and precision will be lower. Read the score as a "
        "ranking plus the threshold, not as a calibrated risk.",
        "- Inputs outside the per-feature training range (recorded in `metadata.json`) are "
        "flagged by the server with a warning; they are still scored, and less trustworthy.",
        "- The threshold was met on training OOF rows; on new data sensitivity can fall below "
        "the target (see the hold-out figure and its interval).",
        "\n## Plots (hold-out split)\n",
    ]
    lines += [f"![{PLOT_TITLES.get(name, name)}]({name})\n" for name in plot_files]
    if plots_skipped:
        lines.append(f"Plots skipped: {plots_skipped}.")
    return "\n".join(lines) + "\n"


def _drift_lines(reference: DriftReference | None, holdout_rows: int) -> list[str]:
    """The training distribution the predictor measures drift against (PSI per feature)."""
    if reference is None:
        return []
    lines = [
        "\n## Training distribution (drift reference)\n",
        f"`{DRIFT_REFERENCE_FILENAME}` holds, for each feature, its deciles over the "
        f"{reference.rows} rows the model was fitted on (the {holdout_rows} hold-out rows "
        "excluded; tied deciles merged) and the share of those rows in each bin. The predictor "
        "compares the bins of its last `--drift_window` scored instances with these shares "
        "(`breast_cancer_feature_psi`: < 0.1 stable, 0.1-0.2 moderate, >= 0.2 significant). "
        f"Training prevalence of malignant: {reference.malignant_ratio:.1%} "
        "(`breast_cancer_training_malignant_ratio`; compare with the predicted share).\n",
        "| feature | bins | lowest cut | median cut | highest cut | largest bin share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, cuts, shares in zip(
        reference.feature_names, reference.cuts, reference.shares, strict=True
    ):
        lines.append(
            f"| {name} | {len(shares)} | {cuts[0]:.4g} | {cuts[len(cuts) // 2]:.4g} | "
            f"{cuts[-1]:.4g} | {shares.max():.0%} |"
        )
    return lines


def _threshold_lines(result: TrainingResult, target: float) -> list[str]:
    oof = result.metrics["cross_validation"]["out_of_fold"]
    lines = [
        f"Predict malignant when the probability is >= **{result.threshold:.4f}**: the highest "
        f"threshold whose sensitivity on out-of-fold training predictions is at least {target} "
        f"(a missed cancer costs more than a false alarm). On those rows it gives sensitivity "
        f"{oof['sensitivity']:.3f} and specificity {oof['specificity']:.3f}."
    ]
    if result.out_of_fold_labels.size:
        half = classification_metrics(
            result.out_of_fold_labels, result.out_of_fold_probabilities, 0.5
        )
        lines.append(
            f"\nWhat it costs: against the conventional 0.5 cut-off on the same rows, "
            f"specificity goes {half['specificity']:.3f} -> {oof['specificity']:.3f} (benign "
            f"cases flagged {half['false_malignant']} -> {oof['false_malignant']}) and "
            f"sensitivity {half['sensitivity']:.3f} -> {oof['sensitivity']:.3f} (cancers missed "
            f"{half['false_benign']} -> {oof['false_benign']})."
        )
    return lines
