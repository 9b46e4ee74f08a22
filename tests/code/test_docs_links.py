"""The docs hold together: every relative link resolves, every #anchor names a heading, and the
project README stays short enough to read in minutes (the detail lives in the folder READMEs)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support import ROOT

README_MAX_BYTES = 25_000
# Directories that hold no project docs (hidden ones, .github aside, are skipped too: the
# virtualenv, the local cluster, tool caches).
SKIPPED_DIRS = {"node_modules", "__pycache__"}

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
EXTERNAL = ("http://", "https://", "mailto:")


def doc_files() -> list[Path]:
    """Every README.md of the repository and the community files under .github/."""
    found = []
    for here, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d for d in dirs if d == ".github" or not (d.startswith(".") or d in SKIPPED_DIRS)
        ]
        found += [Path(here) / name for name in files if name == "README.md"]
    found += sorted((ROOT / ".github").glob("*.md"))
    return sorted(set(found))


def prose(markdown: str) -> str:
    """The text outside fenced code blocks (a `# comment` in a bash block is not a heading)."""
    return FENCE.sub("", markdown)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, markup and punctuation dropped,
    lowercase, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(prose(path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(path: Path) -> list[str]:
    return LINK.findall(INLINE_CODE.sub("", prose(path.read_text())))


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in links(path):
        if target.startswith(EXTERNAL):
            continue
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no such heading in {resolved.name}")
    return broken


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_docs_include_every_folder_readme() -> None:
    names = {str(p.relative_to(ROOT)) for p in doc_files()}
    assert {
        "README.md",
        "predictor/README.md",
        "training/README.md",
        ".github/SECURITY.md",
    } <= names


def test_slugs_follow_github() -> None:
    assert slug("Trust model: what the sha256 does and does not protect") == (
        "trust-model-what-the-sha256-does-and-does-not-protect"
    )
    assert slug("`e2e.sh`") == "e2esh"
    assert slug("gRPC with KServe's client") == "grpc-with-kserves-client"
    assert slug("Batch scoring: a 1,000,000-row CSV") == "batch-scoring-a-1000000-row-csv"


def test_a_broken_link_and_a_missing_anchor_are_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Real heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[ok](other.md#real-heading) [gone](missing.md) [bad](other.md#nope)\n"
        "[self](#page) [no](#top) ![img](other.md) [web](https://example.com)\n"
        "```bash\n# not a heading\n[fenced](fenced.md)\n```\n`[code](not-a-link.md)`\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nope: no such heading in other.md",
        "#top: no such heading in page.md",
    ]


def test_the_readme_stays_short() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (at most {README_MAX_BYTES:,}): move detail to the folder "
        "README it concerns and link it"
    )
