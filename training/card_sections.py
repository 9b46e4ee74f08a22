"""The model card's prediction-set and promotion sections (markdown lines, pure)."""

from __future__ import annotations

from training.gate import PromotionDecision
from training.train import TrainingConfig, TrainingResult


def prediction_set_lines(result: TrainingResult, config: TrainingConfig) -> list[str]:
    """How the sets are made, their cut points and how they did on the hold-out rows."""
    calibration = result.calibration
    if calibration is None:
        return ["No prediction sets: this model was trained without calibration rows."]
    report = result.metrics["prediction_sets"]
    rows = calibration.rows
    lines = [
        f"Every prediction carries `prediction_set`: the labels that cannot be ruled out at "
        f"coverage {config.coverage}, for each class separately (class-conditional split "
        f"conformal). {rows['malignant']} malignant and {rows['benign']} benign calibration "
        "rows, which the served model never fitted, set two cut points on the probability of "
        "malignant:",
        "",
        f"- malignant stays in the set when the probability is at least "
        f"**{calibration.malignant_if_at_least:.4f}**;",
        f"- benign stays in the set when the probability is at most "
        f"**{calibration.benign_if_at_most:.4f}**.",
        "",
        f"The served set is that set joined with the served label (threshold "
        f"{result.threshold:.4f}), so a one-label set is always the label and the set is never "
        "empty; joining can only add labels, so coverage can only rise. A two-label set, "
        '`["benign", "malignant"]`, means the model cannot tell at this coverage: '
        "**indeterminate, refer**.",
        "",
        _served_zones(calibration.malignant_if_at_least, calibration.benign_if_at_most, result),
    ]
    for label, count in rows.items():
        if count < calibration.rows_needed:
            lines.append(
                f"\nOnly {count} {label} calibration rows: at least {calibration.rows_needed} "
                f"are needed for coverage {config.coverage}, so every set holds {label}."
            )
    lines += [
        "",
        "| hold-out | value |",
        "|---|---:|",
        f"| coverage, all rows (target {config.coverage}) | {report['coverage']:.3f} |",
        f"| coverage, malignant rows | {report['coverage_malignant']:.3f} |",
        f"| coverage, benign rows | {report['coverage_benign']:.3f} |",
        f"| two-label sets (indeterminate) | {report['two_label_share']:.1%} |",
        f"| mean set size | {report['mean_set_size']:.3f} |",
        "",
        "The guarantee is on average over calibration and new rows alike, for rows like the "
        "calibration rows (same population, same lab): one hold-out split can fall below it by "
        "chance, and rows unlike them are not covered by it.",
    ]
    return lines


def _served_zones(malignant_from: float, benign_to: float, result: TrainingResult) -> str:
    low, high = min(malignant_from, result.threshold), max(benign_to, result.threshold)
    if malignant_from >= result.threshold and benign_to < result.threshold:
        return (
            "With these cut points no probability gets a two-label set: the served label alone "
            "already holds the true label as often as the coverage asks."
        )
    return (
        f'Served sets: `["benign"]` below {low:.4f}, both labels from {low:.4f} to '
        f'{high:.4f}, `["malignant"]` above {high:.4f}.'
    )


def promotion_lines(decision: PromotionDecision | None) -> list[str]:
    """The gate's verdict and every check behind it."""
    if decision is None:
        return ["Not judged by the promotion gate."]
    if decision.passed:
        verdict = "**Promoted**: every check passed."
    else:
        verdict = (
            "**Promoted with the gate skipped** (`--skip-promotion-gate`); it would have "
            f"refused: {decision.reasons()}."
        )
    lines = [
        f"{verdict} Checks on the hold-out rows; {decision.champion_note()}. The full record "
        "is `promotion.json` in this directory.",
        "",
        "| metric | against | this model | required | reference | result |",
        "|---|---|---:|---:|---:|---|",
    ]
    for check in decision.checks:
        against = "floor" if check.against == "floor" else f"champion {decision.champion_version}"
        lines.append(
            f"| {check.metric} | {against} | {check.challenger:.4f} | {check.required:.4f} | "
            f"{check.reference:.4f} | {'pass' if check.passed else 'FAIL'} |"
        )
    return lines
