"""The pieces of authentication that need no server: subject patterns, bearer headers, the
RFC 6750 challenge, and what the model notes for the audit trail."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path

import pytest

from bench.token_issuer import Issuer
from predictor import audit
from predictor.serving.auth import challenge
from predictor.serving.jwks import KeySet, KeysUnavailable
from predictor.serving.tokens import Forbidden, Unauthenticated, allows, bearer_token


@pytest.mark.parametrize(
    ("patterns", "subject", "expected"),
    [
        (("system:serviceaccount:clinic:*",), "system:serviceaccount:clinic:reader", True),
        (("system:serviceaccount:clinic:*",), "system:serviceaccount:clinical:reader", False),
        (("system:serviceaccount:clinic:reader",), "system:serviceaccount:clinic:reader2", False),
        (("*",), "anyone", True),
        (("a", "b"), "b", True),
    ],
)
def test_subject_patterns(patterns: tuple, subject: str, expected: bool) -> None:
    assert allows(patterns, subject) is expected


@pytest.mark.parametrize(
    "value", [b"Bearer abc.def.ghi", b"bearer   abc.def.ghi ", "BEARER abc.def.ghi"]
)
def test_the_bearer_scheme_is_case_insensitive(value) -> None:
    assert bearer_token(value) == b"abc.def.ghi"


@pytest.mark.parametrize("value", [b"Basic dXNlcjpwYXNz", b"Bearer", b"Bearer   ", b"abc.def.ghi"])
def test_other_schemes_are_refused(value: bytes) -> None:
    with pytest.raises(Unauthenticated, match="is not 'Bearer <JWT>'"):
        bearer_token(value)


def test_the_challenge_follows_rfc_6750() -> None:
    assert challenge(Unauthenticated("none", missing=True)) == b"Bearer"
    assert challenge(Unauthenticated('bad "quoted" \\ reason')) == (
        b'Bearer error="invalid_token", error_description="bad \'quoted\'  reason"'
    )
    assert challenge(Forbidden("system:anonymous")) == b'Bearer error="insufficient_scope"'


def test_the_model_notes_labels_only_inside_an_audited_request() -> None:
    contextvars.copy_context().run(notes_into_the_open_record)  # the test's context untouched


def notes_into_the_open_record() -> None:
    audit.note_scores("v1", [0.9, 0.1, 0.5], 0.5)  # no record open: nothing to note into
    record = audit.recording()
    audit.note_scores("v1", [0.9], 0.5)
    audit.note_scores("v1", [0.9, 0.1, 0.5], 0.5)
    audit.note_labels("v1", ["benign"])
    audit.note_status(200)
    assert (record.model_version, record.instances, record.status) == ("v1", 5, 200)
    assert record.labels == {"malignant": 3, "benign": 2}


def test_keys_can_come_from_a_mounted_jwks_file(tmp_path: Path) -> None:
    issuer = Issuer()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(issuer.jwks()))
    keys = KeySet(issuer.url, path.as_uri())
    keys.fetch()
    assert set(keys.keys) == {"rsa-1", "ec-1"}
    assert keys.key(None) is None  # no kid and more than one key: no guess
    assert keys.key("ec-1").algorithm_name == "ES256"


@pytest.mark.parametrize(
    "document",
    [{"keys": []}, {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "shared"}]}, {"nokeys": 1}],
    ids=["empty", "a shared secret only", "not a JWKS"],
)
def test_a_jwks_without_a_usable_signing_key_is_refused(tmp_path: Path, document: dict) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    with pytest.raises(KeysUnavailable, match="no usable signing key"):
        KeySet("https://issuer.example", path.as_uri()).fetch()
