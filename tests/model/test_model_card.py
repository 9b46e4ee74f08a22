"""Model card and plots: bootstrap intervals, the card's sections, and what training writes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

from predictor.artifact import resolve_version_dir
from training.__main__ import main as training_main
from training.build import model_card_files
from training.card import CARD_FILENAME, INTERVAL_METRICS, bootstrap_intervals, build_model_card
from training.data import load_bundled
from training.evaluate import classification_metrics
from training.plots import MISSING_MATPLOTLIB, PLOT_FILENAMES, render_plots
from training.train import TrainingConfig, TrainingResult, train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTIONS = (
    "## Intended use",
    "## Out-of-scope use",
    "## Data provenance",
    "## Metrics (hold-out split",
    "## Decision threshold",
    "## Confusion matrix",
    "## Training distribution (drift reference)",
    "## Caveats",
    "## Plots",
)


@pytest.fixture(scope="module")
def trained() -> TrainingResult:
    return train(load_bundled(), TrainingConfig())


def test_bootstrap_intervals_are_ordered_and_contain_the_point_estimate(
    trained: TrainingResult,
) -> None:
    labels, scores = trained.holdout_labels, trained.holdout_probabilities
    intervals = bootstrap_intervals(labels, scores, trained.threshold, seed=42, resamples=1000)
    assert set(intervals) == set(INTERVAL_METRICS)
    point = classification_metrics(labels, scores, trained.threshold)
    for name, (low, high) in intervals.items():
        assert low <= point[name] <= high, name
        assert low < high, name
    assert 0.0 <= intervals["roc_auc"][0] <= intervals["roc_auc"][1] <= 1.0
    again = bootstrap_intervals(labels, scores, trained.threshold, seed=42, resamples=1000)
    assert again == intervals


def test_bootstrap_matches_recomputing_the_metrics_on_each_resample(
    trained: TrainingResult,
) -> None:
    labels, scores, threshold = (
        trained.holdout_labels,
        trained.holdout_probabilities,
        trained.threshold,
    )
    resamples = 200
    rows = np.random.default_rng(7).integers(0, len(labels), (resamples, len(labels)))
    loop = [classification_metrics(labels[r], scores[r], threshold) for r in rows]
    intervals = bootstrap_intervals(labels, scores, threshold, seed=7, resamples=resamples)
    for name in INTERVAL_METRICS:
        expected = np.percentile([metrics[name] for metrics in loop], [2.5, 97.5])
        np.testing.assert_allclose(intervals[name], expected, rtol=0, atol=1e-12)


def test_bootstrap_skips_single_class_resamples_for_class_metrics() -> None:
    # 1 malignant row in 40: many resamples draw no malignant row at all
    labels = np.array([1] + [0] * 39)
    scores = np.linspace(0.9, 0.0, 40)
    intervals = bootstrap_intervals(labels, scores, 0.5, seed=0, resamples=300)
    assert intervals["roc_auc"] == (1.0, 1.0)
    assert intervals["sensitivity"] == (1.0, 1.0)
    assert all(np.isfinite(bound) for bounds in intervals.values() for bound in bounds)


def test_card_has_required_sections_and_provenance(trained: TrainingResult) -> None:
    dataset = load_bundled()
    card = build_model_card(
        model_name="breast-cancer",
        result=trained,
        dataset=dataset,
        config=TrainingConfig(),
        plot_files=PLOT_FILENAMES,
    )
    for section in SECTIONS:
        assert section in card, section
    assert "Not a diagnostic device" in card
    assert dataset.fingerprint in card
    assert f"{trained.threshold:.4f}" in card
    assert "95%" in card and "bootstrap" in card
    assert "metadata.json" in card  # where the version lives
    reference = trained.drift_reference
    assert f"{reference.rows} rows the model was fitted on" in card
    assert f"Training prevalence of malignant: {reference.malignant_ratio:.1%}" in card
    assert "| mean area | 10 |" in card
    for name in PLOT_FILENAMES:
        assert f"]({name})" in card
    assert "Plots skipped" not in card
    assert "{" not in card  # no unfilled placeholders


def test_render_plots_returns_deterministic_pngs(trained: TrainingResult) -> None:
    arguments = (trained.holdout_labels, trained.holdout_probabilities, trained.threshold, 0.98)
    pngs = render_plots(*arguments)
    assert list(pngs) == list(PLOT_FILENAMES)
    assert all(png.startswith(PNG_SIGNATURE) and len(png) > 5_000 for png in pngs.values())
    assert render_plots(*arguments) == pngs


def test_without_matplotlib_the_card_is_written_and_says_plots_were_skipped(
    trained: TrainingResult, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    assert render_plots(trained.holdout_labels, trained.holdout_probabilities, 0.5, 0.98) == {}
    options = argparse.Namespace(no_plots=False, model_name="breast-cancer")
    files = model_card_files(options, trained, load_bundled(), TrainingConfig())
    assert list(files) == [CARD_FILENAME]
    assert f"Plots skipped: {MISSING_MATPLOTLIB}" in files[CARD_FILENAME].decode()
    assert f"plots skipped: {MISSING_MATPLOTLIB}" in capsys.readouterr().err


def test_training_writes_card_and_plots_next_to_the_model(tmp_path: Path) -> None:
    assert training_main(["--output", str(tmp_path), "--seed", "1"]) == 0
    version_dir = resolve_version_dir(tmp_path)
    card = (version_dir / CARD_FILENAME).read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in card, section
    for name in PLOT_FILENAMES:
        png = (version_dir / name).read_bytes()
        assert png.startswith(PNG_SIGNATURE), name
        assert len(png) > 5_000, name
        assert f"]({name})" in card
    assert "seed 1" in card


def test_no_plots_writes_the_card_only_and_says_why(trained_dir: Path) -> None:
    version_dir = resolve_version_dir(trained_dir)
    card = (version_dir / CARD_FILENAME).read_text(encoding="utf-8")
    assert "Plots skipped: --no-plots was given" in card
    assert "](" not in card
    assert not list(version_dir.glob("*.png"))
