"""Valid organization payloads for tests (valid USCCs with both check characters)."""

from __future__ import annotations

import itertools
from typing import Any

from registry.identifiers import make_uscc

_counter = itertools.count(1)


def uscc(region: str = "150102", authority: str = "91") -> str:
    n = next(_counter)
    return make_uscc(authority, region, f"MA{n:06d}")


def supplier(region: str = "150102", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": uscc(region),
        "name": f"内蒙古测试科技有限公司{next(_counter)}",
        "region_code": region,
        "address": "呼和浩特市新城区新华大街 1 号",
        "legal_form": "limited_liability",
        "size": "small",
        "legal_representative": {
            "name": "张伟",
            "id_number": "150102198501011232",
            "phone": "13800138000",
        },
        "registered_capital": "500.00",
        "business_scope": ["A0201", "C16"],
        "contacts": [{"name": "李娜", "phone": "0471-6600123"}],
        "bank_accounts": [
            {
                "bank": "中国银行呼和浩特分行",
                "account_name": "测试公司",
                "account_number": "6217000012345678",
            }
        ],
    }
    body.update(overrides)
    return body


def agent(region: str = "150102", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": uscc(region),
        "name": f"内蒙古测试招标代理有限公司{next(_counter)}",
        "region_code": region,
        "legal_representative": {"name": "王强", "phone": "13900139000"},
        "business_scope": ["A", "C"],
        "staff": [{"name": "赵敏", "title": "招标师"}],
    }
    body.update(overrides)
    return body


def purchaser(region: str = "150102", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": uscc(region, authority="12"),
        "name": f"呼和浩特市测试学校{next(_counter)}",
        "region_code": region,
        "budget_unit_code": "150102001",
    }
    body.update(overrides)
    return body


_person = itertools.count(1)


def expert(region: str = "150102", **overrides: Any) -> dict[str, Any]:
    """A valid expert: a fresh ID number whose birth date and sex match the stated ones."""
    from datetime import date, timedelta

    from registry.identifiers import Sex, make_resident_id

    n = next(_person)
    born = date(1970, 1, 1) + timedelta(days=37 * n)
    sex = Sex.male if n % 2 else Sex.female
    body: dict[str, Any] = {
        "name": f"测试专家{n}",
        "id_number": make_resident_id(region, born, n % 500, sex),
        "sex": sex.value,
        "birth_date": born.isoformat(),
        "phone": f"139{n:08d}",
        "employer": {"name": "内蒙古测试大学", "uscc": uscc(region, "12")},
        "title": "高级工程师",
        "years_of_experience": 15,
        "specialties": ["A0101"],
        "region_code": region,
        "term": {"starts_on": "2025-01-01", "ends_on": "2099-12-31"},
        "relationships": [],
    }
    body.update(overrides)
    return body


def commodity(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    body: dict[str, Any] = {
        "catalog_code": "A02020000",
        "name": f"激光打印机{n}",
        "brand": "HP",
        "model": f"LaserJet Pro M{n}dn",
        "specs": {"print_speed_ppm": 38, "duplex": True, "color_print": False},
        "unit": "台",
        "reference_price": {"amount": "2399.00", "currency": "CNY", "as_of": "2026-11-01"},
        "images": ["https://img.example.cn/printer.jpg"],
    }
    body.update(overrides)
    return body
