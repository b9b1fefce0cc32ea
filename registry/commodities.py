"""Suppliers' offers of commodities: one live offer per supplier and commodity.

A supplier offers a listed commodity (price, stock, validity); its account does so for itself,
bureau staff for suppliers in their jurisdiction. Offers are recorded in the commodity's history
and change feed (`offer_added`, `offer_updated`, `offer_withdrawn`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from auth.policy import Action, may
from auth.principals import Principal
from models.commodity import Offer, OfferCreate, OfferOut, OfferUpdate, StockStatus
from models.organization import Organization, RecordKind, Status
from registry import organizations
from registry.errors import Conflict, Forbidden, NotFound
from registry.ids import new_id


def _out(offer: Offer, supplier_name: str | None = None) -> OfferOut:
    today = date.today()
    current = (
        offer.withdrawn_at is None
        and offer.valid_from <= today
        and (offer.valid_to is None or offer.valid_to >= today)
    )
    return OfferOut(
        id=offer.id,
        commodity_id=offer.commodity_id,
        supplier_id=offer.supplier_id,
        supplier_name=supplier_name,
        price=offer.price,
        currency=offer.currency,
        stock_status=StockStatus(offer.stock_status),
        valid_from=offer.valid_from,
        valid_to=offer.valid_to,
        current=current,
        withdrawn_at=offer.withdrawn_at,
        created_at=offer.created_at,
        updated_at=offer.updated_at,
    )


def _snapshot(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "supplier_id": offer.supplier_id,
        "price": f"{Decimal(offer.price):.2f}",  # 2199 and 2199.00 are one price
        "currency": offer.currency,
        "stock_status": offer.stock_status,
        "valid_from": offer.valid_from.isoformat(),
        "valid_to": offer.valid_to.isoformat() if offer.valid_to else None,
    }


def _supplier_acting(session: Session, supplier_id: str, actor: Principal) -> Organization:
    """The supplier, if the caller may act for it (its own account, or staff in reach)."""
    supplier = session.get(Organization, supplier_id)
    if supplier is None or supplier.kind != RecordKind.supplier.value:
        raise NotFound(f"供应商 {supplier_id} 不存在", code="supplier_not_found")
    if not may(actor, Action.edit, organizations.target(supplier)):
        raise Forbidden("只能为本单位(或本辖区内的供应商)报价")
    return supplier


def add_offer(
    session: Session, *, commodity_id: str, body: OfferCreate, actor: Principal
) -> OfferOut:
    commodity = organizations.lock_visible(session, RecordKind.commodity, commodity_id, actor)
    if commodity.status != Status.active.value:
        raise Conflict(
            "商品未上架,不能报价", code="commodity_not_listed", status_now=commodity.status
        )
    supplier = _supplier_acting(session, body.supplier_id, actor)
    # FOR SHARE: a merge (or suspension) of the supplier waits for this offer, or this offer
    # sees its outcome — never a live offer left on a record merged away meanwhile
    eligible = session.exec(
        select(Organization.id)
        .where(col(Organization.id) == supplier.id, organizations.eligible_expr())
        .with_for_update(read=True, of=Organization)
    ).first()
    if eligible is None:
        raise Conflict(
            "该供应商当前不能参加政府采购活动(未入库、已暂停或存在禁止参加记录),不能报价",
            code="supplier_not_eligible",
        )
    offer = Offer(
        id=new_id("ofr"),
        commodity_id=commodity.id,
        supplier_id=supplier.id,
        price=body.price,
        currency=body.currency,
        stock_status=body.stock_status.value,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    try:
        with session.begin_nested():
            session.add(offer)
    except IntegrityError as exc:
        existing = session.exec(
            select(Offer.id).where(
                col(Offer.commodity_id) == commodity.id,
                col(Offer.supplier_id) == supplier.id,
                col(Offer.withdrawn_at).is_(None),
            )
        ).first()
        raise Conflict(
            f"该供应商已有此商品的报价(编号 {existing}),请修改已有报价",
            code="already_offered",
            existing_id=existing,
        ) from exc
    organizations.record_event(
        session, commodity, "offer_added", actor, changes={"offer": [None, _snapshot(offer)]}
    )
    session.refresh(offer)
    return _out(offer, supplier.name)


def _supplier_name(session: Session, supplier_id: str) -> str | None:
    supplier = session.get(Organization, supplier_id)
    return supplier.name if supplier is not None else None


def _offer_for_update(
    session: Session, commodity_id: str, offer_id: str, actor: Principal
) -> tuple[Organization, Offer]:
    commodity = organizations.lock_visible(session, RecordKind.commodity, commodity_id, actor)
    offer = session.exec(
        select(Offer)
        .where(col(Offer.id) == offer_id, col(Offer.commodity_id) == commodity.id)
        .with_for_update()
    ).first()
    if offer is None:
        raise NotFound(f"报价 {offer_id} 不存在", code="offer_not_found")
    _supplier_acting(session, offer.supplier_id, actor)
    if offer.withdrawn_at is not None:
        raise Conflict("该报价已撤回", code="offer_withdrawn")
    return commodity, offer


def update_offer(
    session: Session, *, commodity_id: str, offer_id: str, body: OfferUpdate, actor: Principal
) -> OfferOut:
    commodity, offer = _offer_for_update(session, commodity_id, offer_id, actor)
    before = _snapshot(offer)
    fields = body.model_dump(exclude_unset=True)
    if "price" in fields and fields["price"] is not None:
        offer.price = fields["price"]
    if "stock_status" in fields and fields["stock_status"] is not None:
        offer.stock_status = StockStatus(fields["stock_status"]).value
    if "valid_to" in fields:
        if fields["valid_to"] is not None and fields["valid_to"] < offer.valid_from:
            raise Conflict("报价有效期止不能早于有效期起", code="invalid_period")
        offer.valid_to = fields["valid_to"]
    after = _snapshot(offer)
    if after != before:
        session.add(offer)
        session.flush()
        organizations.record_event(
            session, commodity, "offer_updated", actor, changes={"offer": [before, after]}
        )
        session.refresh(offer)
    return _out(offer, _supplier_name(session, offer.supplier_id))


def withdraw_offer(
    session: Session, *, commodity_id: str, offer_id: str, actor: Principal
) -> OfferOut:
    commodity, offer = _offer_for_update(session, commodity_id, offer_id, actor)
    offer.withdrawn_at = datetime.now(UTC)
    session.add(offer)
    session.flush()
    organizations.record_event(
        session, commodity, "offer_withdrawn", actor, changes={"offer": [_snapshot(offer), None]}
    )
    session.refresh(offer)
    return _out(offer, _supplier_name(session, offer.supplier_id))


def list_offers(
    session: Session, *, commodity_id: str, actor: Principal, current_only: bool
) -> list[OfferOut]:
    row = organizations.get(session, kind=RecordKind.commodity, org_id=commodity_id, actor=actor)
    rows = session.exec(
        select(Offer, Organization.name)
        .join(Organization, col(Organization.id) == Offer.supplier_id)
        .where(col(Offer.commodity_id) == row.org.id)  # (a merged id: the survivor's)
        .order_by(col(Offer.price), col(Offer.id))
    ).all()
    offers = [_out(offer, name) for offer, name in rows]
    return [o for o in offers if o.current] if current_only else offers
