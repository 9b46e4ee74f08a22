"""image.digest pins every pod of the chart to one image, and only a real digest is accepted."""

from __future__ import annotations

import helm_python as helm
import pytest

from tests.chart.conftest import Rendered

DIGEST = "sha256:" + "0123456789abcdef" * 4


def images(rendered: Rendered) -> dict[str, str]:
    """Container image of the predictor, the training Job and the helm test pod."""
    return {
        "predictor": rendered.predictor_container()["image"],
        "job": rendered.job()["spec"]["template"]["spec"]["containers"][0]["image"],
        "test pod": rendered.test_pod()["spec"]["containers"][0]["image"],
    }


def test_without_a_digest_every_pod_uses_repository_and_tag(render) -> None:
    found = images(render({"image": {"repository": "registry.example/bc", "tag": "1.2.3"}}))
    assert set(found.values()) == {"registry.example/bc:1.2.3"}


def test_the_tag_defaults_to_the_app_version(render, chart: helm.Chart) -> None:
    found = images(render({}))
    assert set(found.values()) == {f"breast-cancer-kserve:{chart.metadata['appVersion']}"}


@pytest.mark.parametrize("tag", ["", "1.2.3"])
def test_a_digest_takes_precedence_over_the_tag_in_every_pod(render, tag: str) -> None:
    values = {"image": {"repository": "registry.example/bc", "tag": tag, "digest": DIGEST}}
    assert images(render(values)) == {
        "predictor": f"registry.example/bc@{DIGEST}",
        "job": f"registry.example/bc@{DIGEST}",
        "test pod": f"registry.example/bc@{DIGEST}",
    }


@pytest.mark.parametrize(
    "digest",
    [
        "0123456789abcdef" * 4,  # no algorithm
        "sha256:" + "0123456789abcdef" * 3,  # too short
        "sha256:" + "0123456789ABCDEF" * 4,  # OCI digests are lowercase
        "sha512:" + "0123456789abcdef" * 8,
        "latest",
        f"{DIGEST}\n",
    ],
)
def test_schema_rejects_anything_but_a_sha256_digest(chart: helm.Chart, digest: str) -> None:
    with pytest.raises(helm.HelmValuesError, match="/image/digest"):
        chart.validate_schema({"image": {"digest": digest}})
