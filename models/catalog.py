"""The government procurement item classification catalogue (政府采购品目分类目录), versioned."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, String, text
from sqlmodel import Field, SQLModel

from models.base import created_at_column

# Official fixed-width form: the category letter alone (A/B/C), or the letter and 8 digits in
# four 2-digit levels, trailing "00" pairs meaning "this level and above" (A02010000 = A02 01).
CATALOG_CODE_PATTERN = r"^[ABC](\d{8})?$"


class CatalogCategory(StrEnum):
    goods = "goods"
    works = "works"
    services = "services"


CATEGORY_BY_LETTER = {
    "A": CatalogCategory.goods,
    "B": CatalogCategory.works,
    "C": CatalogCategory.services,
}


class CatalogItem(SQLModel, table=True):
    """One version of one catalog entry; the current version has `valid_to IS NULL`."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        CheckConstraint("code ~ '^[ABC]([0-9]{8})?$'", name="code_format"),
        CheckConstraint("category IN ('goods', 'works', 'services')", name="category"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        Index(
            "uq_catalog_items_current_code",
            "code",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_catalog_items_code_pattern", "code", postgresql_ops={"code": "text_pattern_ops"}),
        Index("uq_catalog_items_code_valid_from", "code", "valid_from", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(max_length=200)
    parent_code: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    category: str = Field(max_length=16)
    level: int
    valid_from: date
    valid_to: date | None = None
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class CatalogItemPublic(SQLModel):
    code: str = Field(description="品目编码", schema_extra={"examples": ["A02010000"]})
    name: str = Field(description="品目名称", schema_extra={"examples": ["信息化设备"]})
    parent_code: str | None = Field(default=None, description="上级品目编码")
    category: CatalogCategory = Field(description="类别:goods 货物 / works 工程 / services 服务")
    level: int = Field(description="层级(A=1, A02000000=2, A02010000=3 …)")
    prefix: str = Field(
        description="有效前缀(去掉末尾的 00 段),用于按前缀检索下级",
        schema_extra={"examples": ["A0201"]},
    )
    valid_from: date = Field(description="生效日期")
    valid_to: date | None = Field(default=None, description="失效日期(为空表示现行)")


class CatalogItemDetail(CatalogItemPublic):
    ancestors: list[CatalogItemPublic] = Field(default_factory=list, description="上级品目")
    children: list[CatalogItemPublic] = Field(default_factory=list, description="直属下级品目")


class RowError(SQLModel):
    row: int | None = Field(description="文件中的行号(含表头,从 1 起);为空表示与文件中的行无关")
    field: str | None = Field(default=None, description="出错字段")
    message: str = Field(description="错误说明")


class CatalogImportReport(SQLModel):
    accepted: bool = Field(description="是否已写入")
    rows: int = Field(description="数据行数")
    created: int = Field(default=0, description="新增品目")
    renamed: int = Field(default=0, description="名称变更(旧版本已失效,新版本已生效)")
    retired: int = Field(default=0, description="停用的品目")
    unchanged: int = Field(default=0, description="未变化")
    errors: list[RowError] = Field(default_factory=list, description="逐行错误")
