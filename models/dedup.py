"""Dedup: candidate pairs, the judgement log, merges and the blocking keys (issue 6).

* `dedup_candidates`: pairs a matcher scored at or above its review threshold, with the evidence
  per field. Derived data: a scan may rewrite a pair's score; a pair judged "not the same" is
  never written again.
* `dedup_judgements`: the append-only log of reviewers' decisions on pairs (positive / negative /
  unsure / no_judgement, the last one retracting). The state of a pair is its latest judgement;
  clusters are the connected components of the positive pairs (`registry.dedup.clusters`), a pure
  function of this table.
* `merges`: one row per merge of a loser into a survivor, with everything needed to undo it
  exactly (`before`: the two records' columns and every reference row that moved or changed).
  The loser stays as a tombstone (`status = 'merged'`, `merged_into`) that keeps resolving.
* `dedup_keys`: the blocking keys of every record, kept in the writing transaction, so a new or
  changed record is compared only against records sharing a key, never by rescanning.

Pairs are stored ordered (`left_id < right_id`), so a pair has one row whichever way it was seen.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel


class Judgement(StrEnum):
    positive = "positive"  # 是同一主体
    negative = "negative"  # 不是同一主体(不再提示)
    unsure = "unsure"  # 无法确定
    no_judgement = "no_judgement"  # 撤回此前的判断


def _record_fk(nullable: bool = False) -> Any:
    return Column(String(24), ForeignKey("organizations.id"), nullable=nullable)


def _now_column() -> Any:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class DedupCandidate(SQLModel, table=True):
    __tablename__ = "dedup_candidates"
    __table_args__ = (
        CheckConstraint("left_id < right_id", name="ordered_pair"),
        CheckConstraint("source IN ('registration', 'edit', 'scan')", name="source"),
        Index("uq_dedup_candidates_left_id_right_id", "left_id", "right_id", unique=True),
        Index("ix_dedup_candidates_right_id", "right_id"),
        Index("ix_dedup_candidates_kind_score", "kind", "score"),
    )

    id: int | None = SQLField(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    kind: str = SQLField(sa_column=Column(String(16), nullable=False))
    left_id: str = SQLField(sa_column=_record_fk())
    right_id: str = SQLField(sa_column=_record_fk())
    score: float = SQLField(sa_column=Column(Float, nullable=False))
    evidence: list[dict[str, Any]] = SQLField(sa_column=Column(JSONB, nullable=False))
    vetoed: str | None = SQLField(default=None, sa_column=Column(String(200), nullable=True))
    matcher_version: int = SQLField(sa_column=Column(Integer, nullable=False))
    source: str = SQLField(sa_column=Column(String(16), nullable=False))
    found_at: datetime | None = SQLField(default=None, sa_column=_now_column())
    scored_at: datetime | None = SQLField(default=None, sa_column=_now_column())


class DedupJudgement(SQLModel, table=True):
    __tablename__ = "dedup_judgements"
    __table_args__ = (
        CheckConstraint("left_id < right_id", name="ordered_pair"),
        CheckConstraint(
            "judgement IN ('positive', 'negative', 'unsure', 'no_judgement')", name="judgement"
        ),
        Index("ix_dedup_judgements_left_id_right_id_seq", "left_id", "right_id", "seq"),
        Index("ix_dedup_judgements_right_id", "right_id"),
    )

    seq: int | None = SQLField(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    left_id: str = SQLField(sa_column=_record_fk())
    right_id: str = SQLField(sa_column=_record_fk())
    judgement: str = SQLField(sa_column=Column(String(16), nullable=False))
    actor: str = SQLField(sa_column=Column(String(128), nullable=False))
    actor_name: str = SQLField(sa_column=Column(String(100), nullable=False, server_default=""))
    reason: str | None = SQLField(default=None, sa_column=Column(String(500), nullable=True))
    request_id: str | None = SQLField(default=None, sa_column=Column(String(128), nullable=True))
    at: datetime | None = SQLField(default=None, sa_column=_now_column())


class Merge(SQLModel, table=True):
    __tablename__ = "merges"
    __table_args__ = (
        CheckConstraint("survivor_id <> loser_id", name="two_records"),
        # a record is merged away at most once at a time (an undone merge can be made again)
        Index(
            "uq_merges_loser_id_live",
            "loser_id",
            unique=True,
            postgresql_where=text("undone_at IS NULL"),
        ),
        Index("ix_merges_survivor_id", "survivor_id"),
    )

    id: str = SQLField(sa_column=Column(String(24), primary_key=True))
    kind: str = SQLField(sa_column=Column(String(16), nullable=False))
    survivor_id: str = SQLField(sa_column=_record_fk())
    loser_id: str = SQLField(sa_column=_record_fk())
    # field path -> "survivor" | "loser" | "both" (lists kept whole): where each differing field came from
    survivorship: dict[str, Any] = SQLField(sa_column=Column(JSONB, nullable=False))
    # what the merge changed, to undo it exactly: records' columns and moved reference rows
    before: dict[str, Any] = SQLField(sa_column=Column(JSONB, nullable=False))
    survivor_version: int = SQLField(sa_column=Column(Integer, nullable=False))
    reason: str | None = SQLField(default=None, sa_column=Column(String(500), nullable=True))
    merged_by: str = SQLField(sa_column=Column(String(128), nullable=False))
    merged_by_name: str = SQLField(sa_column=Column(String(100), nullable=False, server_default=""))
    merged_at: datetime | None = SQLField(default=None, sa_column=_now_column())
    undone_at: datetime | None = SQLField(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    undone_by: str | None = SQLField(default=None, sa_column=Column(String(128), nullable=True))
    undo_reason: str | None = SQLField(default=None, sa_column=Column(String(500), nullable=True))


class DedupKey(SQLModel, table=True):
    __tablename__ = "dedup_keys"
    __table_args__ = (Index("ix_dedup_keys_kind_key", "kind", "key"),)

    record_id: str = SQLField(
        sa_column=Column(
            String(24), ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
        )
    )
    key: str = SQLField(sa_column=Column(String(120), primary_key=True))
    # the record kind: records are compared only with records of their own kind
    kind: str = SQLField(sa_column=Column(String(16), nullable=False))


# --- API shapes -------------------------------------------------------------------------------


class EvidenceOut(BaseModel):
    field: str = Field(description="字段")
    score: float = Field(description="该字段的相似度(0–1)")
    note: str = Field(description="依据说明")


class CandidateSide(BaseModel):
    id: str
    kind: str
    name: str
    region_code: str = Field(description="管辖地区")
    status: str


class CandidateOut(BaseModel):
    id: int = Field(description="疑似重复编号")
    kind: str = Field(description="记录类型")
    score: float = Field(description="相似度(0–1),越高越可能是同一主体")
    evidence: list[EvidenceOut] = Field(description="逐字段依据")
    explanation: str = Field(description="依据摘要,如“name after suffix normalization 0.93, …”")
    source: str = Field(description="发现途径:registration(登记时)、edit(修改时)、scan(批量查重)")
    found_at: datetime
    judgement: Judgement | None = Field(
        default=None, description="当前判断(最近一次):positive 同一主体 / negative 不是 / unsure"
    )
    left: CandidateSide
    right: CandidateSide


class FieldComparison(BaseModel):
    field: str
    left: Any = Field(default=None, description="左侧记录的值(按您的权限脱敏)")
    right: Any = Field(default=None, description="右侧记录的值(按您的权限脱敏)")
    same: bool
    keep: str = Field(
        description="以左侧为存续记录合并时默认保留哪一侧:survivor(左)/ loser(右)/ both(两侧合并)"
    )
    rule: str = Field(
        description="默认规则:非空优先、已审核优先、较新优先、标识字段保留存续记录的值"
    )


class JudgementOut(BaseModel):
    seq: int
    judgement: Judgement
    actor_name: str
    reason: str | None = None
    at: datetime


class CandidatePairOut(CandidateOut):
    fields: list[FieldComparison] = Field(description="两条记录逐字段对照")
    suggested_survivor: str = Field(description="建议的存续记录(已审核、较新的一条)")
    judgements: list[JudgementOut] = Field(description="这对记录的全部判断(只增不改)")


class JudgementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(
        description="same(同一主体)、not_same(不是同一主体,不再提示)、unsure(无法确定)、"
        "retract(撤回此前的判断)",
        examples=["not_same"],
    )
    reason: str | None = Field(default=None, max_length=500, description="理由(not_same 必填)")


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    survivor_id: str = Field(max_length=24, description="存续记录编号")
    loser_id: str = Field(
        max_length=24, description="被合并记录编号(合并后保留为指向存续记录的墓碑)"
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="逐字段指定取值来源(survivor / loser),覆盖默认规则",
        examples=[{"address": "loser"}],
    )
    reason: str | None = Field(default=None, max_length=500, description="理由")


class UnmergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500, description="理由")
    not_same: bool = Field(
        default=False, description="同时判断为“不是同一主体”(不再提示;需填写理由)"
    )


class MergeOut(BaseModel):
    id: str = Field(description="合并编号")
    kind: str
    survivor_id: str
    loser_id: str
    survivorship: dict[str, dict[str, str]] = Field(
        description="逐字段取值来源与规则:{字段: {source, rule}}"
    )
    moved: dict[str, int] = Field(default_factory=dict, description="转移到存续记录的关联数据条数")
    references: int = Field(description="合并改动的关联数据行数(撤销时按原样恢复)")
    reason: str | None = None
    merged_by_name: str
    merged_at: datetime | None = None
    undone_at: datetime | None = None
    undo_reason: str | None = None


class ClusterOut(BaseModel):
    record_id: str
    members: list[str] = Field(description="被判断为同一主体的记录(含自身),由判断日志推导")
