"""The READMEs' figures and examples are what the commands produce, not typed by hand."""

from __future__ import annotations

import re

from predictor.loader import Artifact
from tests.support import EXAMPLES_DIR, ROOT, example_index
from training.report import summary_table

README = (ROOT / "README.md").read_text()
TRAINING_README = (ROOT / "training" / "README.md").read_text()
BENCH_README = (ROOT / "bench" / "README.md").read_text()


def test_training_readme_metrics_block_matches_a_fresh_default_run(artifact: Artifact) -> None:
    block = re.search(
        r"<!-- metrics:start -->\n```\n(.*?)\n```\n<!-- metrics:end -->", TRAINING_README, re.S
    )
    assert block, "metrics markers missing from training/README.md"
    assert block.group(1) == summary_table(artifact.metadata["metrics"])


def test_readme_curls_every_example_with_its_status() -> None:
    for example in example_index():
        line = next(
            (line for line in README.splitlines() if f"@examples/{example['file']}" in line), None
        )
        assert line is not None, f"README has no curl for {example['file']}"
        assert f"# {example['status']}" in line


def test_examples_readme_tabulates_every_file() -> None:
    table = (EXAMPLES_DIR / "README.md").read_text()
    for example in example_index():
        assert (
            f"| `{example['file']}` | {example['protocol'].upper()} | {example['status']} |"
            in table
        )
    listed = {e["file"] for e in example_index()}
    on_disk = {p.name for p in EXAMPLES_DIR.glob("*.json")} - {"index.json"}
    assert listed == on_disk


def test_bench_readme_rows_come_from_bench_results() -> None:
    block = re.search(r"<!-- bench:start -->\n(.*?)\n<!-- bench:end -->", BENCH_README, re.S)
    assert block, "bench markers missing from bench/README.md"
    results = (ROOT / "bench" / "RESULTS.md").read_text().splitlines()
    rows = [
        line for line in block.group(1).splitlines() if line.startswith("| ") and "---" not in line
    ]
    header_rows = {line for line in rows if line.startswith(("| scenario |", "| target |"))}
    for row in rows:
        assert row in header_rows or row in results, f"not in bench/RESULTS.md: {row}"
