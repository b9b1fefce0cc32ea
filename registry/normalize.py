"""Normalization of e-mall goods (电子卖场商品) for de-duplication.

A commodity is one product, whoever offers it: ten suppliers listing `HP LaserJet Pro M404dn`
make one commodity with ten offers. Its identity is the key (catalog code, brand, model), unique
among live records, so every spelling of the same product must give the same key:

    HP LaserJet Pro M404dn  ==  hp laserjet pro  m404dn  ==  ＨＰ ＬａｓｅｒＪｅｔ Ｐｒｏ Ｍ４０４ｄｎ
    -> "A02020000|HP|LASERJETPROM404DN"

What is folded: full-width forms (NFKC), letter case, spaces and separator punctuation, brand
aliases (惠普 = HP = Hewlett-Packard, from `registry/data/brand_aliases.csv`), a brand name the
model repeats at its start, trademark signs. What is kept: every letter and digit as written
(`M404dn` ≠ `M404n`, `Pro` ≠ `Plus`, `0` ≠ `O`, no leading zeros dropped), the decimal point
between two digits (`1.5T` ≠ `15T`), `+`, `#`, `*` and `%` (`Pro+` ≠ `Pro`), CJK characters.
Every function here is idempotent: normalizing a normalized value returns it unchanged.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

BRAND_ALIASES_FILE = Path(__file__).resolve().parent / "data" / "brand_aliases.csv"

# Trademark signs would become letters under NFKC (™ -> "TM"); they are never part of a name.
_MARKS = dict.fromkeys(map(ord, "™℠®©"), None)
# Characters invisible in a form but present in copy-pasted data: zero-width spaces, BOM, soft
# hyphen, word joiner. `str.isspace()` does not see them, so they are dropped explicitly.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
# Symbols that distinguish models (`Pro+`, `C#`, `2*4`, `95%`); every other non-alphanumeric
# character is a separator and is dropped.
_MODEL_SYMBOLS = frozenset("+#*%")
_MULTIPLY = {ord("×"): "*", ord("✕"): "*"}
# Brackets split a brand into parts: `惠普（HP）`, `联想(中国)`.
_BRACKETS = re.compile(r"[()\[\]{}<>【】〔〕〖〗《》〈〉「」『』]")
# Ignored at the end of a brand when what precedes is a known alias: `HP Inc.`, `大众牌`.
_BRAND_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "公司",
    "集团",
    "品牌",
    "牌",
    "CORPORATION",
    "CORP",
    "COMPANY",
    "LIMITED",
    "GROUP",
    "GMBH",
    "COLTD",  # before LTD; a bare CO is not stripped: too many names end in it (MICO is not MI)
    "LTD",
    "INC",
)
_MAX_ROUNDS = 8  # fixed-point iteration bound; real input settles in one or two rounds


def _fixed_point(step: Callable[[str], str], value: str) -> str:
    """Apply `step` until the value stops changing, which makes the caller idempotent even for
    exotic input (e.g. Hangul jamo that compose under NFKC once a separator between them is gone).
    """
    for _ in range(_MAX_ROUNDS):
        nxt = step(value)
        if nxt == value:
            return value
        value = nxt
    return value


def _fold(value: str) -> str:
    """NFKC (full-width to half-width, compatibility forms), upper case, without marks and
    invisible characters. NFKC runs again after upper-casing, which can leave a non-NFKC form."""
    value = value.translate(_MARKS).translate(_INVISIBLE)
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).upper())


def normalize_text(value: str) -> str:
    """Free text (names, descriptions, spec values) in one canonical spelling, for comparison.

    NFKC turns full-width letters, digits, punctuation and the ideographic space into their
    half-width forms; runs of whitespace (including tabs and newlines) become one space; the ends
    are stripped; invisible characters (zero-width space, BOM, soft hyphen) are dropped. Case is
    kept, so this is safe for display: `LaserJet` stays `LaserJet`.
    """

    def step(text: str) -> str:
        text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
        return " ".join(text.split())

    return _fixed_point(step, value)


def _compact_brand(value: str) -> str:
    """Folded brand with only letters and digits (CJK included) left."""
    return _fixed_point(lambda v: "".join(c for c in _fold(v) if c.isalnum()), value)


@cache
def brand_aliases() -> Mapping[str, str]:
    """Every known spelling (in compact form) -> canonical brand, from `brand_aliases.csv`.

    The file is checked when read: each canonical name must be in compact form and map to
    itself, and no spelling may name two brands; a mistake there raises ValueError at import
    of the first brand, not a wrong key later.
    """
    lines = BRAND_ALIASES_FILE.read_text(encoding="utf-8").splitlines()
    reader = csv.DictReader(line for line in lines if line.strip() and not line.startswith("#"))
    table: dict[str, str] = {}
    for row in reader:
        canonical = row["canonical"].strip()
        if not canonical or _compact_brand(canonical) != canonical:
            raise ValueError(f"brand_aliases.csv: canonical {canonical!r} is not in key form")
        spellings = [canonical, row.get("name_zh") or ""]
        spellings += (row.get("aliases") or "").split("|")
        for spelling in spellings:
            key = _compact_brand(spelling)
            if not key:
                continue
            if table.get(key, canonical) != canonical:
                raise ValueError(
                    f"brand_aliases.csv: {spelling!r} names both {table[key]} and {canonical}"
                )
            table[key] = canonical
    return MappingProxyType(table)


def _lookup_brand(key: str) -> str | None:
    aliases = brand_aliases()
    while key:
        if key in aliases:
            return aliases[key]
        for suffix in _BRAND_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)]
                break
        else:
            return None
    return None


def normalize_brand(value: str) -> str:
    """The brand in key form: `惠普`, `Hewlett-Packard`, `ＨＰ`, `hp inc.` all give `HP`.

    NFKC, upper case, everything but letters and digits dropped (spaces, `- _ . ·`, `&`,
    brackets); then a known alias becomes its canonical brand (upper-case Latin where the brand
    has one, else Chinese). A bracketed part is tried on its own (`惠普（HP）`, `联想(中国)`) and a
    trailing company suffix is ignored (`Lenovo Group Limited`, `大众牌`) – but only to find a
    known alias; an unknown brand keeps all its letters, so it is never merged with another.
    """

    def step(text: str) -> str:
        whole = _compact_brand(text)
        found = _lookup_brand(whole)
        if found is None:
            parts = (_compact_brand(p) for p in _BRACKETS.split(_fold(text)))
            found = next((b for b in map(_lookup_brand, parts) if b is not None), None)
        return found if found is not None else whole

    return _fixed_point(step, value)


def _char_class(char: str) -> str:
    if char.isdigit():
        return "digit"
    if char.isalpha():
        name = unicodedata.name(char, "")
        cjk = name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))
        return "cjk" if cjk else "letter"
    return "symbol"


def _model_tokens(value: str) -> list[str]:
    """Tokens of a folded model: runs of letters, digits, kept symbols and decimal points."""
    folded = _fold(value).translate(_MULTIPLY)
    tokens: list[str] = []
    current: list[str] = []
    for i, char in enumerate(folded):
        decimal_point = (
            char == "."
            and 0 < i < len(folded) - 1
            and folded[i - 1].isdigit()
            and folded[i + 1].isdigit()
        )
        if char.isalnum() or char in _MODEL_SYMBOLS or decimal_point:
            current.append(char)
        elif current:
            tokens.append("".join(current))
            current = []
    if current:
        tokens.append("".join(current))
    return tokens


def _brand_forms(brand: str) -> list[str]:
    """Spellings of `brand` a model may start with, longest first (`HEWLETTPACKARD` before `HP`)."""
    canonical = normalize_brand(brand)
    forms = {canonical}  # from the canonical brand only: `惠普` and `HP` strip the same names
    forms.update(k for k, v in brand_aliases().items() if v == canonical)
    return sorted((f for f in forms if f), key=lambda f: (-len(f), f))


def _strip_brand(tokens: list[str], forms: list[str]) -> str:
    """Join the tokens, without brand names repeated at the start.

    A brand is removed only where it ends at a token boundary (`HP LaserJet`) or where the kind
    of character changes (`HP1020`, `华为MateBook`), never inside a word: with brand 小米 (alias
    `MI`), `MIX 4` stays `MIX4`. A model that is nothing but the brand is kept as it is.
    """
    text = "".join(tokens)
    boundaries: set[int] = set()
    position = 0
    for token in tokens:
        position += len(token)
        boundaries.add(position)
    start = 0
    stripped = True
    while stripped:
        stripped = False
        for form in forms:
            end = start + len(form)
            if end >= len(text) or not text.startswith(form, start):
                continue
            if end in boundaries or _char_class(text[end - 1]) != _char_class(text[end]):
                start = end
                stripped = True
                break
    return text[start:]


def normalize_model(value: str, brand: str | None = None) -> str:
    """The model in key form: `M404 dn`, `M404DN`, `m404-dn`, `Ｍ４０４ｄｎ` all give `M404DN`.

    NFKC and upper case; spaces and separators (`- _ / . , ·`, brackets, quotes …) are removed,
    so tokens run together. Kept: letters and digits exactly as written, CJK characters, `+ # * %`
    (`×` written as `*`), and a decimal point between two digits (`1.5T` is not `15T`). So
    `M404dn` ≠ `M404n`, `Pro` ≠ `Plus`, `V1.0` ≠ `V10`.

    With `brand`, the brand name (any alias of it) repeated at the start is dropped:
    `HP LaserJet Pro M404dn` with brand `惠普` gives `LASERJETPROM404DN`.
    """
    forms = _brand_forms(brand) if brand is not None else []

    def step(text: str) -> str:
        return _strip_brand(_model_tokens(text), forms)

    return _fixed_point(step, value)


def official_catalog_code(value: str) -> str | None:
    """`A02020000` or `A0202` -> `A02020000`; None if not a catalog code (registry.codes).

    Imported on first use, not at the top: registry.codes can only be imported once the `models`
    package is loaded (registry.codes -> models.catalog -> models/__init__ -> models.organization
    -> registry.codes), and this module stays importable on its own, also from `models`.
    """
    import models  # noqa: F401  (see above: loads the package before registry.codes)
    from registry.codes import normalize_catalog_code

    return normalize_catalog_code(value)


def commodity_key(catalog_code: str, brand: str, model: str) -> str:
    """`catalog|brand|model`, e.g. `A02020000|HP|LASERJETPROM404DN`: the identity of a commodity.

    The catalog code may be given in official (`A02020000`) or short (`A0202`) form; the key
    always has the official 9-character form. `|` cannot occur in a normalized brand or model, so
    the key splits back unambiguously. Raises ValueError (Chinese message) for an invalid catalog
    code or a brand or model that is empty once normalized.
    """
    code = official_catalog_code(catalog_code)
    if code is None:
        raise ValueError(f"品目编码“{catalog_code}”无效,应为字母加 8 位数字(如 A02020000)")
    key_brand = normalize_brand(brand)
    if not key_brand:
        raise ValueError(f"品牌“{brand}”规范化后为空")
    key_model = normalize_model(model, key_brand)
    if not key_model:
        raise ValueError(f"型号“{model}”规范化后为空")
    return f"{code}|{key_brand}|{key_model}"
