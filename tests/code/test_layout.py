"""The code's shape: the model room never imports the serving room; modules stay readable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

MODEL_ROOM = sorted(
    path
    for path in (ROOT / "predictor").rglob("*.py")
    if "serving" not in path.relative_to(ROOT / "predictor").parts
    # The server's CLI wires both rooms together (the batch CLI needs no server).
    and str(path.relative_to(ROOT)) not in {"predictor/__main__.py", "predictor/settings.py"}
)
LONGEST_MODULE = 300


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODEL_ROOM, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_model_room_does_not_import_the_serving_room(path: Path) -> None:
    serving = {name for name in imported_modules(path) if name.startswith("predictor.serving")}
    assert not serving, f"{path.name} imports {serving}"


@pytest.mark.parametrize(
    "path",
    sorted(p for d in ("predictor", "training", "bench") for p in (ROOT / d).rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_is_longer_than_a_sitting(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= LONGEST_MODULE, f"{path.relative_to(ROOT)} has {lines} lines"


def path_literals(path: Path) -> list[str]:
    """String constants in code (docstrings and messages aside) that spell a route's path."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and (node.value.startswith(("/v1/", "/v2/", "/metrics")) or "(?P<model>" in node.value)
    ]


def test_route_shapes_are_spelled_out_in_the_route_table_only() -> None:
    spelling = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "predictor").rglob("*.py"))
        if (found := path_literals(path))
    }
    assert set(spelling) == {"predictor/serving/routes.py"}, spelling
