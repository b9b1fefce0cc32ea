"""E-mall goods (电子卖场商品) and suppliers' offers of them.

A commodity is keyed by (catalog code, normalized brand, normalized model): the same printer
offered by ten suppliers is one commodity with ten offers (`commodity_offers`). Specifications
are typed attributes declared per catalog class (`registry/data/commodity_specs.csv`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, Numeric, String, text
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import created_at_column, updated_at_column
from models.organization import RecordData, _Strict
from registry.codes import normalize_catalog_code
from registry.identifiers import to_half_width

REGION_WIDE = "150000"  # commodities are managed by the autonomous region's bureau by default


class ReferencePrice(_Strict):
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2, description="参考价格")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$", description="币种(ISO 4217)")
    as_of: date = Field(description="价格日期")


class CommodityData(RecordData):
    UNREVIEWED: ClassVar[frozenset[str]] = frozenset({"images"})

    catalog_code: str = Field(description="品目编码(末级,登记时有效)", examples=["A02020000"])
    name: str = Field(min_length=2, max_length=200, description="商品名称")
    brand: str = Field(min_length=1, max_length=100, description="品牌")
    model: str = Field(min_length=1, max_length=100, description="型号")
    specs: dict[str, Any] = Field(default_factory=dict, description="规格参数(按品目定义的属性)")
    unit: str = Field(min_length=1, max_length=10, description="计量单位", examples=["台"])
    reference_price: ReferencePrice = Field(description="参考价格")
    images: list[str] = Field(default_factory=list, max_length=10, description="图片地址")
    region_code: str = Field(
        default=REGION_WIDE, description="管理地区代码(默认自治区本级)", examples=[REGION_WIDE]
    )

    @field_validator("catalog_code", mode="before")
    @classmethod
    def _code(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        code = normalize_catalog_code(value)
        if code is None:
            raise ValueError(f"品目编码 {value!r} 格式不正确")
        return code

    @field_validator("name", "brand", "model", "unit", mode="before")
    @classmethod
    def _fold(cls, value: object) -> object:
        return to_half_width(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _key_has_substance(self) -> CommodityData:
        """Brand and model must keep letters, digits or characters once folded for the key."""
        from registry.normalize import normalize_brand, normalize_model

        if not normalize_brand(self.brand):
            raise ValueError("品牌需要包含文字或字母数字(不能只有标点、空格)")
        if not normalize_model(self.model, self.brand):
            raise ValueError("型号需要包含字母、数字或文字(不能只有标点、空格,也不能只是品牌名)")
        return self

    @field_validator("images")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("https://", "http://")) or len(url) > 500:
                raise ValueError(f"图片地址应为 http(s) 网址:{url[:60]}")
        return value


class StockStatus(StrEnum):
    in_stock = "in_stock"  # 有货
    low = "low"  # 库存紧张
    out_of_stock = "out_of_stock"  # 缺货
    on_order = "on_order"  # 可订货


class Offer(SQLModel, table=True):
    """A supplier's offer of a commodity (price, stock, validity); one live offer per pair."""

    __tablename__ = "commodity_offers"
    __table_args__ = (
        CheckConstraint(
            "stock_status IN ('in_stock', 'low', 'out_of_stock', 'on_order')", name="stock_status"
        ),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index(
            "uq_commodity_offers_live",
            "commodity_id",
            "supplier_id",
            unique=True,
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    id: str = SQLField(sa_column=Column(String(24), primary_key=True))
    commodity_id: str = SQLField(
        sa_column=Column(String(24), ForeignKey("organizations.id"), nullable=False, index=True)
    )
    supplier_id: str = SQLField(
        sa_column=Column(String(24), ForeignKey("organizations.id"), nullable=False, index=True)
    )
    price: Decimal = SQLField(sa_column=Column(Numeric(14, 2), nullable=False))
    currency: str = SQLField(default="CNY", max_length=3)
    stock_status: str = SQLField(default=StockStatus.in_stock.value, max_length=16)
    valid_from: date
    valid_to: date | None = None
    withdrawn_at: datetime | None = SQLField(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime | None = SQLField(default=None, sa_column=created_at_column())
    updated_at: datetime | None = SQLField(default=None, sa_column=updated_at_column())


class OfferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    supplier_id: str = Field(max_length=24, description="供应商编号")
    price: Decimal = Field(gt=0, max_digits=14, decimal_places=2, description="报价")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    stock_status: StockStatus = StockStatus.in_stock
    valid_from: date = Field(description="报价有效期起")
    valid_to: date | None = Field(default=None, description="报价有效期止")

    @model_validator(mode="after")
    def _period(self) -> OfferCreate:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("报价有效期止不能早于有效期起")
        return self


class OfferUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)
    stock_status: StockStatus | None = None
    valid_to: date | None = None


class OfferOut(BaseModel):
    id: str
    commodity_id: str
    supplier_id: str
    supplier_name: str | None = None
    price: Decimal
    currency: str
    stock_status: StockStatus
    valid_from: date
    valid_to: date | None
    current: bool = Field(description="今天在有效期内且未撤回")
    withdrawn_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
