"""Token verification: what GET /v1/me accepts and what it refuses (401 `invalid_token`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jose import jwt
from pydantic import ValidationError
from sqlmodel import Session

from api.app import create_app
from auth.keys import DEV_HS256_KID, generate_signing_key, public_jwk
from models.account import EntityKind, StaffRole
from registry.config import Settings
from tests.conftest import assert_problem, self_service, service, staff

DEV_SECRET = "development-only-secret-0123456789abcdef"
DROP = object()  # a claim value meaning "leave this claim out"


# --- helpers ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _unb64_json(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def make_claims(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Valid staff claims (admin of 150100) for this settings' issuer and audience."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "tester",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "kind": "staff",
        "name": "测试",
        "region": "150100",
        "role": "admin",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not DROP}


def sign_with_app_key(app: FastAPI, claims: dict[str, Any], **headers: Any) -> str:
    """Sign with the app's own signing key; `kid` defaults to its kid (pass kid=DROP to omit)."""
    key = app.state.tokens.keys.signing_key
    header = {"kid": key.kid, **headers}
    header = {k: v for k, v in header.items() if v is not DROP}
    return jwt.encode(claims, key.pem.decode(), algorithm=key.alg, headers=header)


def hs256_by_hand(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 computed directly (python-jose itself refuses a PEM as an HMAC secret)."""
    signing_input = f"{_b64_json(header)}.{_b64_json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def public_pem_of(app: FastAPI) -> bytes:
    key = app.state.tokens.keys.signing_key
    private = serialization.load_pem_private_key(key.pem, password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: Any) -> dict[str, Any]:
    body = assert_problem(response, 401, "invalid_token")
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers
    return body


@pytest.fixture
def make_app(session_factory: Callable[[], Session], tmp_path: Path) -> Callable[..., FastAPI]:
    """`make_app(**settings)`: an app with other settings and its own data dir (own key)."""
    counter = iter(range(1000))

    def make(data_dir: Path | None = None, **overrides: Any) -> FastAPI:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": None,
            "registry_data_dir": data_dir or tmp_path / f"data-{next(counter)}",
        }
        values.update(overrides)
        return create_app(Settings(**values), session_factory=session_factory)

    return make


# --- accepted ---------------------------------------------------------------------------------


def test_token_issued_by_the_app_is_accepted_and_describes_the_caller(client, app):
    token, lifetime = app.state.tokens.issue(staff("150102", subject="alice"))
    assert lifetime == app.state.settings.jwt_access_token_minutes * 60
    r = client.get("/v1/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "kind": "staff",
        "subject": "alice",
        "name": "150102 admin",
        "region_code": "150102",
        "role": "admin",
        "entity_kind": None,
        "entity_id": None,
        "scopes": [],
    }


def test_service_and_self_service_tokens_round_trip(client, app):
    token, _ = app.state.tokens.issue(service("registry.read", "changes.read"))
    me = client.get("/v1/me", headers=bearer(token)).json()
    assert me["kind"] == "service"
    assert me["scopes"] == ["changes.read", "registry.read"]

    token, _ = app.state.tokens.issue(self_service(EntityKind.supplier, "S-1"))
    me = client.get("/v1/me", headers=bearer(token)).json()
    assert (me["kind"], me["entity_kind"], me["entity_id"]) == ("self_service", "supplier", "S-1")


def test_issued_token_header_names_the_signing_kid_and_rs256(app):
    token, _ = app.state.tokens.issue(staff("150100"))
    header = jwt.get_unverified_header(token)
    assert header["kid"] == app.state.tokens.keys.signing_key.kid
    assert header["alg"] == "RS256"


def test_expiry_within_the_leeway_is_still_accepted(client, app, settings):
    claims = make_claims(settings, exp=int(time.time()) - settings.jwt_leeway_seconds // 2)
    r = client.get("/v1/me", headers=bearer(sign_with_app_key(app, claims)))
    assert r.status_code == 200, r.text


def test_jwks_endpoint_lists_the_signing_key_without_private_parts(client, app):
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    keys = r.json()["keys"]
    kids = [k["kid"] for k in keys]
    assert app.state.tokens.keys.signing_key.kid in kids
    for key in keys:
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & key.keys()


def test_after_key_rotation_old_tokens_verify_and_new_tokens_use_the_new_key(make_app, tmp_path):
    data_dir = tmp_path / "rotating"
    before = make_app(data_dir)
    old_kid = before.state.tokens.keys.signing_key.kid
    old_token, _ = before.state.tokens.issue(staff("150100", subject="issued-before"))

    generate_signing_key(before.state.settings.signing_key_dir)
    after = make_app(data_dir)
    new_kid = after.state.tokens.keys.signing_key.kid
    assert new_kid != old_kid

    with TestClient(after) as c:
        r = c.get("/v1/me", headers=bearer(old_token))
        assert r.status_code == 200, r.text
        assert r.json()["subject"] == "issued-before"

        new_token, _ = after.state.tokens.issue(staff("150100", subject="issued-after"))
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        r = c.get("/v1/me", headers=bearer(new_token))
        assert r.status_code == 200, r.text

        jwks_kids = {k["kid"] for k in c.get("/.well-known/jwks.json").json()["keys"]}
        assert jwks_kids == {old_kid, new_kid}

    # the app that only knows the old key does not trust the new one
    with TestClient(before) as c:
        assert_refused(c.get("/v1/me", headers=bearer(new_token)))


def test_token_of_an_outside_identity_provider_in_the_jwks_file_is_accepted(make_app, tmp_path):
    idp_key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(idp_key)
    jwks_file = tmp_path / "idp-jwks.json"
    jwks_file.write_text(json.dumps({"keys": [jwk]}))
    outside = make_app(jwt_jwks_file=jwks_file)
    pem = idp_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    claims = make_claims(outside.state.settings, sub="idp-user-42", region="150200", role="viewer")
    token = jwt.encode(claims, pem, algorithm="ES256", headers={"kid": jwk["kid"]})

    with TestClient(outside) as c:
        r = c.get("/v1/me", headers=bearer(token))
        assert r.status_code == 200, r.text
        assert (r.json()["subject"], r.json()["region_code"], r.json()["role"]) == (
            "idp-user-42",
            "150200",
            "viewer",
        )

        # the same kid but signed by another P-256 key is refused
        impostor = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        forged = jwt.encode(
            claims, impostor.decode(), algorithm="ES256", headers={"kid": jwk["kid"]}
        )
        assert_refused(c.get("/v1/me", headers=bearer(forged)))

        # and the outside key is trusted, not published as ours
        kids = {k["kid"] for k in c.get("/.well-known/jwks.json").json()["keys"]}
        assert jwk["kid"] not in kids


def test_dev_hs256_token_is_accepted_when_configured(make_app):
    dev = make_app(environment="development", jwt_dev_hs256_secret=DEV_SECRET)
    token = jwt.encode(
        make_claims(dev.state.settings),
        DEV_SECRET,
        algorithm="HS256",
        headers={"kid": DEV_HS256_KID},
    )
    with TestClient(dev) as c:
        r = c.get("/v1/me", headers=bearer(token))
        assert r.status_code == 200, r.text
        # the dev key is never published
        kids = {k["kid"] for k in c.get("/.well-known/jwks.json").json()["keys"]}
        assert DEV_HS256_KID not in kids


def test_dev_hs256_token_is_refused_when_not_configured(client, settings):
    token = jwt.encode(
        make_claims(settings), DEV_SECRET, algorithm="HS256", headers={"kid": DEV_HS256_KID}
    )
    assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_dev_hs256_token_with_another_secret_is_refused(make_app):
    dev = make_app(environment="development", jwt_dev_hs256_secret=DEV_SECRET)
    token = jwt.encode(
        make_claims(dev.state.settings),
        "another-secret-that-is-long-enough-1234",
        algorithm="HS256",
        headers={"kid": DEV_HS256_KID},
    )
    with TestClient(dev) as c:
        assert_refused(c.get("/v1/me", headers=bearer(token)))


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["production", "test"])
def test_settings_refuse_the_dev_hs256_secret_outside_development(tmp_path, environment):
    with pytest.raises(ValidationError, match="ENVIRONMENT=development"):
        Settings(
            environment=environment, jwt_dev_hs256_secret=DEV_SECRET, registry_data_dir=tmp_path
        )


def test_settings_refuse_a_short_dev_hs256_secret(tmp_path):
    with pytest.raises(ValidationError, match="32"):
        Settings(
            environment="development", jwt_dev_hs256_secret="short", registry_data_dir=tmp_path
        )


@pytest.mark.parametrize("algorithms", [["HS256"], ["RS256", "HS256"], ["none"]])
def test_settings_refuse_symmetric_or_unknown_jwt_algorithms(tmp_path, algorithms):
    with pytest.raises(ValidationError, match="JWT_ALGORITHMS"):
        Settings(environment="development", jwt_algorithms=algorithms, registry_data_dir=tmp_path)


def test_settings_accept_hs256_only_through_the_dev_secret(tmp_path):
    s = Settings(
        environment="development", jwt_dev_hs256_secret=DEV_SECRET, registry_data_dir=tmp_path
    )
    assert "HS256" in s.accepted_algorithms
    plain = Settings(environment="development", registry_data_dir=tmp_path)
    assert "HS256" not in plain.accepted_algorithms


# --- refused: claims --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": "PAST"}, id="expired-beyond-leeway"),
        pytest.param({"aud": "some-other-api"}, id="wrong-audience"),
        pytest.param({"iss": "urn:someone-else"}, id="wrong-issuer"),
        pytest.param({"exp": DROP}, id="missing-exp"),
        pytest.param({"aud": DROP}, id="missing-aud"),
        pytest.param({"iss": DROP}, id="missing-iss"),
        pytest.param({"sub": DROP}, id="missing-sub"),
        pytest.param({"nbf": "FUTURE"}, id="not-yet-valid"),
        pytest.param({"region": "999999"}, id="staff-with-invalid-region-code"),
        pytest.param({"region": "1501"}, id="staff-with-short-region-code"),
        pytest.param({"region": DROP}, id="staff-without-region"),
        pytest.param({"role": "superuser"}, id="staff-with-unknown-role"),
        pytest.param({"role": DROP}, id="staff-without-role"),
        pytest.param({"kind": "root"}, id="unknown-kind"),
        pytest.param({"kind": DROP}, id="missing-kind"),
        pytest.param({"kind": "anonymous"}, id="kind-anonymous"),
        pytest.param({"kind": "self_service", "entity_kind": "purchaser"}, id="bad-entity-kind"),
    ],
)
def test_token_with_bad_claims_is_refused(client, app, settings, overrides):
    now = int(time.time())
    resolved = {
        k: (
            now - settings.jwt_leeway_seconds - 60
            if v == "PAST"
            else now + 3600
            if v == "FUTURE"
            else v
        )
        for k, v in overrides.items()
    }
    token = sign_with_app_key(app, make_claims(settings, **resolved))
    assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_control_valid_hand_signed_token_is_accepted(client, app, settings):
    """The helper used by the refusal tests makes acceptable tokens when nothing is wrong."""
    r = client.get("/v1/me", headers=bearer(sign_with_app_key(app, make_claims(settings))))
    assert r.status_code == 200, r.text
    assert r.json()["region_code"] == "150100"


def test_expired_token_is_refused_with_a_chinese_reason(client, app, settings):
    claims = make_claims(settings, exp=int(time.time()) - settings.jwt_leeway_seconds - 60)
    body = assert_refused(client.get("/v1/me", headers=bearer(sign_with_app_key(app, claims))))
    assert "过期" in body["detail"]


# --- refused: algorithm and key tricks --------------------------------------------------------


def test_alg_none_token_is_refused(client, app, settings):
    kid = app.state.tokens.keys.signing_key.kid
    for alg in ("none", "None", "NONE"):
        header = {"alg": alg, "typ": "JWT", "kid": kid}
        token = f"{_b64_json(header)}.{_b64_json(make_claims(settings))}."
        assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_hs256_forged_with_the_rsa_public_key_as_secret_is_refused(client, app, settings):
    kid = app.state.tokens.keys.signing_key.kid
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    token = hs256_by_hand(header, make_claims(settings, region="150000"), public_pem_of(app))
    assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_hs256_key_confusion_is_refused_even_with_dev_hs256_enabled(make_app):
    dev = make_app(environment="development", jwt_dev_hs256_secret=DEV_SECRET)
    assert "HS256" in dev.state.settings.accepted_algorithms
    kid = dev.state.tokens.keys.signing_key.kid
    claims = make_claims(dev.state.settings, region="150000")
    pem = public_pem_of(dev)
    with TestClient(dev) as c:
        header = {"alg": "HS256", "typ": "JWT", "kid": kid}
        assert_refused(c.get("/v1/me", headers=bearer(hs256_by_hand(header, claims, pem))))
        # the public key's JWK form (what /.well-known/jwks.json serves) as the secret: refused too
        jwk_bytes = json.dumps(dev.state.tokens.keys.signing_key.public).encode()
        assert_refused(c.get("/v1/me", headers=bearer(hs256_by_hand(header, claims, jwk_bytes))))
        # the dev kid with the RSA public key as the secret: refused (wrong secret)
        dev_header = {"alg": "HS256", "typ": "JWT", "kid": DEV_HS256_KID}
        assert_refused(c.get("/v1/me", headers=bearer(hs256_by_hand(dev_header, claims, pem))))


def test_rs256_header_on_the_dev_hs256_kid_is_refused(make_app):
    dev = make_app(environment="development", jwt_dev_hs256_secret=DEV_SECRET)
    token = sign_with_app_key(dev, make_claims(dev.state.settings), kid=DEV_HS256_KID)
    with TestClient(dev) as c:
        assert_refused(c.get("/v1/me", headers=bearer(token)))


def test_token_with_unknown_kid_is_refused(client, app, settings):
    token = sign_with_app_key(app, make_claims(settings), kid="no-such-key")
    assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_token_without_kid_is_refused(client, app, settings):
    token = sign_with_app_key(app, make_claims(settings), kid=DROP)
    assert "kid" not in jwt.get_unverified_header(token)
    assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_token_signed_by_another_apps_key_is_refused(client, make_app, settings):
    other = make_app()
    token, _ = other.state.tokens.issue(staff("150100"))
    assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_token_signed_by_another_key_but_naming_our_kid_is_refused(client, app, make_app, settings):
    other = make_app()
    other_key = other.state.tokens.keys.signing_key
    token = jwt.encode(
        make_claims(settings),
        other_key.pem.decode(),
        algorithm="RS256",
        headers={"kid": app.state.tokens.keys.signing_key.kid},
    )
    assert_refused(client.get("/v1/me", headers=bearer(token)))


def test_tampered_payload_is_refused(client, app):
    token, _ = app.state.tokens.issue(staff("150102", StaffRole.viewer))
    head, payload, signature = token.split(".")
    claims = _unb64_json(payload)
    claims["region"] = "150000"
    claims["role"] = "admin"
    forged = f"{head}.{_b64_json(claims)}.{signature}"
    assert_refused(client.get("/v1/me", headers=bearer(forged)))
    # the untouched token still works
    assert client.get("/v1/me", headers=bearer(token)).status_code == 200


def test_truncated_signature_is_refused(client, app):
    token, _ = app.state.tokens.issue(staff("150100"))
    assert_refused(client.get("/v1/me", headers=bearer(token[:-10])))
    assert_refused(client.get("/v1/me", headers=bearer(token.rsplit(".", 1)[0] + ".")))


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "Zm9v.YmFy.YmF6"],
)
def test_garbage_token_is_refused(client, token):
    assert_refused(client.get("/v1/me", headers=bearer(token)))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Token abc",
        "bearer",
    ],
)
def test_malformed_authorization_header_is_refused(client, authorization):
    assert_refused(client.get("/v1/me", headers={"Authorization": authorization}))


def test_basic_credentials_outside_the_token_endpoint_are_not_a_login(client):
    r = client.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNzd29yZA=="})
    assert_problem(r, 401, "authentication_required")


def test_anonymous_caller_gets_authentication_required(client):
    r = client.get("/v1/me")
    assert_problem(r, 401, "authentication_required")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_refusal_never_echoes_the_token(client, app, settings):
    token = sign_with_app_key(app, make_claims(settings, role="superuser"))
    r = client.get("/v1/me", headers=bearer(token))
    assert_refused(r)
    assert token not in r.text
    assert token.split(".")[1] not in r.text
