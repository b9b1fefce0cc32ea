"""Evaluation experts (评审专家): the person registry.

An expert is keyed by the resident ID number, which — like the personal phone — is personal data:
stored encrypted, found through a keyed hash (`natural_key`), and shown masked to everyone but
the managing bureaus, the expert and service clients with the restricted scope
(`registry/personal.py`). The schema below validates the plain values a caller sends; that sex and birth date agree with
the ID number is checked by the service, which reports each disagreeing field.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from models.organization import RecordData, _optional_phone, _Strict, optional_uscc
from registry.identifiers import (
    IdentifierError,
    Sex,
    to_half_width,
    validate_resident_id,
)

MAX_SPECIALTIES = 3
FORMER_EMPLOYER_YEARS = 3  # a former employer counts for avoidance this long after leaving


class Employer(_Strict):
    name: str = Field(min_length=2, max_length=200, description="工作单位名称")
    uscc: str | None = Field(default=None, description="工作单位统一社会信用代码(用于回避)")

    @field_validator("uscc", mode="before")
    @classmethod
    def _uscc(cls, value: object) -> object:
        return optional_uscc(value)


class Relation(StrEnum):
    former_employer = "former_employer"  # 原工作单位(离开三年内须回避)
    relative_employer = "relative_employer"  # 近亲属的工作单位
    other = "other"  # 其他利害关系


class Relationship(_Strict):
    relation: Relation = Field(description="关系")
    name: str = Field(min_length=2, max_length=200, description="单位名称")
    uscc: str | None = Field(default=None, description="单位统一社会信用代码")
    until: date | None = Field(default=None, description="关系截止日期(原工作单位:离职日期)")
    note: str | None = Field(default=None, max_length=200, description="说明")

    @field_validator("uscc", mode="before")
    @classmethod
    def _uscc(cls, value: object) -> object:
        return optional_uscc(value)

    @model_validator(mode="after")
    def _former_needs_end(self) -> Relationship:
        if self.relation is Relation.former_employer and self.until is None:
            raise ValueError("原工作单位需要填写离职日期(until)")
        return self


class Term(_Strict):
    starts_on: date = Field(description="聘期开始")
    ends_on: date = Field(description="聘期结束")

    @model_validator(mode="after")
    def _order(self) -> Term:
        if self.ends_on <= self.starts_on:
            raise ValueError("聘期结束日期应晚于开始日期")
        return self


class ExpertData(RecordData):
    UNREVIEWED: ClassVar[frozenset[str]] = frozenset({"phone", "email", "relationships"})
    RESTRICTED: ClassVar[tuple[str, ...]] = ("id_number", "phone")
    ENCRYPTED: ClassVar[tuple[str, ...]] = ("id_number", "phone")

    name: str = Field(min_length=2, max_length=50, description="姓名")
    id_number: str = Field(description="居民身份证号码(受限字段,加密存储)")
    sex: Sex = Field(description="性别(须与身份证号码一致)")
    birth_date: date = Field(description="出生日期(须与身份证号码一致)")
    phone: str = Field(description="手机号码(受限字段,加密存储)")
    email: str | None = Field(default=None, max_length=100, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    employer: Employer = Field(description="工作单位")
    title: str = Field(min_length=2, max_length=50, description="专业技术职称")
    years_of_experience: int = Field(ge=0, le=70, description="从业年限")
    specialties: list[str] = Field(
        min_length=1, max_length=MAX_SPECIALTIES, description="评审专业(末级代码,最多 3 个)"
    )
    region_code: str = Field(description="所在地区(管辖地区)代码", examples=["150102"])
    term: Term = Field(description="聘期")
    relationships: list[Relationship] = Field(
        default_factory=list, max_length=20, description="回避关系(原工作单位、亲属工作单位等)"
    )

    @field_validator("name", "title", mode="before")
    @classmethod
    def _fold(cls, value: object) -> object:
        return to_half_width(value) if isinstance(value, str) else value

    @field_validator("id_number", mode="before")
    @classmethod
    def _id_number(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return validate_resident_id(value)
        except IdentifierError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        phone = _optional_phone(value)
        if phone is None:
            raise ValueError("请填写手机号码")
        return phone

    @field_validator("specialties")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        codes = [to_half_width(c).upper() for c in value]
        if len(set(codes)) != len(codes):
            raise ValueError("评审专业不能重复")
        return codes
