"""auth.enabled: the predictor's flags, what it reads the API server's keys with, and the
helm test pod's own token."""

from __future__ import annotations

import helm_python as helm
import pytest

from predictor.cli import parse
from tests.chart.conftest import AUTH_VALUES, NAMESPACE, RELEASE, Rendered

TEST_SUBJECT = f"system:serviceaccount:{NAMESPACE}:{RELEASE}-test"


def flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def mounts(container: dict) -> dict[str, str]:
    return {mount["name"]: mount["mountPath"] for mount in container.get("volumeMounts", [])}


def volumes(spec: dict) -> dict[str, dict]:
    return {volume["name"]: volume for volume in spec.get("volumes", [])}


def test_off_by_default(rendered_sets: dict[str, Rendered]) -> None:
    rendered = rendered_sets["defaults"]
    args = rendered.predictor_container()["args"]
    assert not [arg for arg in args if arg.startswith("--auth")]
    assert "api-credentials" not in volumes(rendered.predictor())
    assert "serviceAccountName" not in rendered.test_pod()["spec"]
    assert [sa["metadata"]["name"] for sa in rendered.of_kind("ServiceAccount")] == [RELEASE]


def test_the_predictor_checks_the_cluster_tokens_and_allows_the_test_pod(rendered_sets) -> None:
    rendered = rendered_sets["auth"]
    settings = parse(rendered.predictor_container()["args"]).settings
    assert settings.auth_issuer == "https://kubernetes.default.svc.cluster.local"
    assert settings.auth_audience == "breast-cancer"
    assert settings.auth_allow.split(",") == [*AUTH_VALUES["allowedSubjects"], TEST_SUBJECT]
    assert settings.auth_jwks_url == "https://kubernetes.default.svc/openid/v1/jwks"


def test_the_api_server_keys_are_read_with_the_pods_own_token_and_the_cluster_ca(
    rendered_sets,
) -> None:
    rendered = rendered_sets["auth"]
    container = rendered.predictor_container()
    settings = parse(container["args"]).settings
    directory = mounts(container)["api-credentials"]
    assert str(settings.auth_jwks_ca_file) == f"{directory}/ca.crt"
    assert str(settings.auth_jwks_token_file) == f"{directory}/token"
    sources = volumes(rendered.predictor())["api-credentials"]["projected"]["sources"]
    token = next(s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s)
    assert token["path"] == "token" and "audience" not in token  # the API server's audience
    ca = next(s["configMap"] for s in sources if "configMap" in s)
    assert ca["name"] == "kube-root-ca.crt" and ca["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_another_issuers_keys_are_read_without_the_pods_token(render) -> None:
    url = "https://login.example/keys"
    rendered = render({"auth": {**AUTH_VALUES, "issuer": "https://login.example", "jwksUrl": url}})
    container = rendered.predictor_container()
    settings = parse(container["args"]).settings
    assert settings.auth_jwks_url == url
    assert settings.auth_jwks_token_file is None and settings.auth_jwks_ca_file is None
    assert "api-credentials" not in volumes(rendered.predictor())
    assert "api-credentials" not in mounts(container)


def test_the_helm_test_pod_sends_a_token_of_its_service_account_for_the_audience(
    rendered_sets,
) -> None:
    rendered = rendered_sets["auth"]
    pod = rendered.test_pod()["spec"]
    account = rendered.component("ServiceAccount", "test")
    assert pod["serviceAccountName"] == account["metadata"]["name"] == f"{RELEASE}-test"
    assert account["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    (projected,) = volumes(pod)["predictor-token"]["projected"]["sources"]
    token = projected["serviceAccountToken"]
    assert token["audience"] == flag(rendered.predictor_container()["args"], "--auth_audience")
    token_file = next(e["value"] for e in container["env"] if e["name"] == "TOKEN_FILE")
    assert token_file == f"{mounts(container)['predictor-token']}/{token['path']}"
    assert "Authorization" in container["args"][0]


@pytest.mark.parametrize(
    "auth",
    [
        {"allowedSubjects": ["system:*:reader"]},
        {"allowedSubjects": ["a,b"]},
        {"allowedSubjects": [""]},
        {"issuer": "kubernetes.default.svc"},
        {"jwksUrl": "kubernetes.default.svc/openid/v1/jwks"},
        {"audience": ""},
        {"enable": True},
    ],
)
def test_schema_refuses_what_the_predictor_would(chart: helm.Chart, auth: dict) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"auth": {"enabled": True, **auth}})


def test_the_notes_show_how_to_get_a_token(rendered_sets) -> None:
    notes = rendered_sets["auth"].notes
    assert f"create token {RELEASE}-test --audience breast-cancer" in notes
    assert "Authorization: Bearer $TOKEN" in notes
    assert "create token" not in rendered_sets["defaults"].notes
