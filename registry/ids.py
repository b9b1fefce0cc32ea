"""Public ids: a short type prefix and 80 random bits (Crockford base32), never reused."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = secrets.randbits(80)
    chars = []
    for _ in range(16):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return f"{prefix}_{''.join(chars)}"
