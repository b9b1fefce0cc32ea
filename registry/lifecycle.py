"""The lifecycle of registered entities: which transition goes from where to where, who may
make it (a policy action), and whether a reason is required. The one place for these rules.

    draft ─submit→ submitted ─approve→ active ─suspend→ suspended ─reinstate→ active
               ↖─submit── returned ←return─┘        active/suspended/draft/returned ─cancel→ cancelled
"""

from __future__ import annotations

from dataclasses import dataclass

from auth.policy import Action
from models.organization import Status
from registry.errors import Conflict, Unprocessable


@dataclass(frozen=True)
class Transition:
    name: str
    label: str  # Chinese, for messages
    sources: frozenset[Status]
    target: Status
    action: Action
    reason_required: bool


TRANSITIONS: dict[str, Transition] = {
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
        Transition(
            "suspend", "暂停", frozenset({Status.active}), Status.suspended, Action.sanction, True
        ),
        Transition(
            "reinstate",
            "恢复",
            frozenset({Status.suspended}),
            Status.active,
            Action.sanction,
            False,
        ),
        Transition(
            "cancel",
            "注销",
            frozenset({Status.draft, Status.returned, Status.active, Status.suspended}),
            Status.cancelled,
            Action.sanction,
            True,
        ),
    )
}

# Statuses whose data may be edited directly; on active/suspended records reviewed fields
# go through a change request, and submitted/cancelled ones are frozen.
DIRECTLY_EDITABLE = frozenset({Status.draft, Status.returned})
EDITABLE_WITH_REVIEW = frozenset({Status.active, Status.suspended})

STATUS_LABELS = {
    Status.draft: "草稿",
    Status.submitted: "待审核",
    Status.returned: "已退回",
    Status.active: "已入库",
    Status.suspended: "已暂停",
    Status.cancelled: "已注销",
}


def allowed_from(status: Status) -> list[str]:
    return [t.name for t in TRANSITIONS.values() if status in t.sources]


def check(name: str, status: Status, reason: str | None) -> Transition:
    """The transition, or 409 naming the transitions allowed from `status`."""
    transition = TRANSITIONS[name]
    if status not in transition.sources:
        allowed = allowed_from(status)
        raise Conflict(
            f"当前状态为“{STATUS_LABELS[status]}”,不能{transition.label};"
            f"可进行的操作:{'、'.join(TRANSITIONS[a].label for a in allowed) or '无'}",
            code="invalid_transition",
            status_now=status.value,
            allowed=allowed,
            allowed_states=sorted({TRANSITIONS[a].target.value for a in allowed}),
        )
    if transition.reason_required and not (reason and reason.strip()):
        raise Unprocessable(
            f"{transition.label}需要填写理由",
            code="reason_required",
            errors=[{"field": "reason", "code": "missing", "message": "请填写理由"}],
        )
    return transition
