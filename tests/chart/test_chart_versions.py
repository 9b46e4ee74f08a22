"""Each release revision serves the model version it trained, so `helm rollback` restores it."""

from __future__ import annotations

import pytest

from tests.chart.conftest import S3_VALUES, Rendered
from tests.chart.test_chart_wiring import env, flag
from training.__main__ import build_parser as training_parser

ANNOTATION = "breast-cancer/model-version"


def storage_uri(rendered: Rendered) -> str:
    return env(rendered.predictor_container())["STORAGE_URI"]["value"]


def job_args(rendered: Rendered) -> list[str]:
    return rendered.job()["spec"]["template"]["spec"]["containers"][0]["args"]


@pytest.mark.parametrize("revision", [1, 2, 10])
def test_each_revision_trains_and_serves_its_own_version(render, revision: int) -> None:
    rendered = render(revision=revision)
    version = f"rev-{revision}"
    assert flag(job_args(rendered), "--version") == version
    assert storage_uri(rendered) == f"pvc://breast-cancer-models/breast-cancer/{version}"
    assert rendered.isvc()["metadata"]["annotations"][ANNOTATION] == version
    # KServe mounts that one directory at /mnt/models: the predictor loads it, not LATEST.
    assert flag(rendered.predictor_container()["args"], "--model_dir") == "/mnt/models"


def test_the_served_version_is_the_directory_training_writes(render) -> None:
    """pvc://<claim>/<path>/<version> is <--output>/<--version> seen from the Job's mount."""
    rendered = render(revision=3)
    options = training_parser().parse_args(job_args(rendered))
    claim_path = storage_uri(rendered).removeprefix("pvc://").split("/", 1)[1]
    job_pod = rendered.job()["spec"]["template"]["spec"]
    (mount,) = [m for m in job_pod["containers"][0]["volumeMounts"] if m["name"] == "models"]
    assert f"{options.output}/{options.version}" == f"{mount['mountPath']}/{claim_path}"


def test_s3_pins_the_version_prefix(render) -> None:
    rendered = render({"storage": {"type": "s3", "s3": S3_VALUES}}, revision=4)
    # The trailing "/" keeps KServe's prefix download from also fetching rev-40, rev-41...
    assert storage_uri(rendered) == "s3://models/breast-cancer/rev-4/"
    assert flag(job_args(rendered), "--output") == "s3://models/breast-cancer"
    assert flag(job_args(rendered), "--version") == "rev-4"


def test_kept_versions_come_from_values(render) -> None:
    assert flag(job_args(render()), "--keep-versions") == "10"
    rendered = render({"training": {"keepVersions": 25}})
    assert training_parser().parse_args(job_args(rendered)).keep_versions == 25


def test_without_a_served_version_skip_if_present_still_trains_this_revision(render) -> None:
    """Offline (or on a first install) nothing is served yet: the revision trains its own."""
    rendered = render({"training": {"skipIfPresent": True}}, revision=5)
    assert "--skip-if-present" not in job_args(rendered)
    assert flag(job_args(rendered), "--version") == "rev-5"
    assert storage_uri(rendered).endswith("/rev-5")


def test_an_explicit_version_is_served_and_kept_with_skip_if_present(render) -> None:
    rendered = render({"model": {"version": "golden"}, "training": {"skipIfPresent": True}})
    args = job_args(rendered)
    assert flag(args, "--version") == "golden" and "--skip-if-present" in args
    assert storage_uri(rendered) == "pvc://breast-cancer-models/breast-cancer/golden"


@pytest.mark.parametrize(
    ("version", "uri"),
    [
        ("", "pvc://breast-cancer-models/breast-cancer"),
        ("rev-7", "pvc://breast-cancer-models/breast-cancer/rev-7"),
    ],
)
def test_without_training_the_predictor_serves_model_version_or_latest(
    render, version: str, uri: str
) -> None:
    rendered = render({"training": {"enabled": False}, "model": {"version": version}})
    assert storage_uri(rendered) == uri
    assert rendered.of_kind("Job") == []
    annotations = rendered.isvc()["metadata"]["annotations"]
    assert annotations.get(ANNOTATION) == (version or None)


def test_notes_name_the_location_the_predictor_serves(render) -> None:
    rendered = render(revision=6)
    assert f"from {storage_uri(rendered)}." in rendered.notes
    assert storage_uri(rendered).endswith("/rev-6")
