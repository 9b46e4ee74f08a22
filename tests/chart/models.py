"""Check rendered objects against the typed models of the kserve and kubernetes SDKs.

kserve's models are classic OpenAPI-generated classes: `openapi_types` (attribute -> type
string such as "list[V1Container]") and `attribute_map` (attribute -> JSON key), and their
deserialiser silently drops unknown keys. So `problems` walks the data against those maps,
reporting unknown keys and mistyped scalars. The kubernetes client's models (V1Container,
V1ObjectMeta...) are pydantic models with strict types and extra="forbid": those subtrees
are handed to `model_validate`, which rejects unknown and mistyped fields itself. `build`
constructs the whole object, so kserve's required fields and enums are checked too."""

from __future__ import annotations

import re
from typing import Any

import kserve.models
import kubernetes.client
import pydantic

PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "object": (object,),
    "date": (str,),
    "datetime": (str,),
}


def model_class(type_name: str) -> type:
    """The SDK class behind an OpenAPI type name (kserve first, then kubernetes)."""
    for module in (kserve.models, kubernetes.client):
        cls = getattr(module, type_name, None)
        if cls is not None:
            return cls
    raise LookupError(f"no SDK model named {type_name}")


def _split(type_name: str) -> tuple[str, str | None]:
    """("list"|"dict", item type) for container types, else (type_name, None)."""
    match = re.fullmatch(r"[Ll]ist\[(.*)\]", type_name)
    if match:
        return "list", match.group(1)
    match = re.fullmatch(r"dict\([^,]*, (.*)\)|Dict\[[^,]*, (.*)\]", type_name)
    if match:
        return "dict", match.group(1) or match.group(2)
    return type_name, None


def _is_pydantic(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, pydantic.BaseModel)


def problems(data: Any, type_name: str, path: str = "$") -> list[str]:
    """Unknown keys and mistyped scalars in `data` read as OpenAPI type `type_name`."""
    kind, inner = _split(type_name)
    if kind == "list":
        if not isinstance(data, list):
            return [f"{path}: expected a list for {type_name}"]
        return [p for i, item in enumerate(data) for p in problems(item, inner, f"{path}[{i}]")]
    if kind == "dict":
        if not isinstance(data, dict):
            return [f"{path}: expected a map for {type_name}"]
        return [p for key, item in data.items() for p in problems(item, inner, f"{path}.{key}")]
    if kind in PRIMITIVES:
        allowed = PRIMITIVES[kind]
        ok = isinstance(data, allowed) and not (kind == "int" and isinstance(data, bool))
        return [] if ok else [f"{path}: {data!r} is not {kind}"]
    cls = model_class(kind)
    if not isinstance(data, dict):
        return [f"{path}: expected an object for {kind}"]
    if _is_pydantic(cls):
        try:
            cls.model_validate(data)
        except pydantic.ValidationError as error:
            return [
                f"{path}.{'.'.join(map(str, e['loc']))}: {e['msg']} ({kind})"
                for e in error.errors()
            ]
        return []
    json_to_attr = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    found = []
    for key, value in data.items():
        attr = json_to_attr.get(key)
        if attr is None:
            found.append(f"{path}.{key}: unknown field of {kind}")
        else:
            found.extend(problems(value, cls.openapi_types[attr], f"{path}.{key}"))
    return found


def build(data: Any, type_name: str) -> Any:
    """Construct the SDK model for `data`, so required fields and enums are validated."""
    kind, inner = _split(type_name)
    if data is None:
        return None
    if kind == "list":
        return [build(item, inner) for item in data]
    if kind == "dict":
        return {key: build(item, inner) for key, item in data.items()}
    if kind in PRIMITIVES:
        return data
    cls = model_class(kind)
    if _is_pydantic(cls):
        return cls.model_validate(data)
    json_to_attr = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    kwargs = {
        json_to_attr[key]: build(value, cls.openapi_types[json_to_attr[key]])
        for key, value in data.items()
    }
    return cls(**kwargs)
