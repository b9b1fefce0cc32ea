"""Identifiers: validation with check characters, normalization, masking.

Unified social credit code (统一社会信用代码, GB 32100-2015), 18 characters:
  1     registration authority (1 机构编制, 5 民政, 9 市场监管, A/N/Y …)
  2     organization category within that authority
  3–8   region code (GB/T 2260) of the registering authority
  9–17  organization code (GB 11714-1997): 8 characters and its own check character
  18    check character over the first 17 (python-stdnum's algorithm)
Errors are Chinese and say what is wrong; a region mismatch is a warning, not an error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum.cn import uscc as stdnum_uscc

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 32100 table 1: registration authority and organization category
_AUTHORITY_CATEGORIES = {
    "1": "1239",
    "2": "19",
    "3": "12345679",
    "4": "19",
    "5": "1239",
    "6": "129",
    "7": "129",
    "8": "19",
    "9": "123",
    "A": "19",
    "N": "1239",
    "Y": "1",
}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = re.compile(r"^[0-9A-Z]{8}$")


class IdentifierError(ValueError):
    """A Chinese message naming what is wrong (used as a pydantic validation message)."""


def to_half_width(value: str) -> str:
    """Full-width letters, digits and punctuation to half-width (NFKC), spaces collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", value)).strip()


def organization_code_check(body: str) -> str:
    """GB 11714 check character for the 8-character body of an organization code."""
    total = sum(
        (int(c) if c.isdigit() else ord(c) - ord("A") + 10) * w
        for c, w in zip(body, _ORG_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def normalize_uscc(value: str) -> str:
    if value.isascii() and value.isalnum():  # the usual case, and batch lookups send 1,000
        return value.upper()
    return to_half_width(value).replace(" ", "").replace("-", "").upper()


def validate_uscc(value: str) -> str:
    """The normalized code, or IdentifierError with a message naming the problem."""
    code = normalize_uscc(value)
    if len(code) != 18:
        raise IdentifierError(f"统一社会信用代码应为 18 位,实际 {len(code)} 位")
    bad = sorted({c for c in code if c not in _USCC_ALPHABET})
    if bad:
        raise IdentifierError(
            f"统一社会信用代码含有不允许的字符:{''.join(bad)}(不使用 I、O、S、V、Z)"
        )
    authority, category = code[0], code[1]
    if category not in _AUTHORITY_CATEGORIES.get(authority, ""):
        raise IdentifierError(f"统一社会信用代码的登记管理部门和机构类别代码 {code[:2]} 无效")
    if not code[2:8].isdigit():
        raise IdentifierError("统一社会信用代码第 3–8 位应为登记管理机关行政区划码(数字)")
    org_body, org_check = code[8:16], code[16]
    if not _ORG_BODY.fullmatch(org_body) or organization_code_check(org_body) != org_check:
        raise IdentifierError(
            f"统一社会信用代码中的组织机构代码 {org_body}-{org_check} 校验位不正确"
        )
    if stdnum_uscc.calc_check_digit(code) != code[-1]:
        raise IdentifierError("统一社会信用代码校验位不正确,请核对是否有输入错误")
    return code


def make_uscc(authority_category: str, region: str, org_body: str) -> str:
    """Build a valid code (demo data, tests): both check characters are computed."""
    partial = authority_category + region + org_body + organization_code_check(org_body)
    return partial + stdnum_uscc.calc_check_digit(partial + "0")


def uscc_region(code: str) -> str:
    return code[2:8]


PHONE_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII digits only (\d would take any script)
# area code 0 + 2–3 digits, never 00… (the international prefix, stripped above as 0086)
PHONE_LANDLINE = re.compile(r"^0[1-9][0-9]{1,2}-?[0-9]{7,8}(-[0-9]{1,6})?$")


def validate_phone(value: str) -> str:
    """Mainland mobile (13800000000) or landline with area code (0471-1234567[-ext])."""
    phone = to_half_width(value).replace(" ", "")
    phone = phone.removeprefix("+86").removeprefix("0086")
    if PHONE_MOBILE.fullmatch(phone) or PHONE_LANDLINE.fullmatch(phone):
        return phone
    raise IdentifierError("电话号码格式不正确:手机号为 11 位数字,座机为区号-号码(如 0471-6600000)")


@dataclass(frozen=True)
class Masked:
    """How a restricted value is shown to those who may not see it."""

    @staticmethod
    def id_number(value: str) -> str:
        return value[:6] + "*" * max(len(value) - 10, 0) + value[-4:] if len(value) > 10 else "****"

    @staticmethod
    def phone(value: str) -> str:
        digits = value.replace("-", "")
        return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"

    @staticmethod
    def account(value: str) -> str:
        return "****" + value[-4:] if len(value) > 4 else "****"


# --- resident identity card numbers (居民身份证号码, GB 11643-1999) ---------------------------
#
# 18 characters:
#   1–6    address code (GB/T 2260) of the place of first registration
#   7–14   birth date YYYYMMDD
#   15–17  order code; its last digit (the 17th character) is odd for men, even for women
#   18     check character, ISO 7064 MOD 11-2 over the first 17 digits (0–9 or X for 10)

# first two digits: the province-level codes of GB/T 2260 (71 台湾, 81 香港, 82 澳门)
_RIC_PROVINCES = frozenset(
    (
        *("11", "12", "13", "14", "15"),  # 华北
        *("21", "22", "23"),  # 东北
        *("31", "32", "33", "34", "35", "36", "37"),  # 华东
        *("41", "42", "43", "44", "45", "46"),  # 中南
        *("50", "51", "52", "53", "54"),  # 西南
        *("61", "62", "63", "64", "65"),  # 西北
        *("71", "81", "82"),  # 台湾、香港、澳门
    )
)
_RIC_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, …
_RIC_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII digits only (\d would take any script)
_RIC_EARLIEST_BIRTH = date(1900, 1, 1)


class Sex(StrEnum):
    male = "male"
    female = "female"


_SEX_NAMES = {Sex.male: "男", Sex.female: "女"}


def resident_id_check(body: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID number."""
    total = sum(int(c) * w for c, w in zip(body, _RIC_WEIGHTS, strict=True))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def normalize_resident_id(value: str) -> str:
    """Half-width, spaces removed, a lower-case x check character upper-cased."""
    if value.isascii() and value.isalnum():
        return value.upper()
    return to_half_width(value).replace(" ", "").upper()


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    """The normalized number, or IdentifierError with a message naming the problem."""
    number = normalize_resident_id(value)
    if len(number) != 18:
        raise IdentifierError(f"居民身份证号码应为 18 位,实际 {len(number)} 位")
    if not _RIC_SHAPE.fullmatch(number):
        raise IdentifierError("居民身份证号码格式不正确:前 17 位应为数字,最后一位为数字或 X")
    if number[:2] not in _RIC_PROVINCES:
        raise IdentifierError(
            f"居民身份证号码前 6 位地址码 {number[:6]} 无效(前两位 {number[:2]} 不是省级行政区划代码)"
        )
    try:
        born = resident_id_birth_date(number)
    except ValueError:
        raise IdentifierError(
            f"居民身份证号码中的出生日期 {number[6:14]} 不存在(第 7–14 位应为 年月日)"
        ) from None
    today = today or date.today()
    if born > today:
        raise IdentifierError(f"居民身份证号码中的出生日期 {born.isoformat()} 晚于今天")
    if born < _RIC_EARLIEST_BIRTH:
        raise IdentifierError(f"居民身份证号码中的出生日期 {born.isoformat()} 早于 1900 年")
    if resident_id_check(number[:17]) != number[17]:
        raise IdentifierError("居民身份证号码校验位不正确,请核对是否有输入错误")
    return number


def resident_id_birth_date(number: str) -> date:
    """Birth date of a validated number (ValueError if digits 7–14 are no date)."""
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def resident_id_sex(number: str) -> Sex:
    """Sex of a validated number: the 17th digit is odd for men, even for women."""
    return Sex.male if int(number[16]) % 2 else Sex.female


def check_resident_id_facts(
    number: str, *, birth_date: date | None, sex: Sex | None
) -> list[tuple[str, str]]:
    """(field, Chinese message) for each stated fact that disagrees with a validated number."""
    problems: list[tuple[str, str]] = []
    born = resident_id_birth_date(number)
    if birth_date is not None and birth_date != born:
        problems.append(("birth_date", f"出生日期与身份证号码不一致(号码中为 {born.isoformat()})"))
    actual = resident_id_sex(number)
    if sex is not None and Sex(sex) != actual:
        problems.append(("sex", f"性别与身份证号码不一致(号码中为 {_SEX_NAMES[actual]})"))
    return problems


def make_resident_id(region: str, birth_date: date, sequence: int, sex: Sex) -> str:
    """Build a valid number (demo data, tests): sequence 0–499 → an order code of the right parity."""
    if not re.fullmatch(r"[0-9]{6}", region):
        raise ValueError(f"region must be a 6-digit code, not {region!r}")
    if not 0 <= sequence < 500:
        raise ValueError(f"sequence must be in 0..499, not {sequence}")
    order = sequence * 2 + (1 if Sex(sex) is Sex.male else 0)
    body = f"{region}{birth_date:%Y%m%d}{order:03d}"
    return body + resident_id_check(body)
