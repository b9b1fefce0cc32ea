"""Encryption of personal data (experts' resident ID numbers, personal phones).

Why and how:

- Values are sealed with AES-256-GCM (authenticated): a changed byte fails to decrypt instead of
  decrypting to garbage. The field name (`context`, e.g. "expert.id_number") is the associated
  data, so a token copied into another column or another kind of value does not decrypt there.
- A token is `pd1.<kid>.<base64url(nonce + ciphertext)>`: it names its key, so several keys can
  be trusted at once. The last key encrypts, all of them decrypt. Rotation without downtime:
  add a key (`rotate_key`, or append it to PERSONAL_DATA_KEYS), restart every process so all of
  them know the new key, re-encrypt old tokens (`needs_reencryption` / `reencrypt`), and only
  then drop the old key. A process that has not reloaded its keys cannot read tokens written
  under a key it does not know yet, so restart all processes before running the re-encryption.
- Encrypted values cannot be compared in SQL, so a searchable, unique column stores a blind
  index next to them: HMAC-SHA256 under a separate index key, bound to the field. The index key
  is NOT rotated with the encryption keys: a new index key changes every index value, which
  means recomputing all of them (decrypt every row, re-index) in one maintenance step. Callers
  canonicalize the value first (e.g. upper-case the check character of an ID number), since
  equal plaintexts are only found when they are byte-for-byte equal.

Keys come from the environment (PERSONAL_DATA_KEYS and BLIND_INDEX_KEY, both or neither) or,
when neither is set, from `<data dir>/personal-data-keys.json` (mode 0600), created on first use.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.config import Settings

log = logging.getLogger(__name__)

TOKEN_PREFIX = "pd1."  # noqa: S105 (a format marker, not a secret)
KEY_FILE_NAME = "personal-data-keys.json"
KEY_BYTES = 32  # AES-256
MIN_INDEX_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_KEY_FILE_FORMAT = 1
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class DecryptionError(Exception):
    """A token could not be opened. The message never holds plaintext or key material."""


@dataclass(frozen=True)
class PersonalDataCipher:
    """Encrypts and blind-indexes personal data with a fixed set of keys."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)
    index_key: bytes = field(repr=False)
    _aead: dict[str, AESGCM] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one personal-data encryption key is needed")
        aead: dict[str, AESGCM] = {}
        for kid, key in self.keys:
            if not _KID.fullmatch(kid):
                raise ValueError(
                    f"invalid key id {kid!r}: use 1-64 characters from A-Z a-z 0-9 _ -"
                )
            if kid in aead:
                raise ValueError(f"key id {kid!r} is used twice")
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"key {kid!r} has {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}"
                )
            aead[kid] = AESGCM(key)
        if len(self.index_key) < MIN_INDEX_KEY_BYTES:
            raise ValueError(
                f"the blind-index key has {len(self.index_key)} bytes; "
                f"at least {MIN_INDEX_KEY_BYTES} are needed"
            )
        if any(hmac.compare_digest(self.index_key, key) for _, key in self.keys):
            raise ValueError("the blind-index key must differ from every encryption key")
        object.__setattr__(self, "_aead", aead)

    def __repr__(self) -> str:
        kids = ", ".join(kid for kid, _ in self.keys)
        return f"PersonalDataCipher(kids=[{kids}], current={self.current_kid!r})"

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(kid for kid, _ in self.keys)

    @property
    def current_kid(self) -> str:
        """The id of the key new tokens are written with (the last one)."""
        return self.keys[-1][0]

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Seal `plaintext` for the field `context` under the current key, with a fresh nonce."""
        kid = self.current_kid
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead[kid].encrypt(nonce, plaintext.encode("utf-8"), _aad(context))
        return f"{TOKEN_PREFIX}{kid}.{_b64url(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> str:
        """Open a token written for the field `context`; DecryptionError if it does not open."""
        kid, payload = _parse(token)
        aead = self._aead.get(kid)
        if aead is None:
            raise DecryptionError(f"个人数据密文使用了未知的密钥（{kid}），请检查密钥配置")
        try:
            data = aead.decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], _aad(context))
            return data.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise DecryptionError(
                f"个人数据密文无法解密：内容被篡改、密钥不符，或不属于字段 {context}"
            ) from None

    def blind_index(self, value: str, *, context: str) -> str:
        """Deterministic keyed hash of `value` for the field `context`: lookups and uniqueness."""
        message = _check_context(context).encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()

    def needs_reencryption(self, token: str) -> bool:
        """True when the token was not written with the current key (DecryptionError if malformed)."""
        kid, _ = _parse(token)
        return kid != self.current_kid

    def reencrypt(self, token: str, *, context: str) -> str:
        """The same plaintext under the current key; a token already current comes back as is."""
        plaintext = self.decrypt(token, context=context)
        if not self.needs_reencryption(token):
            return token
        return self.encrypt(plaintext, context=context)


def is_encrypted(value: object) -> bool:
    """Whether a stored value is a token (as opposed to legacy plaintext awaiting encryption)."""
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def _check_context(context: str) -> str:
    # A NUL in the context would make "ctx\0value" ambiguous in the blind index.
    if not context or "\x00" in context:
        raise ValueError("context must be a non-empty field name without NUL characters")
    return context


def _aad(context: str) -> bytes:
    return _check_context(context).encode("utf-8")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _parse(token: str) -> tuple[str, bytes]:
    """Split a token into its key id and nonce + ciphertext, or raise DecryptionError."""
    malformed = DecryptionError("个人数据密文格式无效")
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        raise malformed
    parts = token[len(TOKEN_PREFIX) :].split(".")
    if len(parts) != 2 or not _KID.fullmatch(parts[0]) or not _B64URL.fullmatch(parts[1]):
        raise malformed
    kid, encoded = parts
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise malformed from None
    if len(payload) < NONCE_BYTES + TAG_BYTES:
        raise malformed
    return kid, payload


# --- loading keys -------------------------------------------------------------------------------


def _b64decode(value: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional; the error names the setting, not the value."""
    text = "".join(value.split()).replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def _blank_to_none(value: str | None) -> str | None:
    """An empty setting (`PERSONAL_DATA_KEYS=` in .env) counts as unset."""
    if value is None or not value.strip():
        return None
    return value.strip()


def _parse_key_list(spec: str) -> tuple[tuple[str, bytes], ...]:
    keys = []
    for number, item in enumerate(spec.split(","), start=1):
        kid, sep, encoded = item.strip().partition(":")
        if not sep or not kid.strip():
            raise ValueError(
                f"PERSONAL_DATA_KEYS entry {number} must be '<key id>:<base64 of 32 bytes>'"
            )
        kid = kid.strip()
        key = _b64decode(encoded, f"PERSONAL_DATA_KEYS key {kid!r}")
        if len(key) != KEY_BYTES:
            raise ValueError(
                f"PERSONAL_DATA_KEYS key {kid!r} decodes to {len(key)} bytes; "
                f"AES-256 needs exactly {KEY_BYTES}"
            )
        keys.append((kid, key))
    return tuple(keys)


def _env_keys(settings: Settings) -> tuple[str, str] | None:
    """Both env settings, None if neither; ValueError if only one is set."""
    keys = _blank_to_none(settings.personal_data_keys)
    index = _blank_to_none(settings.blind_index_key)
    if keys is None and index is None:
        return None
    if keys is None or index is None:
        missing = "PERSONAL_DATA_KEYS" if keys is None else "BLIND_INDEX_KEY"
        raise ValueError(
            f"{missing} is not set: PERSONAL_DATA_KEYS and BLIND_INDEX_KEY are needed together "
            f"(or neither, to keep the keys in <data dir>/{KEY_FILE_NAME})"
        )
    return keys, index


def key_file_path(settings: Settings) -> Path:
    """Where the keys live when they are not configured in the environment."""
    return settings.data_dir / KEY_FILE_NAME


def load_cipher(settings: Settings) -> PersonalDataCipher:
    """The cipher for these settings: env keys, else the key file (created on first use)."""
    configured = _env_keys(settings)
    if configured is not None:
        spec, index = configured
        index_key = _b64decode(index, "BLIND_INDEX_KEY")
        if len(index_key) < MIN_INDEX_KEY_BYTES:
            raise ValueError(
                f"BLIND_INDEX_KEY decodes to {len(index_key)} bytes; "
                f"at least {MIN_INDEX_KEY_BYTES} are needed"
            )
        return PersonalDataCipher(keys=_parse_key_list(spec), index_key=index_key)
    path = key_file_path(settings)
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def rotate_key(settings: Settings) -> str:
    """Add a new current key to the key file (older keys stay for decryption); its id."""
    if _blank_to_none(settings.personal_data_keys) or _blank_to_none(settings.blind_index_key):
        raise ValueError(
            "keys are configured in the environment: generate a key "
            "(base64 of 32 random bytes), append '<new key id>:<key>' at the end of "
            "PERSONAL_DATA_KEYS, keep the old entries, and restart the service"
        )
    path = key_file_path(settings)
    if not path.exists():
        raise ValueError(f"no key file at {path}: nothing to rotate (it is created on first use)")
    with _locked(path):
        document = _read_document(path)
        current = _cipher_from_document(path, document)  # validate before writing anything
        kid = _new_kid({k for k, _ in current.keys})
        document["keys"].append(_key_entry(kid))
        _write_atomically(path, document, replace=True)
    log.info("personal-data key rotated; new current key %s", kid)
    return kid


def _new_kid(taken: set[str]) -> str:
    kid = "k" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    while kid in taken:
        kid = f"{kid}-{secrets.token_hex(2)}"
    return kid


def _key_entry(kid: str) -> dict[str, str]:
    return {
        "kid": kid,
        "key": base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii"),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _create_key_file(path: Path) -> None:
    """Write a fresh key file; if another process wins the race, its file is kept."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "format": _KEY_FILE_FORMAT,
        "index_key": base64.b64encode(secrets.token_bytes(MIN_INDEX_KEY_BYTES)).decode("ascii"),
        "keys": [_key_entry(_new_kid(set()))],
    }
    with contextlib.suppress(FileExistsError):
        _write_atomically(path, document, replace=False)
        log.info("created personal-data key file %s", path)


def _write_atomically(path: Path, document: dict[str, Any], *, replace: bool) -> None:
    """Write a complete 0600 temp file, then publish it in one step.

    `replace=False` publishes with a hard link, which fails if the file exists (no reader ever
    sees a half-written file, and a concurrent creator's keys are never overwritten).
    """
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize rotations: two at once could each drop the other's new key."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock_path = path.with_name(f".{path.name}.lock")
    fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read personal-data key file {path}: {exc}") from None
    if (
        not isinstance(document, dict)
        or document.get("format") != _KEY_FILE_FORMAT
        or not isinstance(document.get("index_key"), str)
        or not isinstance(document.get("keys"), list)
        or not document["keys"]
        or not all(
            isinstance(k, dict) and isinstance(k.get("kid"), str) and isinstance(k.get("key"), str)
            for k in document["keys"]
        )
    ):
        raise ValueError(
            f"personal-data key file {path} is malformed: expected format {_KEY_FILE_FORMAT} "
            "with 'index_key' and a non-empty 'keys' list of {kid, key}"
        )
    return document


def _read_key_file(path: Path) -> PersonalDataCipher:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("personal-data key file %s is readable by others (mode %o)", path, mode)
    return _cipher_from_document(path, _read_document(path))


def _cipher_from_document(path: Path, document: dict[str, Any]) -> PersonalDataCipher:
    keys = tuple(
        (entry["kid"], _b64decode(entry["key"], f"{path} key {entry['kid']!r}"))
        for entry in document["keys"]
    )
    index_key = _b64decode(document["index_key"], f"{path} index_key")
    try:
        return PersonalDataCipher(keys=keys, index_key=index_key)
    except ValueError as exc:
        raise ValueError(f"personal-data key file {path}: {exc}") from None


# --- process-wide cipher ------------------------------------------------------------------------

_configured: PersonalDataCipher | None = None
_reload: Callable[[], PersonalDataCipher] | None = None


def configure(
    cipher: PersonalDataCipher, *, reload: Callable[[], PersonalDataCipher] | None = None
) -> None:
    """Set the cipher the process uses (the app and CLI at start, tests in fixtures). `reload`
    re-reads the keys: used when a token names a key this process does not know yet, because
    another process (`registry keys rotate-personal-data`) added it after this one started."""
    global _configured, _reload
    _configured = cipher
    _reload = reload


def open_token(token: str, *, context: str) -> str:
    """Decrypt with the configured cipher, re-reading the keys once for a key id it lacks."""
    current = cipher()
    kid, _ = _parse(token)
    if kid not in current.kids and _reload is not None:
        configure(_reload(), reload=_reload)
        current = cipher()
    return current.decrypt(token, context=context)


def cipher() -> PersonalDataCipher:
    """The configured cipher; RuntimeError before `configure`."""
    if _configured is None:
        raise RuntimeError(
            "personal-data cipher not configured: call registry.crypto.configure(load_cipher(settings))"
        )
    return _configured
