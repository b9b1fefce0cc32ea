"""Self-service sign-up: a supplier, an agent or an expert creates its account and its draft
record at once."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from auth.principals import Principal, PrincipalKind
from models.account import USERNAME_PATTERN, AccountCreate, AccountKind, EntityKind
from models.organization import RecordKind
from registry import accounts, organizations
from registry.ids import new_id
from registry.organizations import OrgRow

SELF_SERVICE_KINDS = frozenset({RecordKind.supplier, RecordKind.agent, RecordKind.expert})


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: RecordKind = Field(description="supplier 供应商、agent 代理机构 或 expert 评审专家")
    username: str = Field(pattern=USERNAME_PATTERN, description="登录名")
    password: str = Field(min_length=12, max_length=128, description="密码(至少 12 位)")
    display_name: str = Field(min_length=1, max_length=100, description="账号显示名(如经办人姓名)")
    organization: dict[str, Any] = Field(
        description="登记信息(单位或专家本人),字段同对应的登记接口"
    )


def sign_up(session: Any, *, body: SignupRequest) -> tuple[Principal, OrgRow]:
    """Both or neither: a duplicate code or a taken username rolls the whole sign-up back."""
    from registry.errors import Unprocessable

    if body.kind not in SELF_SERVICE_KINDS:
        raise Unprocessable(
            "自助注册只面向供应商、代理机构和评审专家;采购人与商品由财政部门登记",
            code="signup_kind",
        )
    account_id = uuid.uuid4()
    org_id = new_id(organizations.ID_PREFIX[body.kind])
    principal = Principal(
        kind=PrincipalKind.self_service,
        subject=str(account_id),
        name=body.display_name,
        entity_kind=EntityKind(body.kind.value),
        entity_id=org_id,
    )
    row = organizations.register(
        session,
        kind=body.kind,
        payload=body.organization,
        actor=principal,
        owner_account_id=str(account_id),
        org_id=org_id,
    )
    accounts.create_account(
        session,
        data=AccountCreate(
            username=body.username,
            display_name=body.display_name,
            kind=AccountKind.self_service,
            password=body.password,
            entity_kind=EntityKind(body.kind.value),
            entity_id=org_id,
        ),
        actor=None,
        account_id=account_id,
    )
    return principal, row
