"""Routes only commodities have (added to the commodities' router by `organizations.build_router`):
lookup by catalog code, brand and model, and suppliers' offers."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import CurrentPrincipal, SessionDep, etag_for, require
from api.errors import problem_responses
from auth.policy import AUTHENTICATED, PUBLIC
from auth.principals import Principal
from models.commodity import OfferCreate, OfferOut, OfferUpdate
from models.organization import OrganizationOut
from registry import commodities, organizations

OfferId = Annotated[str, Path(max_length=24, description="报价编号")]


def add_routes(router: APIRouter) -> None:
    @router.get(
        "/by-key",
        summary="按品目、品牌和型号查询",
        description="品牌与型号按规范化后比较:大小写、全角半角、空格与连字符、常见品牌别名(惠普 = HP)视为相同。",
        dependencies=[require(PUBLIC)],
        responses=problem_responses(404, 422),
        operation_id="get_commodity_by_key",
    )
    def by_key(
        session: SessionDep,
        actor: CurrentPrincipal,
        response: Response,
        catalog_code: Annotated[str, Query(max_length=16, description="品目编码")],
        brand: Annotated[str, Query(min_length=1, max_length=100, description="品牌")],
        model: Annotated[str, Query(min_length=1, max_length=100, description="型号")],
    ) -> OrganizationOut:
        row = organizations.by_commodity_key(
            session, catalog_code=catalog_code, brand=brand, model=model, actor=actor
        )
        response.headers["ETag"] = etag_for(row.org.version)
        return organizations.to_out(row, actor)

    @router.get(
        "/{org_id}/offers",
        summary="商品的报价",
        description="按价格从低到高;`current=true`(默认)只列今天有效且未撤回的报价。",
        dependencies=[require(PUBLIC)],
        responses=problem_responses(404),
        operation_id="list_offers",
    )
    def list_offers(
        session: SessionDep,
        actor: CurrentPrincipal,
        org_id: str,
        current: Annotated[bool, Query(description="只列现行报价")] = True,
    ) -> list[OfferOut]:
        return commodities.list_offers(
            session, commodity_id=org_id, actor=actor, current_only=current
        )

    @router.post(
        "/{org_id}/offers",
        summary="添加报价",
        description=(
            "供应商为已上架的商品报价(价格、库存、有效期);每个供应商对同一商品只有一条现行报价,"
            "重复报价返回 409 和已有报价的编号。供应商本身或其辖区的财政部门可操作。"
        ),
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404, 409, 422),
        operation_id="add_offer",
    )
    def add_offer(
        session: SessionDep,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        org_id: str,
        body: OfferCreate,
    ) -> OfferOut:
        return commodities.add_offer(session, commodity_id=org_id, body=body, actor=actor)

    @router.patch(
        "/{org_id}/offers/{offer_id}",
        summary="修改报价",
        responses=problem_responses(401, 403, 404, 409, 422),
        operation_id="update_offer",
    )
    def update_offer(
        session: SessionDep,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        org_id: str,
        offer_id: OfferId,
        body: OfferUpdate,
    ) -> OfferOut:
        return commodities.update_offer(
            session, commodity_id=org_id, offer_id=offer_id, body=body, actor=actor
        )

    @router.post(
        "/{org_id}/offers/{offer_id}/withdraw",
        summary="撤回报价",
        responses=problem_responses(401, 403, 404, 409),
        operation_id="withdraw_offer",
    )
    def withdraw_offer(
        session: SessionDep,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        org_id: str,
        offer_id: OfferId,
    ) -> OfferOut:
        return commodities.withdraw_offer(
            session, commodity_id=org_id, offer_id=offer_id, actor=actor
        )
