"""The classification of evaluation experts' specialties (评审专家专业分类), a three-level tree.

Experts choose up to three leaves. Loaded from `registry/data/specialties.csv` as reference data.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel


class Specialty(SQLModel, table=True):
    __tablename__ = "specialties"

    code: str = SQLField(sa_column=Column(String(8), primary_key=True))
    name: str = SQLField(max_length=100)
    parent_code: str | None = SQLField(
        default=None, sa_column=Column(String(8), ForeignKey("specialties.code"), index=True)
    )
    level: int
