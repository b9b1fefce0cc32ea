"""The lifecycle of registered records: which transition goes from where to where, who may make
it (a policy action), and whether a reason is required, per kind. The one place for these rules.

Organizations (purchasers, agents, suppliers):
    draft ─submit→ submitted ─approve→ active ─suspend→ suspended ─reinstate→ active
               ↖─submit── returned ←return─┘        active/suspended/draft/returned ─cancel→ cancelled
Experts add the end of the term and dismissal (解聘):
    active/suspended ─expire→ expired ─reappoint→ active      (expire: the scheduled check)
    active/suspended/expired ─dismiss→ dismissed               draft/returned ─cancel→ cancelled
Commodities are listed (active, 已上架) after review and can be delisted and relisted:
    active ─delist→ delisted ─relist→ active                   draft/returned/active/delisted ─cancel→ cancelled
"""

from __future__ import annotations

from dataclasses import dataclass

from auth.policy import Action
from models.organization import RecordKind, Status
from registry.errors import Conflict, Unprocessable


@dataclass(frozen=True)
class Transition:
    name: str
    label: str  # Chinese, for messages
    sources: frozenset[Status]
    target: Status
    action: Action
    reason_required: bool


_COMMON = {
    t.name: t
    for t in (
        Transition(
            "submit",
            "提交审核",
            frozenset({Status.draft, Status.returned}),
            Status.submitted,
            Action.edit,
            False,
        ),
        Transition(
            "approve",
            "审核通过",
            frozenset({Status.submitted}),
            Status.active,
            Action.review,
            False,
        ),
        Transition(
            "return",
            "退回修改",
            frozenset({Status.submitted}),
            Status.returned,
            Action.review,
            True,
        ),
    )
}


def _cancel(*sources: Status) -> Transition:
    return Transition("cancel", "注销", frozenset(sources), Status.cancelled, Action.sanction, True)


_SUSPEND = Transition(
    "suspend",
    "暂停",
    frozenset({Status.active}),
    Status.suspended,
    Action.sanction,
    True,
)
_REINSTATE = Transition(
    "reinstate", "恢复", frozenset({Status.suspended}), Status.active, Action.sanction, False
)

_ORGANIZATIONS = {
    **_COMMON,
    "suspend": _SUSPEND,
    "reinstate": _REINSTATE,
    "cancel": _cancel(Status.draft, Status.returned, Status.active, Status.suspended),
}
_EXPERTS = {
    **_COMMON,
    "suspend": _SUSPEND,
    "reinstate": _REINSTATE,
    # run by the scheduled check (`registry experts check`) or by a bureau
    "expire": Transition(
        "expire",
        "聘期届满",
        frozenset({Status.active, Status.suspended}),
        Status.expired,
        Action.sanction,
        False,
    ),
    # after the term was extended (an edit of `term`, reviewed)
    "reappoint": Transition(
        "reappoint", "续聘", frozenset({Status.expired}), Status.active, Action.review, False
    ),
    "dismiss": Transition(
        "dismiss",
        "解聘",
        frozenset({Status.active, Status.suspended, Status.expired}),
        Status.dismissed,
        Action.sanction,
        True,
    ),
    "cancel": _cancel(Status.draft, Status.returned),
}
_COMMODITIES = {
    **_COMMON,
    "delist": Transition(
        "delist", "下架", frozenset({Status.active}), Status.delisted, Action.sanction, True
    ),
    "relist": Transition(
        "relist", "重新上架", frozenset({Status.delisted}), Status.active, Action.review, False
    ),
    "cancel": _cancel(Status.draft, Status.returned, Status.active, Status.delisted),
}

TRANSITIONS_BY_KIND: dict[RecordKind, dict[str, Transition]] = {
    RecordKind.purchaser: _ORGANIZATIONS,
    RecordKind.agent: _ORGANIZATIONS,
    RecordKind.supplier: _ORGANIZATIONS,
    RecordKind.expert: _EXPERTS,
    RecordKind.commodity: _COMMODITIES,
}
TRANSITIONS = _ORGANIZATIONS  # the organizations' table (tests model it)

# Statuses whose data may be edited directly; in the others listed, reviewed fields go through a
# change request (an expired expert's new term, a delisted commodity's corrections); submitted,
# cancelled and dismissed records are frozen.
DIRECTLY_EDITABLE = frozenset({Status.draft, Status.returned})
EDITABLE_WITH_REVIEW = frozenset({Status.active, Status.suspended, Status.expired, Status.delisted})

STATUS_LABELS = {
    Status.draft: "草稿",
    Status.submitted: "待审核",
    Status.returned: "已退回",
    Status.active: "已入库",
    Status.suspended: "已暂停",
    Status.cancelled: "已注销",
    Status.expired: "聘期届满",
    Status.dismissed: "已解聘",
    Status.delisted: "已下架",
    Status.merged: "已合并",
}
_ACTIVE_LABELS = {RecordKind.expert: "在聘", RecordKind.commodity: "已上架"}


def status_label(status: Status, kind: RecordKind = RecordKind.supplier) -> str:
    if status is Status.active:
        return _ACTIVE_LABELS.get(kind, STATUS_LABELS[status])
    return STATUS_LABELS[status]


def transitions_for(kind: RecordKind) -> dict[str, Transition]:
    return TRANSITIONS_BY_KIND[kind]


def allowed_from(status: Status, kind: RecordKind = RecordKind.supplier) -> list[str]:
    return [t.name for t in TRANSITIONS_BY_KIND[kind].values() if status in t.sources]


def check(
    name: str, status: Status, reason: str | None, kind: RecordKind = RecordKind.supplier
) -> Transition:
    """The transition, or 409 naming the transitions allowed from `status`."""
    moves = TRANSITIONS_BY_KIND[kind]
    transition = moves[name]
    if status not in transition.sources:
        allowed = allowed_from(status, kind)
        raise Conflict(
            f"当前状态为“{status_label(status, kind)}”,不能{transition.label};"
            f"可进行的操作:{'、'.join(moves[a].label for a in allowed) or '无'}",
            code="invalid_transition",
            status_now=status.value,
            allowed=allowed,
            allowed_states=sorted({moves[a].target.value for a in allowed}),
        )
    if transition.reason_required and not (reason and reason.strip()):
        raise Unprocessable(
            f"{transition.label}需要填写理由",
            code="reason_required",
            errors=[{"field": "reason", "code": "missing", "message": "请填写理由"}],
        )
    return transition
