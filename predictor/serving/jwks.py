"""The issuer's signing keys (a JWKS): read at start-up, kept, read again when they change.

:meth:`KeySet.load` reads them before the server listens, retrying until they come, so the
readiness probe cannot pass before a token can be checked. Afterwards the keys are kept in
memory: a token signed by a key id the set does not know makes :meth:`KeySet.refresh` read
them again (key rotation), at most once every :data:`REFRESH_INTERVAL_SECONDS` however many
such tokens arrive, and a refresh that fails (the issuer is down) keeps the keys it had. The
set is also read again in the background once it is :data:`MAX_AGE_SECONDS` old, so a key the
issuer withdrew stops being accepted. Parsing is PyJWT's (:class:`jwt.PyJWKSet`): RS256 and
ES256 keys; nothing here does cryptography.

The set pickles as the JWKS document it was parsed from (``--workers`` children get the keys
the parent read, without reading them again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import urllib.request
from pathlib import Path
from typing import Any

from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

logger = logging.getLogger("predictor.serving.jwks")

DISCOVERY_PATH = "/.well-known/openid-configuration"
FETCH_TIMEOUT_SECONDS = 5.0
REFRESH_INTERVAL_SECONDS = 5.0
MAX_AGE_SECONDS = 600.0
# Start-up retries: the first after 1 s, doubling up to this (the startup probe decides when
# a pod that never gets its keys is restarted).
LONGEST_RETRY_SECONDS = 10.0
# The one Accept for discovery (JSON) and keys: the API server answers its JWKS only to a
# client that accepts application/jwk-set+json, and its discovery only to one that accepts
# application/json (406 otherwise; k8s/e2e.sh's auth check reads both).
JWKS_ACCEPT = "application/jwk-set+json, application/json"
ALGORITHMS = ("RS256", "ES256")


class KeysUnavailable(Exception):
    """The JWKS could not be read or holds no usable key; the message says why."""


class KeySet:
    """The issuer's public keys by key id, and how to read them again."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        ca_file: Path | None = None,
        token_file: Path | None = None,
    ):
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.ca_file = ca_file
        self.token_file = token_file
        self.document: dict[str, Any] = {}
        self.keys: dict[str | None, PyJWK] = {}
        self.fetched_at = 0.0  # monotonic time of the last successful read
        self._attempted_at = 0.0  # ... and of the last attempt
        self._refreshing: asyncio.Future | None = None
        self._background: asyncio.Task | None = None

    def __getstate__(self) -> dict:
        return {"args": (self.issuer, self.jwks_url, self.ca_file, self.token_file),
                "document": self.document}  # fmt: skip

    def __setstate__(self, state: dict) -> None:
        self.__init__(*state["args"])
        if state["document"]:
            self._take(state["document"])

    def key(self, kid: str | None) -> PyJWK | None:
        """The key a token's header names; a token without ``kid`` uses a set of one key."""
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        return self.keys.get(kid)

    def load(self) -> None:
        """Read the keys, retrying until they come (start-up, before the server listens)."""
        wait = 1.0
        while True:
            try:
                self.fetch()
                return
            except KeysUnavailable as error:
                logger.warning("no signing keys yet (%s); retrying in %g s", error, wait)
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_RETRY_SECONDS)

    def fetch(self) -> None:
        """Read the JWKS now (blocking). Raises KeysUnavailable, keeping the keys it had."""
        self._attempted_at = time.monotonic()
        url = self.jwks_url or self._discovered_jwks_url()
        document = self._read_json(url)
        try:
            known = set(self.keys)
            self._take(document)
        except (PyJWKSetError, PyJWKError, TypeError, ValueError) as error:
            raise KeysUnavailable(f"{url}: no usable signing key ({error})") from None
        logger.info(
            "signing keys of %s from %s: %s", self.issuer, url, ", ".join(map(str, self.keys))
        )
        if withdrawn := known - set(self.keys):
            logger.info("keys withdrawn by the issuer: %s", ", ".join(map(str, withdrawn)))

    async def refresh(self) -> bool:
        """Read the keys again unless that was tried in the last few seconds; whether the set
        was read. Concurrent callers share one read; a failure keeps the keys."""
        if self._refreshing is not None:
            return await asyncio.shield(self._refreshing)
        if time.monotonic() - self._attempted_at < REFRESH_INTERVAL_SECONDS:
            return False
        loop = asyncio.get_running_loop()
        self._refreshing = loop.create_future()
        try:
            await loop.run_in_executor(None, self.fetch)
            done = True
        except KeysUnavailable as error:
            logger.warning("signing keys not refreshed, keeping the %d known: %s",
                           len(self.keys), error)  # fmt: skip
            done = False
        finally:
            future, self._refreshing = self._refreshing, None
        future.set_result(done)
        return done

    def refresh_if_stale(self) -> None:
        """Start a background read once the keys are :data:`MAX_AGE_SECONDS` old."""
        now = time.monotonic()
        if (
            now - self.fetched_at > MAX_AGE_SECONDS
            and now - self._attempted_at >= REFRESH_INTERVAL_SECONDS
            and self._refreshing is None
        ):
            self._background = asyncio.get_running_loop().create_task(self.refresh())

    def _take(self, document: dict[str, Any]) -> None:
        keys = {}
        for key in PyJWKSet.from_dict(document).keys:
            if key.algorithm_name in ALGORITHMS and key.public_key_use in (None, "sig"):
                keys[key.key_id] = key
        if not keys:
            raise ValueError(f"no {' or '.join(ALGORITHMS)} signing key")
        self.document, self.keys = document, keys
        self.fetched_at = time.monotonic()

    def _discovered_jwks_url(self) -> str:
        config = self._read_json(self.issuer.rstrip("/") + DISCOVERY_PATH)
        url = config.get("jwks_uri") if isinstance(config, dict) else None
        if not isinstance(url, str):
            raise KeysUnavailable(f"{self.issuer}{DISCOVERY_PATH} names no jwks_uri")
        return url

    def _read_json(self, url: str) -> Any:
        request = urllib.request.Request(url, headers={"Accept": JWKS_ACCEPT})
        if self.token_file is not None and not url.startswith("file:"):
            try:
                token = self.token_file.read_text().strip()
            except OSError as error:
                raise KeysUnavailable(f"token file {self.token_file}: {error}") from None
            request.add_header("Authorization", f"Bearer {token}")
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            with urllib.request.urlopen(
                request, timeout=FETCH_TIMEOUT_SECONDS, context=context
            ) as response:
                return json.loads(response.read())
        except (OSError, ValueError, ssl.SSLError) as error:
            raise KeysUnavailable(f"{url}: {error}") from None
