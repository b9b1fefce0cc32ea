"""Structure of the two hierarchical code systems: GB/T 2260 regions and catalog item codes.

Both are prefix codes: a subtree is every code that starts with the node's *significant prefix*
(the code without its trailing "00" pairs). All jurisdiction tests reduce to that prefix test.
"""

from __future__ import annotations

import re

from models.catalog import CATALOG_CODE_PATTERN, CATEGORY_BY_LETTER, CatalogCategory
from models.region import REGION_CODE_PATTERN, RegionLevel

_REGION_RE = re.compile(REGION_CODE_PATTERN)
_CATALOG_RE = re.compile(CATALOG_CODE_PATTERN)
_CATALOG_SHORT_RE = re.compile(r"^[ABC](\d{2}){0,4}$")


def is_region_code(code: str) -> bool:
    return bool(_REGION_RE.fullmatch(code))


def region_prefix(code: str) -> str:
    """`150000` → `15`, `150100` → `1501`, `150102` → `150102`."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def region_level(code: str) -> RegionLevel:
    return {2: RegionLevel.province, 4: RegionLevel.prefecture}.get(
        len(region_prefix(code)), RegionLevel.county
    )


def region_in_subtree(code: str, root: str) -> bool:
    """True when `code` is `root` or lies below it."""
    return code.startswith(region_prefix(root))


def catalog_prefix(code: str) -> str:
    """`A02010000` → `A0201`; `A` → `A`."""
    digits = code[1:]
    while digits.endswith("00"):
        digits = digits[:-2]
    return code[0] + digits


def catalog_level(code: str) -> int:
    return 1 + len(catalog_prefix(code)[1:]) // 2


def catalog_parent(code: str) -> str | None:
    prefix = catalog_prefix(code)
    if len(prefix) == 1:
        return None
    parent = prefix[:-2]
    return parent if len(parent) == 1 else parent.ljust(9, "0")


def catalog_category(code: str) -> CatalogCategory:
    return CATEGORY_BY_LETTER[code[0]]


def normalize_catalog_code(value: str) -> str | None:
    """Accept the official form (`A02010000`) or the short form (`A0201`); None if neither."""
    code = value.strip().upper()
    if _CATALOG_RE.fullmatch(code):
        # a non-zero pair below a zero pair (A00010000) is not a valid code
        digits = code[1:]
        pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
        if pairs and pairs[0] == "00":
            return None
        seen_zero = False
        for pair in pairs:
            if pair == "00":
                seen_zero = True
            elif seen_zero:
                return None
        return code
    if _CATALOG_SHORT_RE.fullmatch(code) and "00" not in [
        code[i : i + 2] for i in range(1, len(code), 2)
    ]:
        return code if len(code) == 1 else code.ljust(9, "0")
    return None
