"""Routes only experts have (added to the experts' router by `organizations.build_router`)."""

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SessionDep, etag_for, require
from api.errors import problem_responses
from auth.policy import AUTHENTICATED
from auth.principals import Principal
from models.organization import OrganizationOut
from registry import experts, organizations


class IdNumberLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(max_length=40, description="居民身份证号码")


def add_routes(router: APIRouter) -> None:
    @router.post(
        "/lookup",
        summary="按身份证号码查询专家",
        description=(
            "通过身份证号码的密钥散列(盲索引)查找,号码本身从不以明文存储。"
            "只对有权查看该专家受限字段者(管辖财政部门、专家本人、具有 registry.read.restricted 范围的系统)"
            "给出结果,其他调用者一律 404。号码放在请求体中,不会出现在网址和访问日志里。"
        ),
        response_model=OrganizationOut,
        responses=problem_responses(401, 404, 422),
        operation_id="lookup_expert_by_id_number",
    )
    def lookup(
        session: SessionDep,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        body: Annotated[IdNumberLookup, Body()],
        response: Response,
    ) -> OrganizationOut:
        row = organizations.by_id_number(session, id_number=body.id_number, actor=actor)
        response.headers["ETag"] = etag_for(row.org.version)
        return organizations.to_out(row, actor)

    @router.post(
        "/conflicts",
        summary="批量回避检查",
        description=(
            "专家抽取时使用:给出一批专家与一批单位(统一社会信用代码)中须回避的组合,"
            "以及回避的理由(现工作单位、三年内的原工作单位、近亲属工作单位等)。"
        ),
        responses=problem_responses(401, 422),
        operation_id="expert_conflicts_batch",
    )
    def conflicts_batch(
        session: SessionDep,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        body: experts.ConflictQuery,
    ) -> list[experts.ConflictAnswer]:
        return experts.conflicts_batch(session, query=body, actor=actor)

    @router.get(
        "/{org_id}/conflicts",
        summary="回避检查",
        description="该专家是否须回避某单位(供应商、采购人等)的评审,以及理由。",
        responses=problem_responses(401, 404, 422),
        operation_id="expert_conflicts",
    )
    def conflicts(
        session: SessionDep,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        org_id: str,
        uscc: Annotated[str, Query(max_length=40, description="单位的统一社会信用代码")],
    ) -> experts.ConflictAnswer:
        return experts.conflicts(session, expert_id=org_id, uscc=uscc, actor=actor)
