"""The jurisdiction policy: the one place that says what a principal may do to a record.

The rule is `reach(principal, action)`: the ways (`Grant`s) the principal reaches records.
Two questions are answered from it:
- `may(principal, action, target)`: may this principal do this to this record?
- `visible_filter(principal, action, ...)`: the SQL condition selecting exactly the records for
  which `may` is true, so lists are filtered in the database, never after the fact.

Plus the route gates (`RoutePolicy`): every route declares one (see `api/deps.py`), and a test
fails on any route without it. Deny by default: an action or principal kind not named here is refused.

Jurisdiction is a code-prefix test: a bureau at 150100 (prefix `1501`) manages 150100 and every
code starting with `1501`; the region bureau 150000 (prefix `15`) manages all of Inner Mongolia.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from auth.principals import Principal, PrincipalKind
from models.account import Scope, StaffRole
from registry.codes import region_in_subtree

ROOT_REGION = "150000"


class Action(StrEnum):
    read = "read"  # the record's public fields (and all non-restricted ones when in reach)
    read_restricted = "read_restricted"  # bank accounts, ID numbers, personal phones, unmasked
    edit = "edit"  # change the record's data (reviewed fields become change requests)
    review = "review"  # approve / return registrations and change requests
    sanction = "sanction"  # suspend, reinstate, debar, cancel, merge
    manage = "manage"  # reference data, bureau details, accounts of the subtree


WRITE_ACTIONS = frozenset({Action.edit, Action.review, Action.sanction, Action.manage})
_REVIEW_ROLES = frozenset({StaffRole.admin, StaffRole.reviewer})


@dataclass(frozen=True, slots=True)
class Target:
    """What the policy needs to know about a record."""

    region_code: str  # jurisdiction: the region whose bureau manages the record
    entity_kind: str | None = None
    entity_id: str | None = None
    published: bool = False  # approved and visible to the public


class Grant(StrEnum):
    """One way a principal reaches records; `reach` gives the set, the record needs one."""

    subtree = "subtree"  # in the principal's jurisdiction (its region code prefix)
    published = "published"  # approved and public
    own = "own"  # the principal's own entity (self-service accounts)


_NOTHING: frozenset[Grant] = frozenset()


def reach(principal: Principal, action: Action) -> frozenset[Grant]:
    """The rule itself: which records `principal` may do `action` to. `may`, `visible_filter`
    and the search engine's `visible_query` only translate it."""
    match principal.kind:
        case PrincipalKind.staff if principal.is_staff:
            match action:
                case Action.read:
                    return frozenset({Grant.subtree, Grant.published})
                case Action.read_restricted:
                    return frozenset({Grant.subtree})
                case Action.edit | Action.review | Action.sanction:
                    return (
                        frozenset({Grant.subtree}) if principal.role in _REVIEW_ROLES else _NOTHING
                    )
                case Action.manage:
                    return (
                        frozenset({Grant.subtree})
                        if principal.role is StaffRole.admin
                        else _NOTHING
                    )
        case PrincipalKind.self_service:
            if action is Action.read:
                return frozenset({Grant.published, Grant.own})
            if action in (Action.read_restricted, Action.edit):
                return frozenset({Grant.own})
        case PrincipalKind.service:
            if action is Action.read and principal.has_scope(Scope.read):
                return frozenset({Grant.published})
            if action is Action.read_restricted and principal.has_scope(Scope.read_restricted):
                return frozenset({Grant.published})
        case PrincipalKind.anonymous:
            if action is Action.read:
                return frozenset({Grant.published})
    return _NOTHING


def may(principal: Principal, action: Action, target: Target) -> bool:
    grants = reach(principal, action)
    if Grant.subtree in grants:
        assert principal.region_code is not None
        if region_in_subtree(target.region_code, principal.region_code):
            return True
    if Grant.published in grants and target.published:
        return True
    return (
        Grant.own in grants
        and principal.entity_id is not None
        and target.entity_id == principal.entity_id
        and target.entity_kind == principal.entity_kind
    )


def visible_filter(
    principal: Principal,
    action: Action,
    *,
    region_code: Any,
    published: Any | None = None,
    entity_kind: Any | None = None,
    entity_id: Any | None = None,
) -> ColumnElement[bool]:
    """SQL twin of `may`: true exactly for the rows `may` allows (checked by a property test).

    The arguments are column expressions of the listed table (`entity_kind` may also be a
    constant when the table holds one kind only).
    """

    def in_subtree() -> ColumnElement[bool]:
        assert principal.jurisdiction_prefix is not None
        return region_code.startswith(principal.jurisdiction_prefix, autoescape=True)

    def is_published() -> ColumnElement[bool]:
        return published.is_(True) if published is not None else false()

    def owns() -> ColumnElement[bool]:
        if entity_id is None or principal.entity_id is None:
            return false()
        kind_match: ColumnElement[bool]
        if isinstance(entity_kind, str) or entity_kind is None:  # a table of one kind
            kind_match = true() if entity_kind == principal.entity_kind else false()
        else:
            kind_match = entity_kind == str(principal.entity_kind)
        return and_(entity_id == principal.entity_id, kind_match)

    conditions = {Grant.subtree: in_subtree, Grant.published: is_published, Grant.own: owns}
    grants = [conditions[g]() for g in Grant if g in reach(principal, action)]
    if not grants:
        return false()
    return grants[0] if len(grants) == 1 else or_(*grants)


# --- route gates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """Who may call a route at all. Record-level checks (`may`) come on top of it."""

    name: str
    description: str
    allows: Callable[[Principal], bool]


PUBLIC = RoutePolicy("public", "任何人(含匿名公众)", lambda p: True)
AUTHENTICATED = RoutePolicy("authenticated", "任何已登录的主体", lambda p: not p.is_anonymous)
STAFF = RoutePolicy("staff", "财政部门工作人员", lambda p: p.is_staff)
STAFF_ADMIN = RoutePolicy(
    "staff_admin", "财政部门管理员", lambda p: p.is_staff and p.role is StaffRole.admin
)
ROOT_ADMIN = RoutePolicy(
    "root_admin",
    "自治区财政厅管理员",
    lambda p: p.is_staff and p.role is StaffRole.admin and p.region_code == ROOT_REGION,
)
CHANGE_FEED_READER = RoutePolicy(
    "change_feed_reader",
    "财政部门工作人员或持有 changes.read 授权的业务系统",
    lambda p: p.is_staff or p.has_scope(Scope.changes_read),
)
