"""Personal-data encryption (`registry/crypto.py`): pure unit tests, no database."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry import crypto
from registry.config import Settings
from registry.crypto import (
    DecryptionError,
    PersonalDataCipher,
    is_encrypted,
    load_cipher,
    rotate_key,
)

ID = "expert.id_number"
PHONE = "expert.personal_phone"
ID_NUMBER = "15010219800101001X"
CN_TEXT = "张三，呼和浩特市新城区 13800138000"

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
INDEX_KEY = bytes(range(64, 96))
FIXED = PersonalDataCipher(keys=(("a", KEY_A), ("b", KEY_B)), index_key=INDEX_KEY)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys in the caller's environment must not leak into these tests."""
    monkeypatch.delenv("PERSONAL_DATA_KEYS", raising=False)
    monkeypatch.delenv("BLIND_INDEX_KEY", raising=False)


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        environment="test",
        database_url=None,
        registry_data_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
        **overrides,  # type: ignore[arg-type]
    )


def _flip(token: str, position: int) -> str:
    """The token with one byte of its nonce + ciphertext changed."""
    head, _, payload = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[position % len(raw)] ^= 0x01
    return f"{head}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


# --- encryption ---------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [ID_NUMBER, CN_TEXT, "", "13800138000"])
def test_round_trip_ascii_and_chinese(plaintext: str) -> None:
    token = FIXED.encrypt(plaintext, context=ID)
    assert FIXED.decrypt(token, context=ID) == plaintext
    assert is_encrypted(token)
    assert plaintext not in token or plaintext == ""


def test_token_format_names_the_current_key() -> None:
    token = FIXED.encrypt(ID_NUMBER, context=ID)
    prefix, kid, payload = token.split(".")
    assert (prefix, kid) == ("pd1", "b")
    assert "=" not in payload
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert len(raw) == 12 + len(ID_NUMBER) + 16  # nonce + ciphertext + GCM tag


def test_same_plaintext_gives_different_tokens() -> None:
    tokens = {FIXED.encrypt(ID_NUMBER, context=ID) for _ in range(20)}
    assert len(tokens) == 20
    assert {FIXED.decrypt(t, context=ID) for t in tokens} == {ID_NUMBER}


def test_wrong_context_fails() -> None:
    token = FIXED.encrypt(ID_NUMBER, context=ID)
    with pytest.raises(DecryptionError):
        FIXED.decrypt(token, context=PHONE)


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])
def test_flipped_byte_fails(position: int) -> None:
    token = FIXED.encrypt(ID_NUMBER, context=ID)
    with pytest.raises(DecryptionError):
        FIXED.decrypt(_flip(token, position), context=ID)


def test_unknown_kid_fails() -> None:
    token = FIXED.encrypt(ID_NUMBER, context=ID)
    other = PersonalDataCipher(keys=(("c", KEY_A),), index_key=INDEX_KEY)
    with pytest.raises(DecryptionError, match="未知的密钥"):
        other.decrypt(token, context=ID)
    # The same bytes under another kid do not decrypt either (kid "a" is a different key).
    with pytest.raises(DecryptionError):
        FIXED.decrypt(token.replace("pd1.b.", "pd1.a.", 1), context=ID)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ID_NUMBER,
        "pd1.",
        "pd1.b",
        "pd1.b.",
        "pd1.b.AAAA",  # shorter than nonce + tag
        "pd1.b.not*base64",
        "pd1..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pd1.b.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.x",
        "pd2.b.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_tokens_fail(token: str) -> None:
    with pytest.raises(DecryptionError):
        FIXED.decrypt(token, context=ID)


def test_decryption_errors_never_show_plaintext_or_keys() -> None:
    token = FIXED.encrypt(ID_NUMBER, context=ID)
    other = PersonalDataCipher(keys=(("b", KEY_B[::-1]),), index_key=INDEX_KEY)
    attempts = [
        lambda: FIXED.decrypt(token, context=PHONE),
        lambda: FIXED.decrypt(_flip(token, 15), context=ID),
        lambda: other.decrypt(token, context=ID),
        lambda: FIXED.decrypt(ID_NUMBER, context=ID),
        lambda: PersonalDataCipher(keys=(("z", KEY_A),), index_key=INDEX_KEY).decrypt(
            token, context=ID
        ),
    ]
    secrets = [ID_NUMBER, _b64(KEY_A), _b64(KEY_B), _b64(INDEX_KEY), KEY_B.hex(), token]
    for attempt in attempts:
        with pytest.raises(DecryptionError) as info:
            attempt()
        message = str(info.value)
        assert message and any("\u4e00" <= ch <= "\u9fff" for ch in message)  # Chinese
        for secret in secrets:
            assert secret not in message
        assert info.value.__cause__ is None


def test_repr_hides_keys() -> None:
    text = repr(FIXED)
    assert "kids=[a, b]" in text and "current='b'" in text
    for secret in (repr(KEY_A), repr(KEY_B), repr(INDEX_KEY), KEY_A.hex()):
        assert secret not in text


@given(st.text(), st.sampled_from([ID, PHONE, "x"]))
def test_round_trip_any_text(plaintext: str, context: str) -> None:
    token = FIXED.encrypt(plaintext, context=context)
    assert is_encrypted(token)
    assert FIXED.decrypt(token, context=context) == plaintext


def test_is_encrypted() -> None:
    assert is_encrypted(FIXED.encrypt("x", context=ID))
    assert not is_encrypted(ID_NUMBER)
    assert not is_encrypted(None)
    assert not is_encrypted(b"pd1.b.AAAA")


# --- blind index --------------------------------------------------------------------------------


def test_blind_index_is_deterministic_and_keyed() -> None:
    first = FIXED.blind_index(ID_NUMBER, context=ID)
    assert first == FIXED.blind_index(ID_NUMBER, context=ID)
    assert len(first) == 64 and int(first, 16) >= 0
    assert ID_NUMBER not in first
    assert first != FIXED.blind_index(ID_NUMBER, context=PHONE)
    assert first != FIXED.blind_index("150102198001010011", context=ID)
    other_index = PersonalDataCipher(keys=FIXED.keys, index_key=bytes(range(1, 33)))
    assert first != other_index.blind_index(ID_NUMBER, context=ID)
    # Rotating the encryption keys keeps the index (only the index key matters).
    rotated = PersonalDataCipher(keys=(("c", bytes(32)),), index_key=INDEX_KEY)
    assert first == rotated.blind_index(ID_NUMBER, context=ID)


def test_blind_index_matches_its_definition() -> None:
    import hashlib
    import hmac

    expected = hmac.new(INDEX_KEY, f"{ID}\x00{ID_NUMBER}".encode(), hashlib.sha256).hexdigest()
    assert FIXED.blind_index(ID_NUMBER, context=ID) == expected


def test_blind_index_context_cannot_be_ambiguous() -> None:
    with pytest.raises(ValueError):
        FIXED.blind_index("x", context="a\x00b")
    with pytest.raises(ValueError):
        FIXED.blind_index("x", context="")


# --- cipher validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "index_key", "message"),
    [
        ((), INDEX_KEY, "at least one"),
        ((("a", KEY_A[:16]),), INDEX_KEY, "exactly 32"),
        ((("a", KEY_A), ("a", KEY_B)), INDEX_KEY, "used twice"),
        ((("a.b", KEY_A),), INDEX_KEY, "invalid key id"),
        ((("", KEY_A),), INDEX_KEY, "invalid key id"),
        ((("a", KEY_A),), INDEX_KEY[:31], "at least 32"),
        ((("a", KEY_A),), KEY_A, "must differ"),
    ],
)
def test_cipher_rejects_bad_keys(
    keys: tuple[tuple[str, bytes], ...], index_key: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PersonalDataCipher(keys=keys, index_key=index_key)


# --- key file -----------------------------------------------------------------------------------


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = tmp_path / "personal-data-keys.json"
    assert not path.exists()
    first = load_cipher(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert [k["kid"] for k in document["keys"]] == [first.current_kid]
    assert len(base64.b64decode(document["keys"][0]["key"])) == 32
    assert len(base64.b64decode(document["index_key"])) >= 32
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind

    again = load_cipher(settings)
    assert again == first
    token = first.encrypt(CN_TEXT, context=PHONE)
    assert again.decrypt(token, context=PHONE) == CN_TEXT


def test_key_file_created_in_missing_data_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "nested" / "data")
    load_cipher(settings)
    assert (tmp_path / "nested" / "data" / "personal-data-keys.json").exists()


def test_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = load_cipher(settings)
    crypto._create_key_file(tmp_path / "personal-data-keys.json")  # a creator that lost the race
    assert load_cipher(settings) == first


def test_malformed_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "personal-data-keys.json"
    path.write_text('{"format": 1, "keys": []}')
    with pytest.raises(ValueError, match="malformed"):
        load_cipher(_settings(tmp_path))
    path.write_text("not json")
    with pytest.raises(ValueError, match="cannot read"):
        load_cipher(_settings(tmp_path))


def test_rotation_keeps_old_tokens_readable(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    old = load_cipher(settings)
    old_token = old.encrypt(ID_NUMBER, context=ID)
    index = old.blind_index(ID_NUMBER, context=ID)

    new_kid = rotate_key(settings)
    path = tmp_path / "personal-data-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [path.name]

    new = load_cipher(settings)
    assert new_kid != old.current_kid
    assert [kid for kid, _ in new.keys] == [old.current_kid, new_kid]
    assert new.current_kid == new_kid
    assert new.decrypt(old_token, context=ID) == ID_NUMBER
    assert new.blind_index(ID_NUMBER, context=ID) == index  # the index key is not rotated

    new_token = new.encrypt(ID_NUMBER, context=ID)
    assert new_token.startswith(f"pd1.{new_kid}.")
    assert not new.needs_reencryption(new_token)
    assert new.needs_reencryption(old_token)

    moved = new.reencrypt(old_token, context=ID)
    assert moved.startswith(f"pd1.{new_kid}.")
    assert not new.needs_reencryption(moved)
    assert new.decrypt(moved, context=ID) == ID_NUMBER
    assert new.reencrypt(moved, context=ID) == moved  # already current: unchanged
    with pytest.raises(DecryptionError):
        new.reencrypt(old_token, context=PHONE)
    with pytest.raises(DecryptionError):
        old.decrypt(new_token, context=ID)  # a process that has not reloaded its keys

    third = rotate_key(settings)
    assert [kid for kid, _ in load_cipher(settings).keys] == [old.current_kid, new_kid, third]
    assert load_cipher(settings).decrypt(old_token, context=ID) == ID_NUMBER


def test_rotate_without_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nothing to rotate"):
        rotate_key(_settings(tmp_path))


# --- keys from the environment ------------------------------------------------------------------


def test_env_keys_are_parsed_last_is_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONAL_DATA_KEYS", f"2023a:{_b64(KEY_A)}, 2024b:{_b64(KEY_B)}")
    monkeypatch.setenv("BLIND_INDEX_KEY", _b64(INDEX_KEY))
    settings = _settings(tmp_path)
    assert _b64(KEY_A) not in repr(settings)
    assert _b64(INDEX_KEY) not in repr(settings)
    loaded = load_cipher(settings)
    assert loaded.keys == (("2023a", KEY_A), ("2024b", KEY_B))
    assert loaded.index_key == INDEX_KEY
    assert loaded.current_kid == "2024b"
    assert loaded.encrypt("x", context=ID).startswith("pd1.2024b.")
    assert not (tmp_path / "personal-data-keys.json").exists()  # no key file in env mode


def test_env_keys_accept_urlsafe_base64_without_padding(tmp_path: Path) -> None:
    urlsafe = base64.urlsafe_b64encode(b"\xff" * 32).rstrip(b"=").decode()
    settings = _settings(
        tmp_path, personal_data_keys=f"k1:{urlsafe}", blind_index_key=_b64(INDEX_KEY)
    )
    assert load_cipher(settings).keys == (("k1", b"\xff" * 32),)


@pytest.mark.parametrize(
    ("keys", "index", "message"),
    [
        (f"a:{_b64(KEY_A)}", None, "BLIND_INDEX_KEY is not set"),
        (None, _b64(INDEX_KEY), "PERSONAL_DATA_KEYS is not set"),
        (f"a:{_b64(KEY_A)}", "   ", "BLIND_INDEX_KEY is not set"),
    ],
)
def test_half_configured_env_is_refused(
    tmp_path: Path, keys: str | None, index: str | None, message: str
) -> None:
    settings = _settings(tmp_path, personal_data_keys=keys, blind_index_key=index)
    with pytest.raises(ValueError, match=message) as info:
        load_cipher(settings)
    assert "needed together" in str(info.value)


@pytest.mark.parametrize(
    ("keys", "index", "message"),
    [
        (_b64(KEY_A), _b64(INDEX_KEY), "must be '<key id>:<base64"),
        (f"a:{_b64(KEY_A[:16])}", _b64(INDEX_KEY), "exactly 32"),
        ("a:!!!not base64!!!", _b64(INDEX_KEY), "not valid base64"),
        (f"a:{_b64(KEY_A)},a:{_b64(KEY_B)}", _b64(INDEX_KEY), "used twice"),
        (f"a.b:{_b64(KEY_A)}", _b64(INDEX_KEY), "invalid key id"),
        (f"a:{_b64(KEY_A)}", _b64(INDEX_KEY[:16]), "BLIND_INDEX_KEY decodes to 16 bytes"),
    ],
)
def test_bad_env_keys_are_clear_errors(tmp_path: Path, keys: str, index: str, message: str) -> None:
    settings = _settings(tmp_path, personal_data_keys=keys, blind_index_key=index)
    with pytest.raises(ValueError, match=message) as info:
        load_cipher(settings)
    assert _b64(KEY_A) not in str(info.value)


def test_rotate_with_env_keys_is_refused(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, personal_data_keys=f"a:{_b64(KEY_A)}", blind_index_key=_b64(INDEX_KEY)
    )
    with pytest.raises(ValueError, match="PERSONAL_DATA_KEYS"):
        rotate_key(settings)
    assert os.listdir(tmp_path) == []


# --- process-wide accessor ----------------------------------------------------------------------


def test_configure_and_cipher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_configured", None)
    with pytest.raises(RuntimeError, match="not configured"):
        crypto.cipher()
    crypto.configure(FIXED)
    assert crypto.cipher() is FIXED
