"""A token issuer for tests and bench: real keys, OIDC discovery + JWKS over HTTP, real JWTs.

:class:`Issuer` holds RSA and EC signing keys (``cryptography``), serves
``/.well-known/openid-configuration`` and its JWKS over HTTP on 127.0.0.1 (as an API server
serves ``/openid/v1/jwks``), and signs tokens with PyJWT. Keys can be added while it serves
(rotation) and the server stopped and started again on the same port (an issuer that is down).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bench.process import free_port

AUDIENCE = "breast-cancer"
JWKS_PATH = "/openid/v1/jwks"


@dataclass
class SigningKey:
    kid: str
    algorithm: str  # RS256 or ES256
    private: Any

    @classmethod
    def new(cls, kid: str, algorithm: str = "RS256") -> SigningKey:
        if algorithm == "ES256":
            return cls(kid, algorithm, ec.generate_private_key(ec.SECP256R1()))
        return cls(kid, algorithm, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict:
        to_jwk = ECAlgorithm.to_jwk if self.algorithm == "ES256" else RSAAlgorithm.to_jwk
        return {
            **to_jwk(self.private.public_key(), as_dict=True),
            "kid": self.kid,
            "alg": self.algorithm,
            "use": "sig",
        }


@dataclass
class Issuer:
    """Keys, a port, and the HTTP server publishing them (while started)."""

    port: int = field(default_factory=free_port)
    keys: list[SigningKey] = field(
        default_factory=lambda: [SigningKey.new("rsa-1"), SigningKey.new("ec-1", "ES256")]
    )
    requests: int = 0  # JWKS reads served
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def jwks(self) -> dict:
        return {"keys": [key.jwk() for key in self.keys]}

    def token(
        self,
        subject: str = "system:serviceaccount:clinic:reader",
        *,
        key: SigningKey | None = None,
        audience: str = AUDIENCE,
        issuer: str | None = None,
        lifetime: float = 600,
        **claims: Any,
    ) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        payload = {"iss": issuer or self.url, "aud": audience, "sub": subject, "iat": now,
                   "nbf": now, "exp": now + lifetime, **claims}  # fmt: skip
        return jwt.encode(payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid})

    def start(self) -> Issuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                # As strict as the Kubernetes API server: each document only to a client that
                # accepts its media type, else 406.
                if self.path == "/.well-known/openid-configuration":
                    media = "application/json"
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + JWKS_PATH}
                elif self.path == JWKS_PATH:
                    media = "application/jwk-set+json"
                    issuer.requests += 1
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                if media not in self.headers.get("Accept", ""):
                    self.send_error(406)
                    return
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def flags(self, allow: str = "system:serviceaccount:clinic:*") -> list[str]:
        """The predictor's flags for this issuer (keys found by discovery)."""
        return ["--auth_issuer", self.url, "--auth_audience", AUDIENCE, "--auth_allow", allow]
