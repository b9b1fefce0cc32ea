"""Typed specification attributes (规格参数) of e-mall goods, declared per catalog class.

Suppliers describe the same kind of product with the same named, typed attributes, so offers can
be compared and searched: a printer has `print_speed_ppm` (integer, 页/分钟) and `color_print`
(boolean, required), a car has `fuel` (one of 汽油|柴油|…, required). The sets are data,
`registry/data/commodity_specs.csv` (the registry's own, not an official standard): the default
rows (prefix `*`) plus the rows of every catalog code the class lies under, a more specific row
replacing a less specific one of the same name (车辆 relabels 颜色 as 车身颜色).

`SpecTable.validate` never raises for bad input: it returns the normalized specs and a list of
errors in the API's shape, `{"field": "specs.<attr>", "code": …, "message": <Chinese>}`.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Literal, cast, get_args

from registry.normalize import normalize_text, official_catalog_code

DEFAULT_SPECS_FILE = Path(__file__).resolve().parent / "data" / "commodity_specs.csv"
COLUMNS = ("catalog_prefix", "attribute", "label", "type", "unit", "choices", "required")
ANY_CLASS = "*"

AttributeType = Literal["text", "integer", "decimal", "boolean", "choice"]
ATTRIBUTE_TYPES: tuple[str, ...] = get_args(AttributeType)
SpecError = dict[str, str]

_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$")
_MAX_DIGITS = 30  # decimals: significant digits and magnitude, keeps the plain form short
_TRUE = frozenset({"true", "yes", "y", "on", "1", "是", "有", "支持", "具备", "√", "✓"})
_FALSE = frozenset({"false", "no", "n", "off", "0", "否", "无", "不支持", "不具备", "×", "✗"})
_TYPE_NAMES = {
    "text": "文本",
    "integer": "整数",
    "decimal": "数字",
    "boolean": "“是”或“否”(true/false)",
    "choice": "文本",
}


@dataclass(frozen=True)
class Attribute:
    """One specification attribute of a catalog class, as declared in the CSV."""

    name: str
    label: str
    type: AttributeType
    unit: str = ""
    choices: tuple[str, ...] = ()
    required: bool = False
    catalog_prefix: str = ANY_CLASS  # the row's prefix: `*` or an official code

    def describe(self) -> str:
        """`memory_gb(内存容量)`: how error messages list the allowed attributes."""
        return f"{self.name}({self.label})"


class _Invalid(Exception):
    """A value of the wrong type (internal: `validate` turns it into an error entry)."""


class SpecTable:
    """The attribute sets of all catalog classes; build with `load_spec_table`."""

    def __init__(self, rows: Mapping[str, Mapping[str, Attribute]]) -> None:
        # significant catalog prefix ("" for `*`, "A0201" for A02010000) -> attributes by name
        self._rows = {prefix: dict(attrs) for prefix, attrs in rows.items()}
        self._resolved: dict[str, dict[str, Attribute]] = {}

    def attributes_for(self, catalog_code: str) -> dict[str, Attribute]:
        """Attributes of the class `catalog_code` (official or short form), defaults first.

        Raises ValueError (Chinese message) for a string that is not a catalog code; a valid code
        the table knows nothing specific about gets the default attributes.
        """
        code = official_catalog_code(catalog_code)
        if code is None:
            raise ValueError(f"品目编码“{catalog_code}”无效,应为字母加 8 位数字(如 A02020000)")
        if code not in self._resolved:
            significant = _significant_prefix(code)
            merged: dict[str, Attribute] = {}
            for prefix in sorted(self._rows, key=len):  # least specific first, then overridden
                if significant.startswith(prefix):
                    merged.update(self._rows[prefix])
            self._resolved[code] = merged
        return dict(self._resolved[code])

    def validate(
        self, catalog_code: str, specs: object
    ) -> tuple[dict[str, object], list[SpecError]]:
        """Normalized specs and the list of problems (empty when the specs are valid).

        Normalized values: integers as int, decimals as str in plain notation without trailing
        zeros (`"1.5"`, `"100"`), booleans as bool, choices as declared, text NFKC with spaces
        collapsed. A unit after a number is accepted (`"16GB"`, `"1.5 L"`). None and blank
        strings count as not given. Errors, one per field: `unknown_attribute` (the message lists
        the allowed ones), `wrong_type`, `choice_not_allowed`, `required_missing`; and
        `invalid_catalog_code` / `wrong_type` on `catalog_code` / `specs` themselves.
        """
        code = official_catalog_code(catalog_code) if isinstance(catalog_code, str) else None
        if code is None:
            message = f"品目编码“{_shown(catalog_code)}”无效,无法确定规格属性"
            return {}, [_error("catalog_code", "invalid_catalog_code", message)]
        attributes = self.attributes_for(code)
        if specs is None:
            specs = {}
        if not isinstance(specs, Mapping):
            message = "规格参数必须是对象(属性名: 取值)"
            return {}, [_error("specs", "wrong_type", message)]

        values: dict[str, object] = {}
        errors: list[SpecError] = []
        rejected: set[str] = set()
        for key, raw in specs.items():
            name = str(key)
            attribute = attributes.get(name)
            if attribute is None:
                allowed = "、".join(a.describe() for a in attributes.values())
                message = f"“{_shown(name)}”不是品目 {code} 的规格属性;可用属性:{allowed}"
                errors.append(_error(f"specs.{name}", "unknown_attribute", message))
                continue
            try:
                value = _coerce(attribute, raw)
            except _Invalid as exc:
                rejected.add(name)
                errors.append(_error(f"specs.{name}", str(exc), _message(attribute, raw, exc)))
                continue
            if value is not None:
                values[name] = value
        for name, attribute in attributes.items():
            if attribute.required and name not in values and name not in rejected:
                unit = f",单位 {attribute.unit}" if attribute.unit else ""
                message = f"缺少必填规格“{attribute.label}”({name}{unit})"
                errors.append(_error(f"specs.{name}", "required_missing", message))
        ordered = {name: values[name] for name in attributes if name in values}
        return ordered, errors


def _significant_prefix(code: str) -> str:
    """registry.codes.catalog_prefix (`A02010000` -> `A0201`), imported on first use for the
    reason given in registry.normalize.official_catalog_code."""
    from registry.codes import catalog_prefix

    return catalog_prefix(code)


def _error(field: str, code: str, message: str) -> SpecError:
    return {"field": field, "code": code, "message": message}


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _message(attribute: Attribute, raw: object, exc: _Invalid) -> str:
    label = f"“{attribute.label}”({attribute.name})"
    if str(exc) == "choice_not_allowed":
        allowed = "、".join(attribute.choices)
        return f"{label}只能是以下之一:{allowed};收到“{_shown(raw)}”"
    expected = _TYPE_NAMES[attribute.type]
    unit = f"(单位 {attribute.unit})" if attribute.unit else ""
    if attribute.type == "choice":
        expected += ",取值为 " + "、".join(attribute.choices) + " 之一"
    return f"{label}必须是{expected}{unit};收到“{_shown(raw)}”"


def _coerce(attribute: Attribute, raw: object) -> object:
    """The normalized value, None when not given, or _Invalid(error code)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        text = normalize_text(raw)
        if not text:
            return None
        raw = text
    match attribute.type:
        case "integer":
            return _integer(raw, attribute.unit)
        case "decimal":
            return _decimal(raw, attribute.unit)
        case "boolean":
            return _boolean(raw)
        case "choice":
            return _choice(raw, attribute.choices)
        case _:
            return _text(raw)


def _without_unit(text: str, unit: str) -> str:
    if unit and len(text) > len(unit) and text[-len(unit) :].casefold() == unit.casefold():
        return text[: -len(unit)].rstrip()
    return text


def _integer(raw: object, unit: str) -> int:
    if isinstance(raw, bool):
        raise _Invalid("wrong_type")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e18:
        return int(raw)
    if (
        isinstance(raw, Decimal)
        and raw.is_finite()
        and raw == raw.to_integral_value()
        and raw.adjusted() < 18
    ):
        return int(raw)
    if isinstance(raw, str):
        text = _without_unit(raw, unit)
        if _INTEGER.match(text):
            return int(text)
    raise _Invalid("wrong_type")


def _decimal(raw: object, unit: str) -> str:
    number: Decimal | None = None
    if isinstance(raw, bool):
        number = None
    elif isinstance(raw, int):
        number = Decimal(raw)
    elif isinstance(raw, float) and math.isfinite(raw):
        number = Decimal(repr(raw))  # the shortest repr: 0.1 stays 0.1
    elif isinstance(raw, Decimal):
        number = raw
    elif isinstance(raw, str):
        text = _without_unit(raw, unit)
        if _DECIMAL.match(text):
            try:
                number = Decimal(text)
            except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
                number = None
    if number is None or not number.is_finite():
        raise _Invalid("wrong_type")
    if len(number.as_tuple().digits) > _MAX_DIGITS or abs(number.adjusted()) > _MAX_DIGITS:
        raise _Invalid("wrong_type")
    plain = format(number, "f")
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return "0" if plain in ("-0", "") else plain


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _Invalid("wrong_type")


def _choice(raw: object, choices: tuple[str, ...]) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise _Invalid("wrong_type")
    text = str(raw)
    if text in choices:
        return text
    folded = text.casefold()
    for choice in choices:  # `a4` is `A4`, `国六b` is `国六B`
        if choice.casefold() == folded:
            return choice
    raise _Invalid("choice_not_allowed")


def _text(raw: object) -> str:
    if isinstance(raw, bool):
        raise _Invalid("wrong_type")
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | Decimal) or (isinstance(raw, float) and math.isfinite(raw)):
        return str(raw)  # 产地 given as a number is odd, but 规格尺寸 1200 is plain text
    raise _Invalid("wrong_type")


def load_spec_table(path: str | Path | None = None) -> SpecTable:
    """The table from `path`, or the shipped `commodity_specs.csv` (read once, cached).

    The file is the registry's own data, so a malformed row is a bug: ValueError listing every
    bad line, not a partial table.
    """
    if path is None:
        return _default_spec_table()
    return _read_spec_table(Path(path))


@cache
def _default_spec_table() -> SpecTable:
    return _read_spec_table(DEFAULT_SPECS_FILE)


def _read_spec_table(path: Path) -> SpecTable:
    numbered = [
        (number, line)
        for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    reader = csv.reader(line for _, line in numbered)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise ValueError(f"{path.name}: header must be {','.join(COLUMNS)}, got {header}")
    rows: dict[str, dict[str, Attribute]] = {}
    problems: list[str] = []
    for index, cells in enumerate(reader, 1):
        line = numbered[index][0]
        try:
            prefix, attribute = _parse_row(cells)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        by_name = rows.setdefault(prefix, {})
        if attribute.name in by_name:
            problems.append(f"line {line}: {attribute.name} declared twice for this prefix")
        by_name[attribute.name] = attribute
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return SpecTable(rows)


def _parse_row(cells: list[str]) -> tuple[str, Attribute]:
    """(significant prefix, attribute) of one CSV row, or ValueError naming the problem."""
    if len(cells) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} columns, got {len(cells)}")
    prefix, name, label, kind, unit, choices_text, required = (c.strip() for c in cells)
    if prefix == ANY_CLASS:
        significant = ""
    elif official_catalog_code(prefix) == prefix:
        significant = _significant_prefix(prefix)
    else:
        raise ValueError(f"catalog_prefix {prefix!r} is neither * nor an official catalog code")
    if not _ATTRIBUTE_NAME.match(name):
        raise ValueError(f"attribute {name!r} must be snake_case ASCII")
    if not label:
        raise ValueError(f"{name}: label is empty")
    if kind not in ATTRIBUTE_TYPES:
        raise ValueError(f"{name}: type {kind!r} is not one of {', '.join(ATTRIBUTE_TYPES)}")
    choices = tuple(c.strip() for c in choices_text.split("|")) if choices_text else ()
    if kind == "choice" and (not choices or "" in choices or len(set(choices)) < len(choices)):
        raise ValueError(f"{name}: a choice needs distinct, non-empty |-separated choices")
    if kind != "choice" and choices:
        raise ValueError(f"{name}: choices are only for type choice")
    if required not in ("0", "1"):
        raise ValueError(f"{name}: required must be 0 or 1, got {required!r}")
    attribute = Attribute(
        name=name,
        label=label,
        type=cast(AttributeType, kind),
        unit=unit,
        choices=choices,
        required=required == "1",
        catalog_prefix=prefix,
    )
    return significant, attribute
