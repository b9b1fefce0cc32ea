"""Issuing and verifying JWTs (python-jose, `cryptography` backend).

Verification is strict: the algorithm must be on the allowlist *and* be the algorithm of the key
named by `kid`, so `alg: none`, HS256 forged with an RSA public key, and unknown keys all fail
before any signature check; `exp`, `iss`, `aud` and `sub` are required.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from jose import jwt
from jose.exceptions import ExpiredSignatureError, JWTClaimsError, JWTError
from pydantic import ValidationError

from auth.keys import KeyRing
from auth.principals import Principal, PrincipalKind
from models.account import EntityKind, StaffRole
from registry.codes import is_region_code
from registry.config import Settings


class InvalidToken(Exception):
    """The token cannot be trusted; `reason` is safe to show (never echoes the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenService:
    def __init__(self, settings: Settings, keys: KeyRing) -> None:
        self.settings = settings
        self.keys = keys

    def issue(
        self, principal: Principal, *, lifetime_seconds: int | None = None
    ) -> tuple[str, int]:
        lifetime = lifetime_seconds or self.settings.jwt_access_token_minutes * 60
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": principal.subject,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "kind": principal.kind.value,
            "name": principal.name,
        }
        if principal.region_code:
            claims["region"] = principal.region_code
        if principal.role:
            claims["role"] = principal.role.value
        if principal.entity_kind:
            claims["entity_kind"] = principal.entity_kind.value
        if principal.entity_id:
            claims["entity_id"] = principal.entity_id
        if principal.scopes:
            claims["scope"] = " ".join(sorted(principal.scopes))
        key = self.keys.signing_key
        token = jwt.encode(claims, key.pem.decode(), algorithm=key.alg, headers={"kid": key.kid})
        return token, lifetime

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except JWTError as exc:
            raise InvalidToken("令牌格式不正确") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.settings.accepted_algorithms:
            raise InvalidToken("令牌使用了不被接受的签名算法")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("令牌缺少密钥标识(kid)")
        key = self.keys.find(kid)
        if key is None:
            raise InvalidToken("令牌的签名密钥未知")
        if key.get("alg") != alg:
            raise InvalidToken("令牌的签名算法与密钥不符")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={
                    "require_exp": True,
                    "require_iss": True,
                    "require_aud": True,
                    "require_sub": True,
                    "leeway": self.settings.jwt_leeway_seconds,
                },
            )
        except ExpiredSignatureError as exc:
            raise InvalidToken("令牌已过期") from exc
        except JWTClaimsError as exc:
            raise InvalidToken("令牌的签发方、受众或有效期不正确") from exc
        except JWTError as exc:
            raise InvalidToken("令牌签名无效") from exc
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Map claims to a principal; claims that contradict each other make the token invalid."""
    try:
        kind = PrincipalKind(claims.get("kind", ""))
        subject = str(claims["sub"])
        name = str(claims.get("name", ""))
        scope_claim = claims.get("scope", "")
        scopes = frozenset(scope_claim.split()) if isinstance(scope_claim, str) else frozenset()
        match kind:
            case PrincipalKind.staff:
                region = claims.get("region")
                if not isinstance(region, str) or not is_region_code(region):
                    raise ValueError("region")
                return Principal(
                    kind, subject, name, region_code=region, role=StaffRole(str(claims.get("role")))
                )
            case PrincipalKind.self_service:
                entity_id = claims.get("entity_id")
                return Principal(
                    kind,
                    subject,
                    name,
                    entity_kind=EntityKind(str(claims.get("entity_kind"))),
                    entity_id=str(entity_id) if entity_id else None,
                )
            case PrincipalKind.service:
                return Principal(kind, subject, name, scopes=scopes)
    except (KeyError, ValueError, ValidationError) as exc:
        raise InvalidToken("令牌中的身份声明不完整或不正确") from exc
    raise InvalidToken("令牌中的身份声明不完整或不正确")
