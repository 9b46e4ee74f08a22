"""Every library the shipped code imports is a runtime dependency, not one the dev tools bring.

The image installs ``uv sync --no-dev``: a module that is only in the lock file through a dev
tool imports fine in the tests and fails in the container.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import ROOT

PROJECT = "breast-cancer-kserve"
OURS = {"predictor", "training"}
# Optional: imported only when installed (the `plots` extra; training says the plots were skipped).
OPTIONAL = {"matplotlib"}


def runtime_closure() -> set[str]:
    """The project's dependencies and theirs (with the extras they ask for), without the dev
    groups or the project's own extras."""
    seen: set[tuple[str, str]] = set()
    todo = [(canonicalize_name(PROJECT), "")]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                wanted = canonicalize_name(requirement.name)
                todo += [(wanted, "")] + [(wanted, e) for e in requirement.extras]
    return {name for name, _ in seen}


def imported_top_level(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - OURS - set(sys.stdlib_module_names) - {"__future__"}


def test_every_imported_library_is_a_runtime_dependency() -> None:
    closure = runtime_closure()
    providers = metadata.packages_distributions()
    missing = {}
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in imported_top_level(path) - OPTIONAL:
                distributions = {canonicalize_name(d) for d in providers.get(module, [module])}
                if not distributions & closure:
                    missing[module] = str(path.relative_to(ROOT))
    assert not missing, f"imported but not runtime dependencies (uv add them): {missing}"
