"""Signing and verification keys.

- Signing: PEM private keys in the key directory; the newest file signs, older ones stay
  trusted until removed (rotation: add a key, wait one token lifetime, remove the old one).
- Verification: our own public keys, plus a JWKS file and/or URL of an outside identity
  provider. Every key carries its `kid` and its one algorithm; a token must name a known `kid`
  and use exactly that key's algorithm.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk

log = logging.getLogger(__name__)

DEV_HS256_KID = "dev-hs256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """Public JWK with an RFC 7638 thumbprint as `kid`."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.public_key().public_numbers()
        members = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
        alg = "RS256"
    else:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("only P-256 EC keys are supported (ES256)")
        pub = private_key.public_key().public_numbers()
        members = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64(pub.x.to_bytes(32, "big")),
            "y": _b64(pub.y.to_bytes(32, "big")),
        }
        alg = "ES256"
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    kid = _b64(hashlib.sha256(canonical).digest())
    return {**members, "kid": kid, "alg": alg, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    pem: bytes
    public: dict[str, str]


def generate_signing_key(key_dir: Path) -> Path:
    """Write a new RSA-2048 private key (mode 0600); it becomes the signing key."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = key_dir / f"{stamp}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path


def load_signing_keys(key_dir: Path) -> list[SigningKey]:
    """Keys sorted oldest first; the last one signs."""
    keys = []
    for path in sorted(key_dir.glob("*.pem")):
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path}: only RSA and P-256 EC keys are supported")
        public = public_jwk(private)
        keys.append(SigningKey(public["kid"], public["alg"], path.read_bytes(), public))
    return keys


class KeyRing:
    """All keys the service signs with and trusts. Thread-safe; remote JWKS cached."""

    def __init__(
        self,
        *,
        signing_keys: list[SigningKey],
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        cache_seconds: int = 300,
        dev_hs256_secret: str | None = None,
    ) -> None:
        self._signing = signing_keys
        self._static: dict[str, dict[str, Any]] = {k.kid: k.public for k in signing_keys}
        if jwks_file is not None:
            for key in _parse_jwks(json.loads(jwks_file.read_text())):
                self._static[key["kid"]] = key
        if dev_hs256_secret:
            secret = _b64(dev_hs256_secret.encode())
            self._static[DEV_HS256_KID] = {
                "kty": "oct",
                "k": secret,
                "kid": DEV_HS256_KID,
                "alg": "HS256",
            }
        self._jwks_url = jwks_url
        self._cache_seconds = cache_seconds
        self._remote: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    @property
    def signing_key(self) -> SigningKey:
        if not self._signing:
            raise RuntimeError("no signing key: the service does not issue tokens")
        return self._signing[-1]

    def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.public for k in self._signing]}

    def find(self, kid: str) -> dict[str, Any] | None:
        if kid in self._static:
            return self._static[kid]
        if self._jwks_url is None:
            return None
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self._cache_seconds
            # An unknown kid may be a freshly rotated key: refetch, but at most every 30 s.
            unknown_may_be_new = (
                kid not in self._remote and time.monotonic() - self._fetched_at > 30
            )
            if stale or unknown_may_be_new:
                self._refresh()
            return self._remote.get(kid)

    def _refresh(self) -> None:
        assert self._jwks_url is not None
        self._fetched_at = time.monotonic()
        try:
            response = httpx.get(self._jwks_url, timeout=5.0)
            response.raise_for_status()
            self._remote = {k["kid"]: k for k in _parse_jwks(response.json())}
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("could not refresh JWKS from %s: %s", self._jwks_url, exc)


def _parse_jwks(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Keep signature keys that name their kid and an asymmetric algorithm we can load."""
    keys = []
    for key in document.get("keys", []):
        if not key.get("kid") or key.get("use", "sig") != "sig":
            continue
        alg = key.get("alg") or {"RSA": "RS256", "EC": "ES256"}.get(key.get("kty", ""))
        if alg is None or alg.startswith("HS"):
            continue
        jwk.construct(key, alg)  # raises on a malformed key
        keys.append({**key, "alg": alg})
    return keys
