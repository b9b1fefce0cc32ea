"""Accounts: creation, password and client-credential login with lockout, administration."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from auth.passwords import hash_password, needs_rehash, verify_password
from auth.policy import ROOT_REGION, Action, Target, may, visible_filter
from auth.principals import Principal, PrincipalKind
from models.account import Account, AccountCreate, AccountKind, EntityKind, StaffRole
from models.base import utcnow
from registry.codes import region_prefix
from registry.config import Settings
from registry.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from registry.regions import require_current_region


def principal_for(account: Account, *, scopes: frozenset[str] | None = None) -> Principal:
    kind = PrincipalKind(account.kind)
    return Principal(
        kind=kind,
        subject=str(account.id),
        name=account.display_name,
        region_code=account.region_code if kind is PrincipalKind.staff else None,
        role=StaffRole(account.role) if account.role else None,
        entity_kind=EntityKind(account.entity_kind) if account.entity_kind else None,
        entity_id=account.entity_id,
        scopes=scopes if scopes is not None else frozenset(account.scopes),
    )


def account_target(account: Account | AccountCreate) -> Target:
    """Staff accounts belong to their region; service and self-service ones to the root."""
    region = (
        account.region_code
        if account.kind == AccountKind.staff and account.region_code
        else ROOT_REGION
    )
    return Target(region_code=region)


def create_account(
    session: Session,
    *,
    data: AccountCreate,
    actor: Principal | None,
    account_id: uuid.UUID | None = None,
) -> Account:
    """`actor=None` is the operator at the command line (`registry account create`)."""
    if data.kind == AccountKind.staff:
        if data.region_code is None or data.role is None:
            raise Unprocessable(
                "工作人员账号必须指定所属地区和角色", code="staff_needs_region_and_role"
            )
        require_current_region(session, data.region_code)
    elif data.kind == AccountKind.self_service:
        if data.entity_kind is None:
            raise Unprocessable("自助账号必须指定主体类型", code="self_service_needs_entity")
        if actor is not None:
            raise Unprocessable(
                "自助账号由供应商、代理机构或专家自行注册产生", code="self_service_via_signup"
            )
    elif data.kind == AccountKind.service and not data.scopes:
        raise Unprocessable("系统账号至少需要一个授权范围", code="service_needs_scopes")
    if actor is not None and not may(actor, Action.manage, account_target(data)):
        raise Forbidden("只能在本级及下级地区创建账号;系统账号只能由自治区财政厅管理员创建")

    account = Account(
        id=account_id or uuid.uuid4(),
        username=data.username,
        display_name=data.display_name,
        kind=data.kind.value,
        password_hash=hash_password(data.password),
        region_code=data.region_code if data.kind == AccountKind.staff else None,
        role=data.role.value if data.kind == AccountKind.staff and data.role else None,
        entity_kind=data.entity_kind.value
        if data.kind == AccountKind.self_service and data.entity_kind
        else None,
        entity_id=data.entity_id if data.kind == AccountKind.self_service else None,
        scopes=[s.value for s in data.scopes] if data.kind == AccountKind.service else [],
    )
    try:
        with session.begin_nested():  # the unique index decides, so concurrent creations are safe
            session.add(account)
    except IntegrityError as exc:
        raise Conflict(f"登录名 {data.username} 已被使用", code="username_taken") from exc
    session.refresh(account)
    return account


def _find_for_login(session: Session, username: str) -> Account | None:
    return session.exec(
        select(Account).where(func.lower(Account.username) == username.lower()).with_for_update()
    ).first()


def _check_credentials(
    session: Session,
    *,
    account: Account | None,
    secret: str,
    settings: Settings,
    failure: Callable[..., Exception],
) -> Account:
    now = utcnow()
    if account is None:
        verify_password(None, secret)  # same cost as a real check
        raise failure()
    if account.locked_until is not None and account.locked_until > now:
        retry = int((account.locked_until - now).total_seconds()) + 1
        raise BadRequest(
            f"连续登录失败次数过多,账号已锁定,请 {retry // 60 + 1} 分钟后再试或联系管理员解锁",
            code="account_locked",
            title="账号已锁定",
            headers={"Retry-After": str(retry)},
            error="invalid_grant",
        )
    if not verify_password(account.password_hash, secret):
        account.failed_logins += 1
        if account.failed_logins >= settings.login_max_failures:
            account.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            account.failed_logins = 0
        session.add(account)
        session.flush()
        raise failure(keep_writes=True)
    if account.disabled:
        raise failure(detail="账号已停用,请联系管理员")
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(secret)
    session.add(account)
    session.flush()
    return account


def _invalid_grant(detail: str = "用户名或密码错误", **kw: Any) -> Exception:
    return BadRequest(detail, code="invalid_grant", title="登录失败", error="invalid_grant", **kw)


def _invalid_client(detail: str = "客户端标识或密钥错误", **kw: Any) -> Exception:
    return Unauthorized(
        detail,
        code="invalid_client",
        title="客户端认证失败",
        error="invalid_client",
        headers={"WWW-Authenticate": 'Basic realm="registry"'},
        **kw,
    )


def login_with_password(
    session: Session, *, username: str, password: str, settings: Settings
) -> Principal:
    account = _find_for_login(session, username)
    if account is not None and account.kind == AccountKind.service:
        account = None  # service clients use client_credentials
    account = _check_credentials(
        session, account=account, secret=password, settings=settings, failure=_invalid_grant
    )
    return principal_for(account)


def login_client(
    session: Session,
    *,
    client_id: str,
    client_secret: str,
    requested: set[str] | None,
    settings: Settings,
) -> Principal:
    account = _find_for_login(session, client_id)
    if account is not None and account.kind != AccountKind.service:
        account = None
    account = _check_credentials(
        session, account=account, secret=client_secret, settings=settings, failure=_invalid_client
    )
    granted = set(account.scopes)
    if requested is not None:
        if not requested <= granted:
            raise BadRequest(
                f"请求的范围超出授权:{' '.join(sorted(requested - granted))}",
                code="invalid_scope",
                error="invalid_scope",
            )
        granted = requested
    return principal_for(account, scopes=frozenset(granted))


# --- administration ---------------------------------------------------------------------------


def _account_region(actor: Principal) -> Any:
    """Policy filter for accounts: staff ones in the actor's subtree, the rest at the root."""
    region = case(
        (col(Account.kind) == AccountKind.staff.value, col(Account.region_code)), else_=ROOT_REGION
    )
    return visible_filter(actor, Action.manage, region_code=region)


def list_accounts(
    session: Session,
    *,
    actor: Principal,
    region_within: str | None = None,
    kind: AccountKind | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[Account]:
    query = select(Account).where(_account_region(actor))
    if region_within is not None:
        query = query.where(col(Account.region_code).startswith(region_prefix(region_within)))
    if kind is not None:
        query = query.where(Account.kind == kind.value)
    if after is not None:
        query = query.where(func.lower(Account.username) > after)
    return list(session.exec(query.order_by(func.lower(Account.username)).limit(limit)).all())


def get_account(session: Session, *, actor: Principal, account_id: str) -> Account:
    """Out-of-reach accounts are 404, not 403: their existence is not disclosed."""
    try:
        key = uuid.UUID(account_id)
    except ValueError:
        key = None
    account = (
        session.exec(select(Account).where(Account.id == key, _account_region(actor))).first()
        if key
        else None
    )
    if account is None:
        raise NotFound(f"账号 {account_id} 不存在", code="account_not_found")
    return account


def update_account(
    session: Session,
    *,
    actor: Principal,
    account_id: str,
    changes: dict[str, Any],
    check_version: Callable[[int], None],
) -> Account:
    account = get_account(session, actor=actor, account_id=account_id)
    check_version(account.version)
    if str(account.id) == actor.subject and ({"role", "disabled"} & changes.keys()):
        raise Forbidden("不能修改自己的角色或停用自己的账号", code="self_administration")
    if "role" in changes and account.kind != AccountKind.staff:
        raise Unprocessable("只有工作人员账号有角色", code="role_not_applicable")
    if "scopes" in changes and account.kind != AccountKind.service:
        raise Unprocessable("只有系统账号有授权范围", code="scopes_not_applicable")
    for key, value in changes.items():
        if key == "role" and value is not None:
            value = StaffRole(value).value
        if key == "scopes" and value is not None:
            value = [str(getattr(s, "value", s)) for s in value]
        if value is None:  # no account field can be cleared
            continue
        setattr(account, key, value)
    account.version += 1
    session.add(account)
    session.flush()
    session.refresh(account)
    return account


def unlock_account(session: Session, *, actor: Principal, account_id: str) -> Account:
    account = get_account(session, actor=actor, account_id=account_id)
    account.locked_until = None
    account.failed_logins = 0
    account.version += 1
    session.add(account)
    session.flush()
    session.refresh(account)
    return account


def change_own_password(session: Session, *, actor: Principal, current: str, new: str) -> None:
    try:
        account = session.get(Account, uuid.UUID(actor.subject))
    except ValueError:  # a token from an outside identity provider: no local password here
        account = None
    if account is None:
        raise NotFound("账号不存在", code="account_not_found")
    if not verify_password(account.password_hash, current):
        raise BadRequest("当前密码不正确", code="wrong_password")
    if current == new:
        raise Unprocessable("新密码不能与当前密码相同", code="password_unchanged")
    account.password_hash = hash_password(new)
    account.version += 1
    session.add(account)
    session.flush()
