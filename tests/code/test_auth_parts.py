"""The pieces of authentication that need no server: subject patterns, bearer headers, the
RFC 6750 challenge, and what the model notes for the audit trail."""

from __future__ import annotations

import contextvars

import pytest

from predictor import audit
from predictor.serving.auth import challenge
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
