"""Public ids: a short type prefix and 80 bits in Crockford base32, never reused."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def encode_id(prefix: str, value: int) -> str:
    """`prefix_` and the low 80 bits of `value` as 16 base32 characters."""
    chars = []
    for _ in range(16):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return f"{prefix}_{''.join(chars)}"


def new_id(prefix: str) -> str:
    return encode_id(prefix, secrets.randbits(80))
