"""Regions (GB/T 2260 divisions of Inner Mongolia) and their finance bureaus."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import ConfigDict, field_validator
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import created_at_column, updated_at_column

REGION_CODE_PATTERN = r"^[1-8]\d{5}$"


class RegionLevel(StrEnum):
    province = "province"
    prefecture = "prefecture"
    county = "county"


class Region(SQLModel, table=True):
    """One administrative division. Rows are never deleted: a retired code gets `valid_to`."""

    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint("code ~ '^[1-8][0-9]{5}$'", name="code_format"),
        CheckConstraint("level IN ('province', 'prefecture', 'county')", name="level"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        Index("ix_regions_code_pattern", "code", postgresql_ops={"code": "text_pattern_ops"}),
    )

    code: str = Field(sa_column=Column(String(6), primary_key=True))
    name: str = Field(max_length=100)
    level: str = Field(max_length=16)
    parent_code: str | None = Field(default=None, foreign_key="regions.code", index=True)
    valid_from: date
    valid_to: date | None = None
    former_names: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class Bureau(SQLModel, table=True):
    """The finance bureau (财政厅/局) of one region; it manages that region's subtree."""

    __tablename__ = "bureaus"

    region_code: str = Field(
        sa_column=Column(String(6), ForeignKey("regions.code"), primary_key=True),
    )
    name: str = Field(max_length=100)
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    version: int = Field(default=1)
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class ReferenceDataLoad(SQLModel, table=True):
    """Which edition of a reference data file (regions, catalog) has been loaded, and when."""

    __tablename__ = "reference_data_loads"

    id: int | None = Field(default=None, primary_key=True)
    dataset: str = Field(max_length=32, index=True)
    as_of: date
    source: str
    checksum: str = Field(max_length=64)
    rows: int
    loaded_at: datetime | None = Field(default=None, sa_column=created_at_column())


# --- API schemas ----------------------------------------------------------------------------


class BureauPublic(SQLModel):
    region_code: str = Field(description="地区代码", schema_extra={"examples": ["150102"]})
    name: str = Field(description="财政部门名称", schema_extra={"examples": ["新城区财政局"]})
    address: str | None = Field(default=None, description="地址")
    phone: str | None = Field(default=None, description="联系电话")
    version: int = Field(description="记录版本(ETag)")


class BureauUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str | None = Field(default=None, min_length=2, max_length=100, description="财政部门名称")
    address: str | None = Field(default=None, max_length=200, description="地址")
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="联系电话",
        schema_extra={"pattern": r"^[0-9+\-() ]{5,32}$", "examples": ["0471-6600000"]},
    )

    @field_validator("name", "address", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("名称不能为空")
        return value


class RegionSummary(SQLModel):
    code: str = Field(description="行政区划代码(GB/T 2260)", schema_extra={"examples": ["150102"]})
    name: str = Field(description="名称", schema_extra={"examples": ["新城区"]})
    level: RegionLevel = Field(description="层级:province 自治区 / prefecture 盟市 / county 旗县区")
    parent_code: str | None = Field(default=None, description="上级代码")
    valid_from: date = Field(description="启用日期")
    valid_to: date | None = Field(default=None, description="停用日期(为空表示现行)")


class RegionDetail(RegionSummary):
    former_names: list[str] = Field(default_factory=list, description="曾用名")
    ancestors: list[RegionSummary] = Field(default_factory=list, description="上级地区,自上而下")
    children: list[RegionSummary] = Field(default_factory=list, description="直属下级地区")
    bureau: BureauPublic | None = Field(default=None, description="本级财政部门")
