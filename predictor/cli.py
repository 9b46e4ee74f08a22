"""The command line of ``python -m predictor``: :class:`~predictor.settings.Settings` as flags.

Every flag is generated from a settings field (its name, or the spelling KServe's parser
uses for its own flags); values arrive as text and the settings class converts and bounds
them, so there is one rule per setting whichever way it came. A bad value, an unknown flag or
an unknown spelling stops start-up with exit code 2 and one line on stderr naming where the
value came from, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Literal, NoReturn, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from predictor.settings import Settings, deprecated_alias, environment_variable, is_kserve_flag

PROG = "python -m predictor"
BOOLEAN = "true/false (or 1/0, yes/no, on/off)"
# KServe's flags whose spelling is not --<field name>.
KSERVE_SPELLING = {"event_loop": "--event-loop", "timeout_keep_alive": "--timeout-keep-alive"}
# Variables Kubernetes sets for each Service of the namespace ("service links"): not settings.
SERVICE_LINK = re.compile(r".*_(SERVICE_HOST|SERVICE_PORT.*|PORT(_\d+_(TCP|UDP|SCTP).*)?)$")


@dataclass(frozen=True)
class CommandLine:
    """The settings read, where each non-default one came from, and what to warn about."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def effective(self) -> str:
        """The settings that differ from their defaults, with their sources, on one line."""
        changed = [
            f"{name}={getattr(self.settings, name)} ({self.sources.get(name, 'default')})"
            for name, info in Settings.model_fields.items()
            if getattr(self.settings, name) != info.default
        ]
        return "settings: " + (", ".join(changed) if changed else "all defaults")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump) and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {self._with_suggestion(message)} (see --help)\n")
        sys.exit(2)

    def _with_suggestion(self, message: str) -> str:
        unknown = re.findall(r"(--?[\w-]+)", message) if "unrecognized" in message else []
        known = {flag.replace("-", "_"): flag for flag in flag_spellings()}
        for flag in unknown:
            close = difflib.get_close_matches(flag.replace("-", "_"), known, n=1, cutoff=0.8)
            if close:
                return f"{message}; did you mean {known[close[0]]}?"
        return message


def flag_of(name: str) -> str:
    return KSERVE_SPELLING.get(name, f"--{name}")


def flag_spellings() -> list[str]:
    spellings = [flag_of(name) for name in Settings.model_fields]
    aliases = (deprecated_alias(info) for info in Settings.model_fields.values())
    return spellings + [f"--{alias}" for alias in aliases if alias]


def allowed(info: FieldInfo) -> str:
    """What a value of this setting must be, in words, from its type and bounds."""
    kind = info.annotation
    if get_origin(kind) in (Union, UnionType):  # X | None: describe X
        kind = next(arg for arg in get_args(kind) if arg is not type(None))
    if get_origin(kind) is Literal:
        return " | ".join(get_args(kind))
    if kind is bool:
        return BOOLEAN
    bounds = {type(item).__name__: getattr(item, type(item).__name__.lower()) for item in
              info.metadata if type(item).__name__ in ("Ge", "Le")}  # fmt: skip
    noun = {int: "an integer", float: "a number", Path: "a path"}.get(kind, "text")
    if "Ge" in bounds and "Le" in bounds:
        return f"{noun} between {bounds['Ge']} and {bounds['Le']}"
    return f"{noun} >= {bounds['Ge']}" if "Ge" in bounds else noun


def build_parser() -> OneLineParser:
    """One flag per setting; our settings' help names their environment variable."""
    parser = OneLineParser(
        prog=PROG,
        usage="%(prog)s [--model_dir DIR] [--http_port PORT] [options]",
        allow_abbrev=False,
        description="Serve the breast-cancer model over KServe V1, V2 REST and V2 gRPC. "
        "Each setting of the first group can also be set by the environment variable named in "
        "its help; a flag wins over its variable.",
    )
    ours = parser.add_argument_group("the model, its requests and the server's behaviour")
    kserve = parser.add_argument_group("KServe's server flags (no environment variables)")
    for name, info in Settings.model_fields.items():
        default = "none" if info.default is None else info.default
        if is_kserve_flag(info):
            group, where = kserve, f"(default: {default})"
        else:
            group, where = ours, f"(default: {default}; env {environment_variable(name)})"
        switch = {"nargs": "?", "const": "true"} if info.annotation is bool else {}
        group.add_argument(
            flag_of(name), dest=name, default=None, metavar=name.upper(),
            help=f"{info.description or ''}; {allowed(info)} {where}".lstrip("; "), **switch,
        )  # fmt: skip
        if alias := deprecated_alias(info):  # still accepted, no longer shown
            group.add_argument(f"--{alias}", dest=name, help=argparse.SUPPRESS, **switch)
    return parser


def parse(argv: Sequence[str] | None = None) -> CommandLine:
    """Read every setting once: flag > environment variable > default (``os.environ``).

    Raises:
        SystemExit: 2, after one line on stderr naming the bad value and what is allowed.
    """
    parser = build_parser()
    environ = os.environ
    given = {name: text for name, text in vars(parser.parse_args(argv)).items() if text is not None}
    sources = {name: flag_of(name) for name in given}
    warnings = [
        f"{f'--{alias}'} is deprecated: use {flag_of(name)}"
        for name, info in Settings.model_fields.items()
        if (alias := deprecated_alias(info)) and f"--{alias}" in (argv or sys.argv[1:])
    ]
    for name, info in Settings.model_fields.items():
        variable = environment_variable(name)
        if name not in given and variable in environ:
            sources[name] = variable
        alias = deprecated_alias(info)
        if alias and name not in sources and alias.upper() in environ:
            given[name], sources[name] = environ[alias.upper()], alias.upper()
            warnings.append(f"{alias.upper()} is deprecated: use {variable}")
    try:
        settings = Settings(**given)
    except ValidationError as error:
        parser.error(_first_problem(error, given, sources, environ))
    return CommandLine(settings, sources, warnings + unknown_variables(environ))


def _first_problem(
    error: ValidationError, given: dict, sources: dict, environ: Mapping[str, str]
) -> str:
    """One line for the first refused value: where it came from, what it was, what is allowed;
    or, for settings that do not fit together, the settings class's own sentence."""
    problem = error.errors()[0]
    if not problem["loc"]:
        return str(problem["msg"]).removeprefix("Value error, ")
    name = str(problem["loc"][0])
    source = sources.get(name, environment_variable(name))
    # What was written, not what a validator made of it.
    text = given.get(name, environ.get(source, str(problem.get("input", ""))))
    if not source.startswith("-"):
        source = f"environment variable {source}"
    return f"{source}={text[:80]!r}: expected {allowed(Settings.model_fields[name])}"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Variables that look like ours (same first word) but name no setting: likely typos."""
    ours = {environment_variable(n) for n, i in Settings.model_fields.items() if not
            is_kserve_flag(i)}  # fmt: skip
    ours |= {alias.upper() for info in Settings.model_fields.values() if
             (alias := deprecated_alias(info))}  # fmt: skip
    prefixes = sorted({variable.split("_")[0] + "_" for variable in ours})
    warnings = []
    for variable in sorted(environ):
        if variable in ours or SERVICE_LINK.match(variable):
            continue
        if variable.startswith(tuple(prefixes)):
            close = difflib.get_close_matches(variable, ours, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(
                f"environment variable {variable} sets nothing{hint} (variables starting with "
                f"{', '.join(prefixes)} are read as predictor settings)"
            )
    return warnings


def settings_table() -> str:
    """predictor/README.md's table of every setting, rendered from the declarations."""
    rows = ["| flag | variable | default | meaning |", "|---|---|---|---|"]
    for name, info in Settings.model_fields.items():
        variable = "" if is_kserve_flag(info) else f"`{environment_variable(name)}`"
        default = "none" if info.default is None else f"`{info.default}`"
        rows.append(
            f"| `{flag_of(name)}` | {variable} | {default} | {info.description}; {allowed(info)} |"
        )
    return "\n".join(rows) + "\n"
