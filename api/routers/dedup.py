"""The dedup review queue, judgements, merges and unmerges (查重审核)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import CursorParam, Limit, SessionDep, require
from api.errors import problem_responses
from api.pagination import Page, decode_cursor, encode_cursor
from api.routing import UnitOfWorkRoute
from auth.policy import STAFF
from auth.principals import Principal
from models.dedup import (
    CandidateOut,
    CandidatePairOut,
    ClusterOut,
    JudgementIn,
    MergeIn,
    MergeOut,
    UnmergeIn,
)
from models.organization import RecordKind
from registry import dedup, dedup_review, merge
from registry.errors import BadRequest

router = APIRouter(prefix="/v1/dedup", tags=["查重与合并"], route_class=UnitOfWorkRoute)
Staff = Annotated[Principal, require(STAFF)]
RecordId = Annotated[str, Path(max_length=24)]


@router.get(
    "/candidates",
    summary="疑似重复审核队列",
    description=(
        "本辖区(至少一条记录在辖区内)的疑似重复记录对,按相似度从高到低。"
        "state:open(待处理,默认)、unsure、same、not_same、all。"
    ),
    responses=problem_responses(400, 401, 403, 422),
)
def list_candidates(
    session: SessionDep,
    actor: Staff,
    limit: Limit = 50,
    cursor: CursorParam = None,
    kind: Annotated[RecordKind | None, Query(description="记录类型")] = None,
    state: Annotated[str, Query(pattern="^(open|unsure|same|not_same|all)$")] = "open",
    record_id: Annotated[str | None, Query(max_length=24, description="涉及某条记录")] = None,
    within: Annotated[str | None, Query(pattern=r"^\d{6}$", description="地区(含下级)")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1, description="最低相似度")] = None,
) -> Page[CandidateOut]:
    after = decode_cursor(cursor, 2)
    try:
        position = (float(after[0]), int(after[1])) if after else None
    except ValueError as exc:
        raise BadRequest("翻页游标无效", code="invalid_cursor") from exc
    rows = dedup.list_candidates(
        session,
        actor=actor,
        kind=kind.value if kind else None,
        state=state,
        record_id=record_id,
        within=within,
        min_score=min_score,
        limit=limit,
        after=position,
    )
    next_cursor = (
        encode_cursor([repr(rows[-1].score), str(rows[-1].id)]) if len(rows) == limit else None
    )
    return Page[CandidateOut](
        items=[dedup_review.candidate_out(r, actor) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/candidates/{candidate_id}",
    summary="疑似重复详情(逐字段对照)",
    description="两条记录逐字段并列(按您的权限脱敏)、相似度依据、默认的字段取舍和全部判断。",
    responses=problem_responses(401, 403, 404),
)
def get_candidate(session: SessionDep, actor: Staff, candidate_id: int) -> CandidatePairOut:
    return dedup_review.pair(session, candidate_id=candidate_id, actor=actor)


@router.post(
    "/candidates/{candidate_id}/judgements",
    summary="判断是否同一主体",
    description=(
        "判断追加到只增不改的判断日志;最近一次判断为准。not_same 的记录对不会再被提示;"
        "same 的记录对组成同一簇,可以合并。"
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
def judge(session: SessionDep, actor: Staff, candidate_id: int, body: JudgementIn) -> CandidateOut:
    row = dedup.judge(
        session,
        candidate_id=candidate_id,
        decision=body.decision,
        reason=body.reason,
        actor=actor,
    )
    return dedup_review.candidate_out(row, actor)


@router.get(
    "/clusters/{record_id}",
    summary="同一主体簇",
    description="由判断日志推导:经“同一主体”判断直接或间接相连的记录。",
    responses=problem_responses(401, 403, 404),
)
def cluster(session: SessionDep, actor: Staff, record_id: RecordId) -> ClusterOut:
    return dedup_review.cluster(session, record_id=record_id, actor=actor)


@router.post(
    "/merges",
    summary="合并重复记录",
    description=(
        "被合并记录成为指向存续记录的墓碑:按其编号或代码查询时返回存续记录。字段默认取舍:"
        "标识字段保留存续记录的值,非空优先,已审核优先,较新优先;可逐字段指定。"
        "处罚记录、变更申请、报价、自助账号转到存续记录。跨辖区合并需同时管辖两条记录的审核人员。"
    ),
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def create_merge(session: SessionDep, actor: Staff, body: MergeIn) -> MergeOut:
    done = merge.merge(
        session,
        survivor_id=body.survivor_id,
        loser_id=body.loser_id,
        overrides=body.fields,
        reason=body.reason,
        actor=actor,
    )
    return dedup_review.merge_out(done)


@router.get(
    "/merges/{merge_id}",
    summary="合并详情",
    responses=problem_responses(401, 403, 404),
)
def get_merge(session: SessionDep, actor: Staff, merge_id: RecordId) -> MergeOut:
    return dedup_review.merge_detail(session, merge_id=merge_id, actor=actor)


@router.post(
    "/merges/{merge_id}/undo",
    summary="撤销合并",
    description=(
        "按合并时保存的原样恢复被合并记录及其关联数据;存续记录此后未被修改的,也恢复原样,"
        "否则只恢复仍为合并所得值的字段。撤销作为单独的事件记录。"
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
def undo_merge(session: SessionDep, actor: Staff, merge_id: RecordId, body: UnmergeIn) -> MergeOut:
    undone = merge.unmerge(
        session, merge_id=merge_id, reason=body.reason, not_same=body.not_same, actor=actor
    )
    return dedup_review.merge_out(undone)
