"""values.schema.json mirrors values.yaml, rejects bad values, and the docs cover every key."""

from __future__ import annotations

import json
import re
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.chart.conftest import CHART_DIR, S3_VALUES

VALUES_FILE = CHART_DIR / "values.yaml"
SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())


def schema_leaves(node: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted path -> schema node, for every key the schema declares (groups included)."""
    found = {}
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        found[path] = child
        found.update(schema_leaves(child, f"{path}."))
    return found


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of values.yaml keys, stopping where the schema stops (pass-through maps)."""
    paths = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        paths.add(path)
        child = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and "properties" in child:
            paths |= value_paths(value, child, f"{path}.")
    return paths


DECLARED = {path: node for path, node in schema_leaves(SCHEMA).items() if path != "global"}
DOCUMENTED_LEAVES = sorted(path for path, node in DECLARED.items() if "properties" not in node)


def test_schema_is_valid_draft7() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_schema_and_values_declare_the_same_keys() -> None:
    values = yaml.safe_load(VALUES_FILE.read_text())
    assert value_paths(values, SCHEMA) == set(DECLARED)


def test_every_schema_key_has_a_description() -> None:
    assert [path for path, node in DECLARED.items() if not node.get("description")] == []


def test_every_values_key_has_a_comment() -> None:
    """Each key the schema declares as a leaf has a comment on the line above it."""
    lines = VALUES_FILE.read_text().splitlines()
    stack: list[tuple[int, str]] = []
    uncommented = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w-]*):", line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        stack = [(i, k) for i, k in stack if i < indent]
        path = ".".join([k for _, k in stack] + [key])
        stack.append((indent, key))
        if path in DOCUMENTED_LEAVES and not lines[number - 1].strip().startswith("#"):
            uncommented.append(path)
    assert uncommented == []


def test_chart_readme_lists_every_value() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    assert [path for path in DOCUMENTED_LEAVES if f"| `{path}` |" not in readme] == []


def test_defaults_pass_the_schema(chart: helm.Chart) -> None:
    chart.validate_schema({})


@pytest.mark.parametrize(
    "values",
    [
        {"autoscaling": {"maxReplicas": "3"}},
        {"autoscaling": {"maxReplicas": 2.5}},
        {"autoscaling": {"minReplicas": 0}},
        {"autoscaling": {"targetCPUUtilization": 101}},
        {"autoscaling": {"mode": "keda"}},
        {"storage": {"type": "gcs"}},
        {"storage": {"type": "s3"}},
        {"storage": {"type": "s3", "s3": {"uri": "models/breast-cancer"}}},
        {"storage": {"s3": {"endpoint": "https://minio:9000"}}},
        {"storage": {"pvc": {"path": "../escape"}}},
        {"storage": {"pvc": {"path": "/absolute"}}},
        {"storage": {"pvc": {"accessModes": ["ReadWriteSometimes"]}}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"deploymentMode": "RawDeployment"},
        {"resources": {"requests": {"cpu": None}}},
        {"resources": {"requests": {"cpu": "lots"}}},
        {"predictor": {"workers": 0}},
        {"predictor": {"driftWindow": 299}},
        {"fullnameOverride": "Breast_Cancer"},
        {"replicas": 3},
        {"training": {"hookDeletePolicy": "never"}},
        {"training": {"keepVersions": 0}},
        {"training": {"promotionGate": {"minRocAuc": 1.5}}},
        {"training": {"promotionGate": {"minSpecificity": -0.1}}},
        {"training": {"promotionGate": {"championSensitivityTolerance": "0.05"}}},
        {"training": {"promotionGate": {"skip": "yes"}}},
        {"training": {"promotionGate": {"minAccuracy": 0.9}}},
        {"model": {"version": "../other-release"}},
        {"model": {"version": ".hidden"}},
        {"networkPolicy": {"enabled": "yes"}},
        {"networkPolicy": {"ingress": {"podSelector": {"app": "client"}}}},
        {"networkPolicy": {"ingress": {"namespaces": ["Not_A_Namespace"]}}},
        {"networkPolicy": {"ingress": {"extraFrom": {"ipBlock": {"cidr": "10.0.0.0/8"}}}}},
        {"networkPolicy": {"training": {"s3To": "10.0.0.0/8"}}},
    ],
    ids=lambda values: json.dumps(values, separators=(",", ":")),
)
def test_schema_rejects_bad_values(chart: helm.Chart, values: dict) -> None:
    """Both entry points coalesce with the defaults first, like `helm install -f`."""
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name="breast-cancer")


def test_schema_names_the_non_integer_max_replicas(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmValuesError, match="/autoscaling/maxReplicas"):
        chart.validate_schema({"autoscaling": {"maxReplicas": "3"}})


def test_schema_accepts_a_complete_s3_setup(chart: helm.Chart) -> None:
    chart.validate_schema({"storage": {"type": "s3", "s3": S3_VALUES}})
