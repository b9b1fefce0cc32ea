"""A stateful property test of one supplier's lifecycle and change requests.

Hypothesis drives the real service functions of `registry/organizations.py` on the test's database
session — transitions, direct edits, edits that become change requests, decisions on change
requests — each step as a randomly chosen caller, and checks every outcome against a small
in-memory model: which error family (or success), the status, the version, the data in force,
the pending change request, the event log and who may see the record.

Precedence of errors, as the services check them (the model follows it):
- transitions: not visible → NotFound; not permitted → Forbidden; wrong state → Conflict;
  reason missing → Unprocessable; `until` misplaced or in the past → Unprocessable.
- edits: not visible → NotFound; not permitted → Forbidden; stale version → PreconditionFailed;
  submitted/cancelled → Conflict; invalid data → Unprocessable.
- change-request decisions: not visible → NotFound; unknown request → NotFound; not permitted →
  Forbidden; closed request → Conflict; reject without reason → Unprocessable.
A caller without permission learns nothing about the record's state: 403 comes before 409/422.

Every event moves the version (the ETag), change-request events included: version == number of
events in the log, always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import Session, col, select

from api.deps import version_check
from auth.principals import ANONYMOUS, Principal
from models.account import EntityKind, StaffRole
from models.change_request import ChangeRequest
from models.organization import Organization, RecordKind, Status
from registry import events, organizations
from registry.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    RegistryError,
    Unprocessable,
)
from registry.lifecycle import TRANSITIONS, allowed_from
from tests import orgdata
from tests.conftest import self_service, service, staff

SUPPLIER = RecordKind.supplier
COUNTY = staff("150102", StaffRole.reviewer)  # 新城区: manages the record
LEAGUE = staff("150100", StaffRole.reviewer)  # 呼和浩特市: the county's parent
SIBLING = staff("150103", StaffRole.reviewer)  # 回民区: a sibling county
VIEWER = staff("150102", StaffRole.viewer)
SERVICE = service("registry.read")

# the managing reviewer is drawn twice as often, so that records get far enough to be approved
ACTORS = ["county", "county", "league", "self", "sibling", "viewer", "anonymous", "service"]
REVIEWERS = frozenset({"county", "league"})
IN_REACH = frozenset({"county", "league", "viewer", "self"})  # see unpublished records too

REASONS = [None, "", "   ", "材料不全", "  营业执照已过期  "]
UNTIL = ["none", "none", "none", "future", "past"]

# raw contacts → how they are stored (None: invalid)
CONTACTS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]] | None]] = {
    "li": (
        [{"name": "李娜", "phone": "0471-6600123"}],
        [{"name": "李娜", "phone": "0471-6600123", "email": None, "role": None}],
    ),
    "wang_full_width": (
        [{"name": "王芳", "phone": "１３９００００００００", "role": "经理"}],
        [{"name": "王芳", "phone": "13900000000", "email": None, "role": "经理"}],
    ),
    "none": ([], []),
    "two": (
        [{"name": "李娜", "phone": "0471-6600123"}, {"name": "赵敏", "email": "zhao@example.cn"}],
        [
            {"name": "李娜", "phone": "0471-6600123", "email": None, "role": None},
            {"name": "赵敏", "phone": None, "email": "zhao@example.cn", "role": None},
        ],
    ),
    "bad_phone": ([{"name": "王芳", "phone": "12345"}], None),
}
NEW_NAME = "内蒙古新名称科技有限公司"
NAMES = ["new", "original", "original_spaced", "full_width", "too_short"]
# where an example starts, and the transitions that lead there
STARTS = {
    "draft": [],
    "active": ["submit", "approve"],
    "submitted": ["submit"],
    "returned": ["submit", "return"],
    "suspended": ["submit", "approve", "suspend"],
}


@dataclass
class Model:
    org_id: str
    original_name: str
    name: str
    contacts: list[dict[str, Any]]
    status: Status = Status.draft
    version: int = 1
    published: bool = False  # approved at least once: public from then on
    status_reason: str | None = None
    suspended_until: date | None = None
    pending: dict[str, Any] | None = None  # the reviewed changes waiting for a decision
    event_types: list[str] = field(default_factory=lambda: ["created"])
    closed_requests: list[str] = field(default_factory=list)
    frozen: tuple[Any, ...] | None = None  # (snapshot, event count) once cancelled

    def record(self, event_type: str) -> None:
        """Every event moves the version (the ETag), change-request events included."""
        self.event_types.append(event_type)
        self.version += 1

    def visible(self, actor: str) -> bool:
        return actor in IN_REACH or self.published

    @staticmethod
    def may(actor: str, action: str) -> bool:
        if actor in REVIEWERS:
            return True
        return actor == "self" and action == "edit"

    def raw_name(self, key: str) -> str:
        return {
            "original": self.original_name,
            "original_spaced": "  " + self.original_name + " ",
            "new": NEW_NAME,
            "full_width": "内蒙古ＡＢ科技有限公司",
            "too_short": "x",
        }[key]

    def stored_name(self, key: str) -> str | None:
        return {
            "original": self.original_name,
            "original_spaced": self.original_name,
            "new": NEW_NAME,
            "full_width": "内蒙古AB科技有限公司",
            "too_short": None,
        }[key]


class LifecycleMachine(RuleBasedStateMachine):
    session: ClassVar[Session]  # set by the test

    def __init__(self) -> None:
        super().__init__()
        # each example runs in its own savepoint, rolled back in teardown
        self.savepoint = self.session.begin_nested()
        row = organizations.register(
            self.session, kind=SUPPLIER, payload=orgdata.supplier(), actor=COUNTY
        )
        org = row.org
        self.model = Model(
            org_id=org.id,
            original_name=org.name,
            name=org.name,
            contacts=CONTACTS["li"][1] or [],
        )
        self.principals: dict[str, Principal] = {
            "county": COUNTY,
            "league": LEAGUE,
            "sibling": SIBLING,
            "viewer": VIEWER,
            "self": self_service(EntityKind.supplier, org.id),
            "anonymous": ANONYMOUS,
            "service": SERVICE,
        }

    def teardown(self) -> None:
        if self.savepoint.is_active:
            self.savepoint.rollback()

    # --- helpers ------------------------------------------------------------------------------

    def _attempt(self, expected: type[RegistryError] | None, call: Any, what: str) -> bool:
        """Run one request's worth of work in a savepoint (rolled back on error, as the API
        does) and check the outcome family. True when it succeeded."""
        try:
            with self.session.begin_nested():
                call()
        except RegistryError as exc:
            assert type(exc) is expected, f"{what}: expected {expected}, got {exc!r} {exc.extra}"
            return False
        assert expected is None, f"{what}: expected {expected.__name__}, but it succeeded"
        return True

    def _pending_id(self) -> str | None:
        return self.session.exec(
            select(ChangeRequest.id).where(
                col(ChangeRequest.organization_id) == self.model.org_id,
                col(ChangeRequest.status) == "pending",
            )
        ).first()

    def _close_pending(self, request_id: str | None) -> None:
        assert request_id is not None
        self.model.pending = None
        self.model.closed_requests.append(request_id)

    @initialize(start=st.sampled_from(list(STARTS)))
    def start_from(self, start: str) -> None:
        """Half the examples begin from a later status, reached through the real transitions."""
        for name in STARTS[start]:
            self._transition(name, "county", "初始化", "none")
        assert self.model.status.value == start

    # --- transitions --------------------------------------------------------------------------

    @rule(
        name=st.sampled_from(list(TRANSITIONS)),
        actor=st.sampled_from(ACTORS),
        reason=st.sampled_from(REASONS),
        until=st.sampled_from(UNTIL),
    )
    def transition(self, name: str, actor: str, reason: str | None, until: str) -> None:
        """Any transition by anyone: mostly refusals."""
        self._transition(name, actor, reason, until)

    @precondition(lambda self: self.model.status is not Status.cancelled)
    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        """A transition allowed from the current status, mostly by someone who may make it, so
        that examples get past review to suspensions, cancellations and change requests."""
        name = data.draw(st.sampled_from(allowed_from(self.model.status)), label="name")
        actor = data.draw(st.sampled_from(["county", "league", "self"]), label="actor")
        reason = data.draw(
            st.sampled_from(["材料不全", None, "  营业执照已过期  "]), label="reason"
        )
        until = "none"
        if name == "suspend":
            until = data.draw(st.sampled_from(["none", "future"]), label="until")
        self._transition(name, actor, reason, until)

    def _transition(self, name: str, actor: str, reason: str | None, until: str) -> None:
        m = self.model
        move = TRANSITIONS[name]
        until_date = {
            "none": None,
            "future": date.today() + timedelta(days=30),
            "past": date.today() - timedelta(days=1),
        }[until]
        expected: type[RegistryError] | None = None
        if not m.visible(actor):
            expected = NotFound
        elif not m.may(actor, move.action.value):
            expected = Forbidden
        elif m.status not in move.sources:
            expected = Conflict
        elif move.reason_required and not (reason and reason.strip()):
            expected = Unprocessable
        elif until_date is not None and (name != "suspend" or until == "past"):
            expected = Unprocessable
        pending_before = self._pending_id()
        ok = self._attempt(
            expected,
            lambda: organizations.transition(
                self.session,
                kind=SUPPLIER,
                org_id=m.org_id,
                name=name,
                actor=self.principals[actor],
                reason=reason,
                until=until_date,
            ),
            f"{name} by {actor} from {m.status}",
        )
        if not ok:
            return
        m.status = move.target
        m.status_reason = reason.strip() if reason and reason.strip() else None
        m.suspended_until = until_date if name == "suspend" else None
        m.published = m.published or name == "approve"
        m.record(name)
        if move.target is Status.cancelled and m.pending is not None:
            self._close_pending(pending_before)  # withdrawn with the record, no event of its own

    # --- edits --------------------------------------------------------------------------------

    def _edit(
        self, actor: str, name_key: str | None, contacts_key: str | None, stale: bool
    ) -> None:
        m = self.model
        patch: dict[str, Any] = {}
        new_name = new_contacts = None
        valid = True
        if name_key is not None:
            patch["name"] = m.raw_name(name_key)
            new_name = m.stored_name(name_key)
            valid = valid and new_name is not None
        if contacts_key is not None:
            patch["contacts"], new_contacts = CONTACTS[contacts_key]
            valid = valid and new_contacts is not None

        expected: type[RegistryError] | None = None
        if not m.visible(actor):
            expected = NotFound
        elif not m.may(actor, "edit"):
            expected = Forbidden
        elif stale:
            expected = PreconditionFailed
        elif m.status in (Status.submitted, Status.cancelled):
            expected = Conflict
        elif not valid:
            expected = Unprocessable
        pending_before = self._pending_id()
        ok = self._attempt(
            expected,
            lambda: organizations.edit(
                self.session,
                kind=SUPPLIER,
                org_id=m.org_id,
                patch=patch,
                actor=self.principals[actor],
                check_version=version_check(f'"{m.version + 1 if stale else m.version}"'),
            ),
            f"edit {patch} by {actor} in {m.status}",
        )
        if not ok:
            return
        contacts_change = new_contacts is not None and new_contacts != m.contacts
        if m.status in (Status.draft, Status.returned):  # edited directly
            name_change = new_name is not None and new_name != m.name
            if name_change or contacts_change:
                m.name = new_name if name_change and new_name else m.name
                m.contacts = (
                    new_contacts if new_contacts is not None and contacts_change else m.contacts
                )
                m.record("updated")
            return
        # active or suspended: contacts change at once, the name waits for review
        if contacts_change:
            m.contacts = new_contacts or []
            m.record("updated")
        proposed = new_name if new_name is not None else (m.pending or {}).get("name", m.name)
        reviewed = {"name": proposed} if proposed != m.name else {}
        if m.pending is None:
            if reviewed:
                m.pending = reviewed
                m.record("change_requested")
        elif not reviewed:  # edited back to the version in force
            self._close_pending(pending_before)
            m.record("change_withdrawn")
        elif reviewed != m.pending:
            m.pending = reviewed
            m.record("change_requested")

    @rule(
        actor=st.sampled_from(ACTORS),
        contacts=st.sampled_from(list(CONTACTS)),
        stale=st.sampled_from([False, False, False, True]),
    )
    def edit_contacts(self, actor: str, contacts: str, stale: bool) -> None:
        self._edit(actor, None, contacts, stale)

    @rule(
        actor=st.sampled_from(ACTORS),
        name=st.sampled_from(NAMES),
        contacts=st.sampled_from([None, None, None, *CONTACTS]),
        stale=st.sampled_from([False, False, False, True]),
    )
    def edit_name(self, actor: str, name: str, contacts: str | None, stale: bool) -> None:
        self._edit(actor, name, contacts, stale)

    @precondition(lambda self: self.model.status in (Status.active, Status.suspended))
    @rule(
        actor=st.sampled_from(["county", "self", "league"]),
        name=st.sampled_from(["new", "full_width", "original_spaced"]),
        contacts=st.sampled_from([None, None, "wang_full_width", "li"]),
    )
    def request_change(self, actor: str, name: str, contacts: str | None) -> None:
        """An edit of an active or suspended record by someone who may edit it: the name
        becomes (or changes, or withdraws) the change request."""
        self._edit(actor, name, contacts, stale=False)

    # --- change-request decisions -------------------------------------------------------------

    def _decide(
        self,
        request_id: str,
        decision: str,
        actor: str,
        reason: str | None,
        expected: type[RegistryError] | None,
    ) -> bool:
        m = self.model
        return self._attempt(
            expected,
            lambda: organizations.decide_change_request(
                self.session,
                kind=SUPPLIER,
                org_id=m.org_id,
                request_id=request_id,
                decision=decision,
                actor=self.principals[actor],
                reason=reason,
            ),
            f"{decision} {request_id} by {actor} in {m.status}",
        )

    @precondition(lambda self: self.model.pending is not None)
    @rule(
        data=st.data(),
        decision=st.sampled_from(["approve", "reject", "withdraw"]),
        actor=st.sampled_from(["county", "league", "self"]),
        reason=st.sampled_from(["与营业执照一致", None]),
    )
    def review_change(
        self, data: st.DataObject, decision: str, actor: str, reason: str | None
    ) -> None:
        """The pending request decided mostly by someone who may decide it."""
        self.decide(data, decision, actor, reason, "pending")

    @rule(
        data=st.data(),
        decision=st.sampled_from(["approve", "reject", "withdraw"]),
        actor=st.sampled_from(ACTORS),
        reason=st.sampled_from(REASONS),
        which=st.sampled_from(["pending", "pending", "pending", "closed", "unknown"]),
    )
    def decide(
        self, data: st.DataObject, decision: str, actor: str, reason: str | None, which: str
    ) -> None:
        """Approve, reject or withdraw the pending change request (or, when there is none or
        when asked, a closed one or one that does not exist)."""
        m = self.model
        if which == "pending" and m.pending is None:
            which = "closed"
        if which == "closed" and not m.closed_requests:
            which = "unknown"
        expected: type[RegistryError] | None = None
        if which == "unknown":
            request_id = "chg_doesnotexist"
            expected = NotFound
        elif which == "closed":
            request_id = data.draw(st.sampled_from(m.closed_requests), label="closed request")
            if not m.visible(actor):
                expected = NotFound
            elif not m.may(actor, "edit" if decision == "withdraw" else "review"):
                expected = Forbidden
            else:
                expected = Conflict
        else:
            pending_id = self._pending_id()
            assert pending_id is not None, "the model expects a pending change request"
            request_id = pending_id
            if not m.visible(actor):
                expected = NotFound
            elif not m.may(actor, "edit" if decision == "withdraw" else "review"):
                expected = Forbidden
            elif decision == "reject" and not (reason and reason.strip()):
                expected = Unprocessable
        ok = self._attempt(
            expected,
            lambda: organizations.decide_change_request(
                self.session,
                kind=SUPPLIER,
                org_id=m.org_id,
                request_id=request_id,
                decision=decision,
                actor=self.principals[actor],
                reason=reason,
            ),
            f"{decision} {which} {request_id} by {actor} in {m.status}",
        )
        if not ok:
            return
        assert m.pending is not None
        if decision == "approve":
            m.name = m.pending["name"]
        m.record(
            {"approve": "change_approved", "reject": "change_rejected"}.get(
                decision, "change_withdrawn"
            )
        )
        self._close_pending(request_id)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        m = self.model
        self.session.expire_all()
        org = self.session.get(Organization, m.org_id)
        assert org is not None
        assert org.status == m.status.value
        assert org.version == m.version == len(m.event_types)  # one version per event
        assert org.name == org.data["name"] == m.name  # the approved name stays in force
        assert org.data["contacts"] == m.contacts
        assert org.status_reason == m.status_reason
        assert org.suspended_until == m.suspended_until
        assert (org.approved_at is not None) == m.published

        pending = self.session.exec(
            select(ChangeRequest).where(
                col(ChangeRequest.organization_id) == m.org_id,
                col(ChangeRequest.status) == "pending",
            )
        ).all()
        assert len(pending) <= 1
        assert (pending[0].changes if pending else None) == m.pending

        log = events.history(self.session, entity_kind=SUPPLIER.value, entity_id=m.org_id)
        assert [e.type for e in log] == m.event_types
        snapshot = {
            "status": m.status.value,
            "status_reason": m.status_reason,
            "suspended_until": m.suspended_until.isoformat() if m.suspended_until else None,
            "version": m.version,
            "approved": m.published,
            "data": org.data,
        }
        assert log[-1].snapshot == snapshot

        if m.status is Status.cancelled:  # a cancelled record never changes again
            state = (snapshot, len(log))
            if m.frozen is None:
                m.frozen = state
            assert state == m.frozen

    @invariant()
    def each_caller_sees_the_record_exactly_when_the_model_says(self) -> None:
        m = self.model
        for actor, principal in self.principals.items():
            try:
                row = organizations.get(
                    self.session, kind=SUPPLIER, org_id=m.org_id, actor=principal
                )
            except NotFound:
                assert not m.visible(actor), f"{actor} should see the {m.status} record"
                continue
            assert m.visible(actor), f"{actor} should not see the {m.status} record"
            assert row.org.version == m.version
            assert (row.pending_change_request is None) == (m.pending is None)


def test_lifecycle_and_change_requests_of_one_supplier(session: Session) -> None:
    class Machine(LifecycleMachine):
        pass

    Machine.session = session
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=50,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# --- the precedence of 403 (see the module docstring) ---------------------------------------


def _active_supplier(session: Session, *, with_closed_request: bool = False) -> tuple[str, str]:
    org_id = organizations.register(
        session, kind=SUPPLIER, payload=orgdata.supplier(), actor=COUNTY
    ).org.id
    for name in ("submit", "approve"):
        organizations.transition(session, kind=SUPPLIER, org_id=org_id, name=name, actor=COUNTY)
    request_id = ""
    if with_closed_request:
        row = organizations.edit(
            session,
            kind=SUPPLIER,
            org_id=org_id,
            patch={"name": NEW_NAME},
            actor=COUNTY,
            check_version=version_check('"3"'),
        )
        request_id = row.pending_change_request or ""
        organizations.decide_change_request(
            session,
            kind=SUPPLIER,
            org_id=org_id,
            request_id=request_id,
            decision="approve",
            actor=COUNTY,
            reason=None,
        )
    return org_id, request_id


@pytest.mark.parametrize(
    ("actor", "action"),
    [
        ("anonymous", "cancel without a reason"),
        ("sibling", "approve an active record"),
        ("viewer", "suspend without a reason"),
        ("anonymous", "approve a closed change request"),
    ],
)
def test_callers_without_permission_get_403_before_state_and_reason_checks(
    session: Session, actor: str, action: str
) -> None:
    principal = {"anonymous": ANONYMOUS, "sibling": SIBLING, "viewer": VIEWER}[actor]
    org_id, request_id = _active_supplier(session, with_closed_request="change" in action)
    with pytest.raises(RegistryError) as refused:
        if "change request" in action:
            organizations.decide_change_request(
                session,
                kind=SUPPLIER,
                org_id=org_id,
                request_id=request_id,
                decision="approve",
                actor=principal,
                reason=None,
            )
        else:
            organizations.transition(
                session, kind=SUPPLIER, org_id=org_id, name=action.split()[0], actor=principal
            )
    assert type(refused.value) is Forbidden, refused.value
