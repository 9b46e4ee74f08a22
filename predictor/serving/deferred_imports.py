"""Import KServe without loading pandas and the Kubernetes client, which it imports but a model
server never uses.

``import kserve`` (0.21) loads, at the top of modules it always imports:

- pandas, about half of KServe's import time: ``kserve/protocol/infer_type.py`` and
  ``kserve/utils/utils.py`` do ``import pandas as pd`` and read ``pd.DataFrame`` only in type
  annotations (evaluated at import) and in DataFrame helpers (``InferRequest.as_dataframe``,
  ``get_predict_input`` / ``get_predict_response``) that this predictor never calls;
- the Kubernetes client and requests: ``kserve/api/{kserve_client,watch,creds_utils}.py`` do
  ``from kubernetes import client, config, watch`` and ``import requests`` for ``KServeClient``,
  the control-plane SDK, which nothing in a model server calls.

``import_kserve()`` imports kserve while those modules are stand-ins. A stand-in imports the
real module the first time one of its attributes is read afterwards, so a code path that does
use pandas or the Kubernetes client still works, one import later. The annotations that name
``pd.DataFrame`` keep a placeholder class: the only lasting difference. If kserve reads any
other attribute while importing, the real module is imported then and there (no saving, no
harm). ``tests/code/test_deferred_imports.py`` fails once kserve stops importing these
eagerly: then this module can go.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Deferral:
    """A module to defer and the attributes kserve reads from it while importing."""

    module: str
    # Read only in annotations: a placeholder class is enough.
    classes: tuple[str, ...] = ()
    # ``from module import submodule``: each gets a stand-in of its own.
    submodules: tuple[str, ...] = ()


DEFERRALS = (
    Deferral("pandas", classes=("DataFrame",)),
    Deferral("kubernetes", submodules=("client", "config", "watch")),
    Deferral("requests"),
)


class StandIn(types.ModuleType):
    """Takes a module's place until an attribute is read, then answers from the real module."""

    def __getattr__(self, attribute: str) -> Any:
        # Called only for attributes the stand-in lacks. Dunder probes (``__path__``,
        # ``__file__`` ...) come from tools inspecting modules: they must not import anything.
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)
        return getattr(real_module(self.__name__), attribute)


def real_module(name: str) -> types.ModuleType:
    """The real module ``name``, imported now if need be, never one of our stand-ins."""
    for prefix in (name.rpartition(".")[0], name):
        if prefix and isinstance(sys.modules.get(prefix), StandIn):
            del sys.modules[prefix]
    return importlib.import_module(name)


def import_kserve() -> None:
    """Import kserve with DEFERRALS in place; does nothing if kserve is already imported."""
    if "kserve" in sys.modules:
        return
    installed = {d: _install(d) for d in DEFERRALS if d.module not in sys.modules}
    try:
        importlib.import_module("kserve")
    finally:
        for deferral, stand_in in installed.items():
            _retire(deferral, stand_in)


def _install(deferral: Deferral) -> StandIn:
    stand_in = StandIn(deferral.module)
    for name in deferral.classes:
        placeholder = type(name, (), {"__module__": f"{deferral.module} (deferred)"})
        setattr(stand_in, name, placeholder)
    for name in deferral.submodules:
        setattr(stand_in, name, StandIn(f"{deferral.module}.{name}"))
    sys.modules[deferral.module] = stand_in
    return stand_in


def _retire(deferral: Deferral, stand_in: StandIn) -> None:
    """From now on every attribute read goes to the real module, and so does every import."""
    for name in (*deferral.classes, *deferral.submodules):
        delattr(stand_in, name)
    if sys.modules.get(deferral.module) is stand_in:
        del sys.modules[deferral.module]
