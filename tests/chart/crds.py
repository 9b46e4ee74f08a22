"""prometheus-operator's CRDs as strict JSON Schemas, fetched at test time.

The CRDs come from the Go module proxy (``$GOPROXY``, first URL entry): the module zip of
prometheus-operator holds ``example/prometheus-operator-crd/*.yaml``. The zip is checked
against the Go checksum (``h1:``, the dirhash that go.sum records) before any file in it is
read, and kept in the git-ignored ``.cache/crds/``. Nothing fetched is committed.

Kubernetes validates a custom resource against the CRD's ``openAPIV3Schema`` and, with strict
field validation (``kubectl apply``'s default since 1.27), refuses fields the schema does not
declare. :func:`strict_schema` turns that schema into JSON Schema with the same rule
(``additionalProperties: false`` wherever properties are listed and unknown fields are not
preserved). These three CRDs carry no CEL rules (``x-kubernetes-validations``), which
JSON Schema could not check; :func:`crd_schema` refuses one that does.
"""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.chart.conftest import ROOT

MODULE = "github.com/prometheus-operator/prometheus-operator"
VERSION = "v0.85.0"
# Go's h1 checksum of the module zip (what `go mod download` checks against go.sum/sumdb).
ZIP_H1 = "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s="
CRD_DIR = f"{MODULE}@{VERSION}/example/prometheus-operator-crd"
CRD_FILES = {
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
    "PodMonitor": "monitoring.coreos.com_podmonitors.yaml",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
}
CACHE_DIR = ROOT / ".cache" / "crds"
DEFAULT_PROXY = "https://proxy.golang.org"


class CrdUnavailable(Exception):
    """The module proxy could not be reached; the message names the URL and the error."""


def go_h1(archive: zipfile.ZipFile) -> str:
    """Go's ``h1:`` dirhash of a module zip (golang.org/x/mod/sumdb/dirhash.Hash1)."""
    names = sorted(name for name in archive.namelist() if not name.endswith("/"))
    summary = "".join(f"{hashlib.sha256(archive.read(n)).hexdigest()}  {n}\n" for n in names)
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def proxy_url() -> str:
    """The first URL in $GOPROXY (entries "direct" and "off" are not proxies)."""
    for entry in os.environ.get("GOPROXY", DEFAULT_PROXY).replace("|", ",").split(","):
        if entry.startswith(("https://", "http://")):
            return entry.rstrip("/")
    return DEFAULT_PROXY


def module_zip() -> Path:
    """The verified module zip, downloaded once into the cache."""
    target = CACHE_DIR / f"prometheus-operator-{VERSION}.zip"
    if target.exists():
        return target
    url = f"{proxy_url()}/{MODULE}/@v/{VERSION}.zip"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            partial.write_bytes(response.read())
    except OSError as error:
        raise CrdUnavailable(f"cannot download {url}: {error}") from error
    with zipfile.ZipFile(partial) as archive:
        found = go_h1(archive)
    if found != ZIP_H1:
        partial.unlink()
        raise AssertionError(f"{url}: checksum {found}, expected {ZIP_H1}")
    partial.rename(target)
    return target


def crd_schema(kind: str) -> dict[str, Any]:
    """The served v1 openAPIV3Schema of the CRD for ``kind``, as strict JSON Schema."""
    with zipfile.ZipFile(module_zip()) as archive:
        crd = yaml.safe_load(archive.read(f"{CRD_DIR}/{CRD_FILES[kind]}"))
    assert crd["spec"]["names"]["kind"] == kind
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1" and v["served"]]
    schema = version["schema"]["openAPIV3Schema"]
    assert "x-kubernetes-validations" not in yaml.safe_dump(schema), f"{kind} has CEL rules"
    return strict_schema(schema)


def strict_schema(node: Any) -> Any:
    """OpenAPI v3 (Kubernetes structural) schema to JSON Schema refusing unknown fields."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: strict_schema(v) for k, v in node.items() if not k.startswith("x-kube")}
    if node.get("nullable"):
        converted["type"] = [node["type"], "null"] if "type" in node else None
        converted.pop("nullable")
        if converted["type"] is None:
            converted.pop("type")
    preserve = node.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in node and "additionalProperties" not in node and not preserve:
        converted["additionalProperties"] = False
    return converted


def problems(obj: dict[str, Any]) -> list[str]:
    """Every way ``obj`` breaks its CRD's schema, as "path: message" lines."""
    validator = jsonschema.Draft7Validator(crd_schema(obj["kind"]))
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    ]
