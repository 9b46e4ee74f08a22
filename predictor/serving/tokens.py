"""Who is calling: a bearer JWT checked against the issuer's keys, and whether it may call.

:meth:`Verifier.caller` takes an ``Authorization`` header's value and returns the
:class:`Caller`, or raises :class:`Unauthenticated` (401: no token, not a JWT, a signature
that does not verify, an unknown key, the wrong ``iss`` or ``aud``, expired or not yet valid)
or :class:`Forbidden` (403: a valid token whose ``sub`` no ``--auth_allow`` pattern matches).
Messages say what was wrong and never repeat the token.

PyJWT checks the signature (RS256, ES256, with the key the token's ``kid`` names; the
algorithm must be the key's), ``iss``, ``aud``, ``exp`` and ``nbf``, with
:data:`LEEWAY_SECONDS` of tolerance for clocks that differ between the issuer and this pod.
A verified token is remembered (an LRU of :data:`CACHED_TOKENS`, keyed by the token's
SHA-256, until its ``exp``), so a client that sends the same token again costs a hash and a
dict lookup, not a signature check. A remembered token is dropped when the issuer withdraws
its key.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
)

from predictor.serving.jwks import ALGORITHMS, KeySet
from predictor.settings import Settings, subject_patterns

LEEWAY_SECONDS = 5
CACHED_TOKENS = 4096
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
BEARER = b"bearer "


class Unauthenticated(Exception):
    """No credentials, or credentials that do not hold (401)."""

    def __init__(self, message: str, *, missing: bool = False):
        super().__init__(message)
        self.missing = missing  # no token at all: RFC 6750 sends no error code then


class Forbidden(Exception):
    """A valid token whose subject may not call (403)."""

    def __init__(self, subject: str):
        super().__init__(f"subject {subject} is not allowed to call this model (--auth_allow)")
        self.subject = subject


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified token: who, until when, signed with which key, and whether allowed."""

    subject: str
    expires: float
    kid: str | None
    allowed: bool


def allows(patterns: tuple[str, ...], subject: str) -> bool:
    """Whether a subject matches an exact pattern or a ``prefix*`` one."""
    return any(
        subject.startswith(pattern[:-1]) if pattern.endswith("*") else subject == pattern
        for pattern in patterns
    )


def bearer_token(authorization: bytes | str | None) -> bytes:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if authorization is None:
        raise Unauthenticated("no bearer token: send Authorization: Bearer <JWT>", missing=True)
    if isinstance(authorization, str):
        authorization = authorization.encode("latin-1")
    token = authorization[len(BEARER) :].strip()
    if authorization[: len(BEARER)].lower() != BEARER or not token:
        raise Unauthenticated("the Authorization header is not 'Bearer <JWT>'")
    return token


class Verifier:
    """Checks tokens of one issuer and audience, and the subjects allowed."""

    def __init__(self, keys: KeySet, audience: str, allowed: tuple[str, ...]):
        self.keys = keys
        self.issuer = keys.issuer
        self.audience = audience
        self.allowed = allowed
        self._known: OrderedDict[bytes, Caller] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier | None:
        """The verifier the settings ask for; None when authentication is off."""
        if settings.auth_issuer is None:
            return None
        keys = KeySet(
            settings.auth_issuer,
            settings.auth_jwks_url,
            settings.auth_jwks_ca_file,
            settings.auth_jwks_token_file,
        )
        audience, allow = settings.auth_audience or "", settings.auth_allow or ""
        return cls(keys, audience, subject_patterns(allow))

    def known(self, authorization: bytes | str | None) -> Caller | None:
        """The caller of a token verified before and still valid; None to :meth:`caller`.
        Raises Unauthenticated (no bearer token) or Forbidden."""
        token = bearer_token(authorization)
        digest = hashlib.sha256(token).digest()
        known = self._known.get(digest)
        if known is None:
            return None
        if time.time() > known.expires + LEEWAY_SECONDS or self.keys.key(known.kid) is None:
            del self._known[digest]  # expired, or its key withdrawn: verified anew
            return None
        self._known.move_to_end(digest)
        if not known.allowed:
            raise Forbidden(known.subject)
        return known

    async def caller(self, authorization: bytes | str | None) -> Caller:
        """The allowed caller the header proves. Raises Unauthenticated or Forbidden."""
        known = self.known(authorization)
        if known is not None:
            return known
        token = bearer_token(authorization)
        digest = hashlib.sha256(token).digest()
        self.keys.refresh_if_stale()
        caller = await self._verify(token.decode("latin-1"))
        self._known[digest] = caller
        if len(self._known) > CACHED_TOKENS:
            self._known.popitem(last=False)
        if not caller.allowed:
            raise Forbidden(caller.subject)
        return caller

    async def _verify(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except DecodeError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise Unauthenticated(
                f"token algorithm {str(algorithm)[:16]!r} is not accepted ({', '.join(ALGORITHMS)})"
            )
        if kid is not None and not isinstance(kid, str):
            raise Unauthenticated("the token's kid is not a string")
        key = self.keys.key(kid)
        if key is None and await self.keys.refresh():
            key = self.keys.key(kid)  # the issuer rotated its keys
        if key is None:
            raise Unauthenticated(f"token signed by an unknown key (kid {str(kid)[:64]!r})")
        if key.algorithm_name != algorithm:
            raise Unauthenticated(f"token algorithm {algorithm} is not its key's")
        claims = self._claims(token, key)
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("the token's sub claim is not a subject")
        return Caller(subject, float(claims["exp"]), kid, allows(self.allowed, subject))

    def _claims(self, token: str, key: jwt.PyJWK) -> dict:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except ImmatureSignatureError:
            raise Unauthenticated("token not valid yet (nbf or iat in the future)") from None
        except InvalidAudienceError:
            raise Unauthenticated(f"token audience is not {self.audience}") from None
        except InvalidIssuerError:
            raise Unauthenticated(f"token issuer is not {self.issuer}") from None
        except MissingRequiredClaimError as error:
            raise Unauthenticated(f"token lacks the {error.claim} claim") from None
        except InvalidSignatureError:
            raise Unauthenticated("token signature does not verify") from None
        except InvalidTokenError as error:
            raise Unauthenticated(f"invalid token ({type(error).__name__})") from None
