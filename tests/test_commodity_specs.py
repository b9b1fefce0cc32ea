"""Typed specification attributes per catalog class (`registry/commodity_specs.py`).

Pure unit tests: no database. The shipped table is checked against the shipped catalogue, then
attribute resolution (defaults, inheritance, overrides) and validation: normalized values for
good input, one error per bad field with a Chinese message, and never an exception.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.commodity_specs import (
    ATTRIBUTE_TYPES,
    DEFAULT_SPECS_FILE,
    SpecTable,
    load_spec_table,
)

CATALOG_FILE = Path(DEFAULT_SPECS_FILE).parent / "catalog_2022.csv"


def _catalog() -> dict[str, str]:
    lines = [line for line in CATALOG_FILE.read_text("utf-8").splitlines() if line[:1] != "#"]
    return {row["code"]: row["name"] for row in csv.DictReader(lines)}


def _spec_rows() -> list[dict[str, str]]:
    lines = [line for line in DEFAULT_SPECS_FILE.read_text("utf-8").splitlines() if line[:1] != "#"]
    return list(csv.DictReader(lines))


@pytest.fixture(scope="module")
def table() -> SpecTable:
    return load_spec_table()


def _one_error(errors: list[dict[str, str]], field: str) -> dict[str, str]:
    matching = [e for e in errors if e["field"] == field]
    assert len(matching) == 1, errors
    assert set(matching[0]) == {"field", "code", "message"}
    return matching[0]


# --- the shipped data ------------------------------------------------------------------------


def test_every_prefix_is_a_code_of_the_shipped_catalogue() -> None:
    catalog = _catalog()
    prefixes = {row["catalog_prefix"] for row in _spec_rows()} - {"*"}
    assert prefixes <= set(catalog), prefixes - set(catalog)
    assert {catalog[p] for p in prefixes} >= {"信息化设备", "办公设备", "车辆", "家具和用具"}


def test_data_file_says_it_is_the_registrys_own() -> None:
    header = [
        line for line in DEFAULT_SPECS_FILE.read_text("utf-8").splitlines() if line[:1] == "#"
    ]
    assert any("not an official standard" in line for line in header)


def test_rows_are_well_formed() -> None:
    rows = _spec_rows()
    assert list(rows[0]) == [
        "catalog_prefix",
        "attribute",
        "label",
        "type",
        "unit",
        "choices",
        "required",
    ]
    for row in rows:
        assert row["type"] in ATTRIBUTE_TYPES
        assert row["required"] in ("0", "1")
        assert bool(row["choices"]) == (row["type"] == "choice")


def test_default_table_is_cached() -> None:
    assert load_spec_table() is load_spec_table()


# --- attribute sets --------------------------------------------------------------------------


def test_defaults_apply_to_every_class(table: SpecTable) -> None:
    for code in ("A02010000", "A02040000", "A07010000", "B01000000", "C"):
        attrs = table.attributes_for(code)
        assert {"origin", "warranty_months", "color"} <= set(attrs)
    warranty = table.attributes_for("A02040000")["warranty_months"]
    assert (warranty.type, warranty.unit, warranty.label) == ("integer", "月", "质保期")
    # a class without rows of its own has exactly the defaults
    assert list(table.attributes_for("A02040000")) == ["origin", "warranty_months", "color"]


def test_computers(table: SpecTable) -> None:
    attrs = table.attributes_for("A02010000")
    assert list(attrs)[:3] == ["origin", "warranty_months", "color"]  # defaults first
    memory = attrs["memory_gb"]
    assert (memory.type, memory.unit, memory.required, memory.label) == (
        "integer",
        "GB",
        True,
        "内存容量",
    )
    assert attrs["screen_inches"].type == "decimal"
    assert attrs["screen_inches"].unit == "英寸"
    assert {"cpu", "storage_gb", "os"} <= set(attrs)
    assert "print_speed_ppm" not in attrs


def test_a_deeper_or_short_code_inherits_its_class(table: SpecTable) -> None:
    assert table.attributes_for("A02010104") == table.attributes_for("A02010000")
    assert table.attributes_for("a0201") == table.attributes_for("A02010000")


def test_printers_and_vehicles(table: SpecTable) -> None:
    office = table.attributes_for("A02020000")
    assert office["max_paper"].choices == ("A4", "A3")
    assert office["color_print"].required
    assert office["duplex"].type == "boolean"
    vehicles = table.attributes_for("A02030000")
    assert vehicles["fuel"].choices == ("汽油", "柴油", "纯电动", "插电混动", "混合动力")
    assert vehicles["fuel"].required
    assert vehicles["seats"].type == "integer"
    assert vehicles["displacement_l"].type == "decimal"


def test_more_specific_rows_override(table: SpecTable) -> None:
    car_color = table.attributes_for("A02030000")["color"]
    assert (car_color.label, car_color.catalog_prefix) == ("车身颜色", "A02030000")
    assert list(table.attributes_for("A02030000")).index("color") == 2  # keeps its place
    assert table.attributes_for("A05010000")["material"].required  # 家具: 主材质 required
    assert table.attributes_for("A05010000")["material"].label == "主材质"
    assert not table.attributes_for("A05020000")["material"].required  # 用具: from A05000000
    assert table.attributes_for("A05020000")["material"].label == "材质"


def test_attributes_for_a_bad_code_raises(table: SpecTable) -> None:
    with pytest.raises(ValueError, match="品目编码"):
        table.attributes_for("A0201000")


def test_result_is_a_copy(table: SpecTable) -> None:
    table.attributes_for("A02010000").clear()
    assert table.attributes_for("A02010000")


# --- validation: good specs ------------------------------------------------------------------


def test_computer_specs_are_normalized(table: SpecTable) -> None:
    specs, errors = table.validate(
        "A02010000",
        {
            "cpu": "  Intel  Core i5-12500 ",
            "memory_gb": "16GB",
            "storage_gb": 512.0,
            "screen_inches": "２３．８ 英寸",
            "os": "统信ＵＯＳ",
            "form_factor": "台式计算机",
            "warranty_months": "36",
            "origin": "中国",
        },
    )
    assert errors == []
    assert specs == {
        "origin": "中国",
        "warranty_months": 36,
        "form_factor": "台式计算机",
        "cpu": "Intel Core i5-12500",
        "memory_gb": 16,
        "storage_gb": 512,
        "screen_inches": "23.8",
        "os": "统信UOS",
    }
    assert list(specs)[:2] == ["origin", "warranty_months"]  # in declaration order


def test_printer_specs_are_normalized(table: SpecTable) -> None:
    specs, errors = table.validate(
        "A02020000",
        {"print_speed_ppm": 40, "duplex": "是", "color_print": False, "max_paper": "a4"},
    )
    assert errors == []
    assert specs == {
        "print_speed_ppm": 40,
        "duplex": True,
        "color_print": False,
        "max_paper": "A4",
    }


def test_vehicle_specs_are_normalized(table: SpecTable) -> None:
    specs, errors = table.validate(
        "A02030000",
        {"fuel": " 汽油 ", "displacement_l": Decimal("1.50"), "seats": "5座", "color": "黑色"},
    )
    assert errors == []
    assert specs == {"color": "黑色", "fuel": "汽油", "displacement_l": "1.5", "seats": 5}


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("1.50", "1.5"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (2, "2"),
        ("2.0", "2"),
        ("1E+2", "100"),
        ("1.2e-3", "0.0012"),
        (Decimal("100"), "100"),
        ("-0.0", "0"),
        ("2.0 L", "2"),
        ("1.8l", "1.8"),
    ],
)
def test_decimals_in_plain_notation(table: SpecTable, raw: object, plain: str) -> None:
    specs, errors = table.validate("A02030000", {"fuel": "汽油", "displacement_l": raw})
    assert errors == []
    assert specs["displacement_l"] == plain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), ("true", True), ("否", False), ("不支持", False), (1, True), ("NO", False)],
)
def test_booleans(table: SpecTable, raw: object, expected: bool) -> None:
    specs, errors = table.validate("A02020000", {"color_print": raw})
    assert errors == []
    assert specs["color_print"] is expected


def test_none_and_blank_count_as_not_given(table: SpecTable) -> None:
    specs, errors = table.validate(
        "A02020000", {"color_print": True, "duplex": None, "origin": " ", "max_paper": ""}
    )
    assert errors == []
    assert specs == {"color_print": True}


def test_an_unknown_attribute_is_reported_even_without_a_value(table: SpecTable) -> None:
    _, errors = table.validate("A02020000", {"color_print": True, "os": None})
    assert _one_error(errors, "specs.os")["code"] == "unknown_attribute"


def test_class_without_rows_of_its_own(table: SpecTable) -> None:
    specs, errors = table.validate("A0204", {"origin": "内蒙古", "warranty_months": 12})
    assert errors == []
    assert specs == {"origin": "内蒙古", "warranty_months": 12}


# --- validation: errors ----------------------------------------------------------------------


def test_unknown_attribute_lists_the_allowed_ones(table: SpecTable) -> None:
    specs, errors = table.validate("A02020000", {"color_print": True, "memory_gb": 16})
    assert specs == {"color_print": True}
    error = _one_error(errors, "specs.memory_gb")
    assert error["code"] == "unknown_attribute"
    assert "memory_gb" in error["message"]
    assert "不是品目 A02020000 的规格属性" in error["message"]
    for allowed in ("print_speed_ppm(打印速度)", "color_print(彩色打印)", "origin(产地)"):
        assert allowed in error["message"]


@pytest.mark.parametrize(
    ("code", "field", "raw", "label", "expected"),
    [
        ("A02010000", "memory_gb", "十六", "内存容量", "整数"),
        ("A02010000", "memory_gb", 16.5, "内存容量", "整数"),
        ("A02010000", "memory_gb", True, "内存容量", "整数"),  # a bool is not a number
        ("A02010000", "memory_gb", "9" * 5000, "内存容量", "整数"),  # no int() overflow
        ("A02010000", "screen_inches", "大", "屏幕尺寸", "数字"),
        ("A02010000", "screen_inches", float("nan"), "屏幕尺寸", "数字"),
        ("A02010000", "screen_inches", "1e999", "屏幕尺寸", "数字"),
        ("A02010000", "screen_inches", [14], "屏幕尺寸", "数字"),
        ("A02020000", "duplex", "maybe", "自动双面", "“是”或“否”"),
        ("A02020000", "duplex", 2, "自动双面", "“是”或“否”"),
        ("A02010000", "cpu", {"brand": "Intel"}, "处理器", "文本"),
        ("A02010000", "cpu", False, "处理器", "文本"),
        ("A02020000", "max_paper", ["A4"], "最大幅面", "A4、A3"),
    ],
)
def test_wrong_type(
    table: SpecTable, code: str, field: str, raw: object, label: str, expected: str
) -> None:
    specs, errors = table.validate(code, _with_required(code, {field: raw}))
    assert field not in specs
    error = _one_error(errors, f"specs.{field}")
    assert error["code"] == "wrong_type"
    assert label in error["message"]
    assert expected in error["message"]
    assert "必须是" in error["message"]
    assert len(errors) == 1  # a rejected required value is not reported missing as well


def _with_required(code: str, specs: dict[str, object]) -> dict[str, object]:
    required: dict[str, dict[str, object]] = {
        "A02010000": {"memory_gb": 8},
        "A02020000": {"color_print": True},
    }
    return required[code] | specs


@pytest.mark.parametrize(
    ("code", "field", "raw", "label"),
    [
        ("A02020000", "max_paper", "A5", "最大幅面"),
        ("A02030000", "fuel", "天然气", "能源类型"),
        ("A05010000", "formaldehyde_grade", "E2", "甲醛释放等级"),
    ],
)
def test_choice_not_allowed(table: SpecTable, code: str, field: str, raw: str, label: str) -> None:
    _, errors = table.validate(code, {field: raw})
    error = _one_error(errors, f"specs.{field}")
    assert error["code"] == "choice_not_allowed"
    assert label in error["message"]
    assert "只能是以下之一" in error["message"]
    assert raw in error["message"]
    for choice in table.attributes_for(code)[field].choices:
        assert choice in error["message"]


@pytest.mark.parametrize(
    ("code", "field", "label"),
    [
        ("A02010000", "memory_gb", "内存容量"),
        ("A02020000", "color_print", "彩色打印"),
        ("A02030000", "fuel", "能源类型"),
        ("A05010000", "material", "主材质"),
    ],
)
def test_required_missing(table: SpecTable, code: str, field: str, label: str) -> None:
    specs, errors = table.validate(code, {"origin": "中国"})
    assert specs == {"origin": "中国"}
    error = _one_error(errors, f"specs.{field}")
    assert error["code"] == "required_missing"
    assert error["message"].startswith("缺少必填规格")
    assert label in error["message"]


def test_required_given_as_blank_is_missing(table: SpecTable) -> None:
    _, errors = table.validate("A02030000", {"fuel": "  "})
    assert _one_error(errors, "specs.fuel")["code"] == "required_missing"


def test_all_errors_are_reported_together(table: SpecTable) -> None:
    specs, errors = table.validate(
        "A02030000", {"seats": "五", "emission_standard": "国七", "wheels": 4, "origin": "中国"}
    )
    assert specs == {"origin": "中国"}
    assert sorted((e["field"], e["code"]) for e in errors) == [
        ("specs.emission_standard", "choice_not_allowed"),
        ("specs.fuel", "required_missing"),
        ("specs.seats", "wrong_type"),
        ("specs.wheels", "unknown_attribute"),
    ]


@pytest.mark.parametrize("code", ["", "A0201000", "Z01000000", None, 42])
def test_invalid_catalog_code_is_an_error_not_an_exception(table: SpecTable, code: object) -> None:
    specs, errors = table.validate(code, {"origin": "中国"})  # type: ignore[arg-type]
    assert specs == {}
    assert [(e["field"], e["code"]) for e in errors] == [("catalog_code", "invalid_catalog_code")]
    assert "品目编码" in errors[0]["message"]


@pytest.mark.parametrize("specs", [["memory_gb", 16], "memory_gb=16", 16])
def test_specs_that_are_not_an_object(table: SpecTable, specs: object) -> None:
    result, errors = table.validate("A02010000", specs)
    assert result == {}
    assert [(e["field"], e["code"]) for e in errors] == [("specs", "wrong_type")]


def test_none_specs_only_reports_required(table: SpecTable) -> None:
    _, errors = table.validate("A02010000", None)
    assert [(e["field"], e["code"]) for e in errors] == [("specs.memory_gb", "required_missing")]


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals()
    | st.text(max_size=20)
    | st.sampled_from(["16GB", "1.5", "是", "A4", "汽油", "1e5", "  ", "NaN"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
_NAMES = st.sampled_from(
    ["memory_gb", "screen_inches", "duplex", "max_paper", "fuel", "cpu", "seats", "bogus"]
) | st.text(max_size=8)


@settings(max_examples=300)
@given(
    st.sampled_from(["A02010000", "A02020000", "A02030000", "A05010000", "A02040000"]),
    st.dictionaries(_NAMES, _VALUES, max_size=6),
)
def test_validate_never_raises(code: str, specs: dict[str, object]) -> None:
    table = load_spec_table()
    attrs = table.attributes_for(code)
    result, errors = table.validate(code, specs)
    assert set(result) <= set(attrs)
    for error in errors:
        assert set(error) == {"field", "code", "message"}
        assert error["field"].startswith("specs.")
        assert error["code"] in {
            "unknown_attribute",
            "wrong_type",
            "choice_not_allowed",
            "required_missing",
        }
    for name, value in result.items():
        kind = attrs[name].type
        if kind == "integer":
            assert type(value) is int
        elif kind == "boolean":
            assert type(value) is bool
        elif kind == "decimal":
            assert isinstance(value, str)
            assert Decimal(value).is_finite()
            assert "E" not in value.upper()
        elif kind == "choice":
            assert value in attrs[name].choices
        else:
            assert isinstance(value, str) and value == value.strip() and value
    # validating the normalized result again changes nothing
    again, more = table.validate(code, result)
    assert again == result
    assert all(e["code"] == "required_missing" for e in more)


# --- loading other files ---------------------------------------------------------------------


def test_load_spec_table_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "specs.csv"
    path.write_text(
        "# a comment\n"
        "catalog_prefix,attribute,label,type,unit,choices,required\n"
        "*,origin,产地,text,,,0\n"
        "A02000000,power_w,功率,decimal,W,,0\n"
        "A02010000,power_w,额定功率,integer,W,,1\n",
        encoding="utf-8",
    )
    table = load_spec_table(path)
    assert table is not load_spec_table()
    assert table.attributes_for("A02050000")["power_w"].type == "decimal"
    assert table.attributes_for("A02010000")["power_w"].type == "integer"
    specs, errors = table.validate("A02010000", {"power_w": "65W"})
    assert (specs, errors) == ({"power_w": 65}, [])


def test_a_malformed_file_names_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "specs.csv"
    path.write_text(
        "catalog_prefix,attribute,label,type,unit,choices,required\n"
        "A0201,cpu,处理器,text,,,0\n"  # short form is not accepted in the file
        "A02010000,Memory,内存,integer,GB,,1\n"
        "A02010000,os,操作系统,string,,,0\n"
        "A02020000,max_paper,最大幅面,choice,,,0\n"
        "A02020000,duplex,自动双面,boolean,,,yes\n"
        "*,origin,产地,text,,,0\n"
        "*,origin,产地,text,,,0\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as info:
        load_spec_table(path)
    message = str(info.value)
    for line in range(2, 7):
        assert f"line {line}:" in message
    assert "line 8: origin declared twice" in message
