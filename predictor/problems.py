"""How a rejected instance is named to the client: which one, which feature, what was expected,
and what arrived, as it was written in JSON (not as Python).

``where`` names the instance in the caller's terms: ``instance 3`` for a request (the API),
``row 17`` for a file (``predictor.batch``), so both say the same thing the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

# At most this many problems are named in one answer (the rest would only repeat the kind).
MAX_REPORTED_PROBLEMS = 5
JSON_TYPE_NAMES = {
    type(None): "null",
    bool: "a boolean",
    str: "a string",
    list: "a list",
    dict: "an object",
    int: "a number",
    float: "a number",
}


def json_type(value: Any) -> str:
    """Describe a decoded JSON value the way a client wrote it."""
    if isinstance(value, bool | None | str):
        return f"{JSON_TYPE_NAMES[type(value)]} ({orjson.dumps(value).decode()[:40]})"
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def value_problem(where: str, name: str, value: Any) -> str | None:
    """The problem with one feature value, or None when it is a finite number."""
    if is_finite_number(value):
        return None
    return f"{where}, feature {name!r}: expected a finite number, got {describe(value)}"


def is_finite_number(value: Any) -> bool:
    """A JSON number that is finite as a float64 (not a bool, not 1e400, not a 400-digit int)."""
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is int:
        try:
            return math.isfinite(float(value))
        except OverflowError:
            return False
    return False


def describe(value: Any) -> str:
    """A value that is not a finite number, described for an error message."""
    if type(value) is int:
        return f"an integer of {len(str(abs(value)))} digits, beyond float64"
    return f"{value!r}" if type(value) is float else json_type(value)


def shorten(names: list[str]) -> str:
    """The first three names, and how many more."""
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def flat_numbers_problem(key: str, instances: list, n_features: int) -> str | None:
    """One instance's numbers sent without their list: one hint, not one error per value."""
    if not instances or not all(type(value) in (int, float) for value in instances):
        return None
    return (
        f'"{key}" holds {len(instances)} number(s), not instances: an instance is a list of '
        f"{n_features} numbers (or an object), so one instance is sent as "
        f'{{"{key}": [[{n_features} numbers]]}}'
    )


def instance_problems(where: str, instance: Any, feature_names: Sequence[str]) -> list[str]:
    """Every problem of one instance: a list in feature order, or an object by feature name.

    Empty when the instance is a valid one (its values finite numbers, its features complete).
    """
    count = len(feature_names)
    if isinstance(instance, list):
        if len(instance) != count:
            return [
                f"{where}: expected {count} values in feature order "
                f"({feature_names[0]!r} ... {feature_names[-1]!r}), got {len(instance)}"
            ]
        named = zip(feature_names, instance, strict=True)
        return [p for name, value in named if (p := value_problem(where, name, value))]
    if isinstance(instance, dict):
        missing = [name for name in feature_names if name not in instance]
        known = set(feature_names)
        unknown = [key for key in instance if key not in known]
        problems = []
        if missing:
            problems.append(f"{where}: missing feature(s) {shorten(missing)}")
        if unknown:
            problems.append(f"{where}: unknown feature(s) {shorten(unknown)}")
        present = [(name, instance[name]) for name in feature_names if name in instance]
        return problems + [p for name, value in present if (p := value_problem(where, name, value))]
    return [
        f"{where}: expected a list of {count} numbers or an object mapping the "
        f"{count} feature names to numbers, got {json_type(instance)}"
    ]
