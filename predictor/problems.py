"""How a rejected value is named to the client: as it was written in JSON, not as Python."""

from __future__ import annotations

import math
from typing import Any

import orjson

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
