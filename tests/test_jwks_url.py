"""Keys of an outside identity provider fetched from its JWKS URL, including its key rotation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from jose import jwt

from api.app import create_app
from auth.keys import public_jwk
from registry.config import Settings


class _Provider:
    """A tiny identity provider on 127.0.0.1 serving its current JWKS."""

    def __init__(self) -> None:
        self.keys: list[ec.EllipticCurvePrivateKey] = [ec.generate_private_key(ec.SECP256R1())]
        self.fetches = 0

    def jwks(self) -> bytes:
        return json.dumps({"keys": [public_jwk(k) for k in self.keys]}).encode()

    def token(self, settings: Settings, key: ec.EllipticCurvePrivateKey, **claims: object) -> str:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        now = int(time.time())
        body = {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": "idp-user-1",
            "exp": now + 300,
            "iat": now,
            "kind": "staff",
            "region": "150200",
            "role": "viewer",
            **claims,
        }
        return jwt.encode(body, pem, algorithm="ES256", headers={"kid": public_jwk(key)["kid"]})


@pytest.fixture
def provider() -> Iterator[tuple[_Provider, str]]:
    idp = _Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            idp.fetches += 1
            body = idp.jwks()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield idp, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def test_tokens_of_an_outside_provider_are_verified_with_its_jwks(
    provider, tmp_path, session_factory
):
    idp, url = provider
    settings = Settings(environment="test", registry_data_dir=tmp_path, jwt_jwks_url=url)
    with TestClient(create_app(settings, session_factory=session_factory)) as client:
        token = idp.token(settings, idp.keys[0])
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert (me.json()["region_code"], me.json()["role"]) == ("150200", "viewer")

        # the provider rotates: a token with the new kid makes the service refetch the JWKS
        idp.keys.append(ec.generate_private_key(ec.SECP256R1()))
        client.app.state.tokens.keys._fetched_at -= 60  # past the 30 s refetch guard
        rotated = idp.token(settings, idp.keys[1])
        assert (
            client.get("/v1/me", headers={"Authorization": f"Bearer {rotated}"}).status_code == 200
        )
        assert idp.fetches == 2

        stranger = ec.generate_private_key(ec.SECP256R1())
        refused = client.get(
            "/v1/me", headers={"Authorization": f"Bearer {idp.token(settings, stranger)}"}
        )
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
