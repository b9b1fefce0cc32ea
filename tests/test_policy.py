"""Property tests of the jurisdiction policy (`auth/policy.py`).

The oracle never looks at code prefixes: it walks an explicit parent map, so a prefix rule that
disagrees with the region tree shows up as a counterexample.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Boolean, Column, Integer, MetaData, Table, Text, select, text

from auth.policy import ROOT_REGION, WRITE_ACTIONS, Action, Target, may, visible_filter
from auth.principals import ANONYMOUS, Principal, PrincipalKind
from models.account import EntityKind, Scope, StaffRole
from registry.codes import region_in_subtree, region_prefix
from tests.conftest import self_service, service, staff

ALL_ACTIONS = list(Action)
ENTITY_IDS = ["E1", "E2", "91150100MA0N000001"]

# --- strategies -------------------------------------------------------------------------------

Tree = dict[str, str | None]  # code -> parent code (None for a province)

# small pools make sibling codes that share digits (01/10/11, 22/25) likely
_pair = st.one_of(st.sampled_from([1, 2, 10, 11, 20, 21, 22, 25, 29]), st.integers(1, 99))


@st.composite
def region_trees(draw: st.DrawFn) -> Tree:
    """A GB/T 2260-shaped forest: PP0000 → PPCC00 → PPCCDD, with an explicit parent map."""
    tree: Tree = {}
    provinces = draw(st.lists(st.integers(11, 65), min_size=1, max_size=3, unique=True))
    for pp in provinces:
        province = f"{pp:02d}0000"
        tree[province] = None
        for cc in draw(st.lists(_pair, max_size=4, unique=True)):
            prefecture = f"{pp:02d}{cc:02d}00"
            tree[prefecture] = province
            for dd in draw(st.lists(_pair, max_size=4, unique=True)):
                tree[f"{pp:02d}{cc:02d}{dd:02d}"] = prefecture
    return tree


def principals(
    tree: Tree, kinds: tuple[PrincipalKind, ...] = tuple(PrincipalKind)
) -> st.SearchStrategy[Principal]:
    by_kind = {
        PrincipalKind.staff: st.builds(
            staff, st.sampled_from(sorted(tree)), st.sampled_from(list(StaffRole))
        ),
        PrincipalKind.self_service: st.builds(
            self_service, st.sampled_from(list(EntityKind)), st.sampled_from(ENTITY_IDS)
        ),
        PrincipalKind.service: st.builds(
            lambda scopes: service(*sorted(scopes)),
            st.frozensets(st.sampled_from([s.value for s in Scope])),
        ),
        PrincipalKind.anonymous: st.just(ANONYMOUS),
    }
    return st.one_of(*(by_kind[k] for k in kinds))


def targets(tree: Tree, principal: Principal) -> st.SearchStrategy[Target]:
    own = (
        st.just((principal.entity_kind.value, principal.entity_id))
        if principal.entity_kind is not None
        else st.nothing()
    )
    other = st.tuples(
        st.one_of(st.none(), st.sampled_from([k.value for k in EntityKind])),
        st.one_of(st.none(), st.sampled_from(ENTITY_IDS)),
    )
    return st.builds(
        lambda region, entity, published: Target(region, entity[0], entity[1], published),
        st.sampled_from(sorted(tree)),
        st.one_of(own, other),
        st.booleans(),
    )


@dataclass(frozen=True)
class Case:
    tree: Tree
    principal: Principal
    targets: list[Target]


@st.composite
def cases(draw: st.DrawFn, kinds: tuple[PrincipalKind, ...] = tuple(PrincipalKind)) -> Case:
    tree = draw(region_trees())
    principal = draw(principals(tree, kinds))
    return Case(tree, principal, draw(st.lists(targets(tree, principal), min_size=1, max_size=12)))


# --- the oracle -------------------------------------------------------------------------------


def ancestors(tree: Tree, code: str) -> list[str]:
    out: list[str] = []
    node = tree[code]
    while node is not None:
        out.append(node)
        node = tree[node]
    return out


def below_or_equal(tree: Tree, code: str, root: str) -> bool:
    """`code` is `root` or lies below it, by walking the parent map (never by prefixes)."""
    return code == root or root in ancestors(tree, code)


def owns(principal: Principal, target: Target) -> bool:
    return (
        principal.kind is PrincipalKind.self_service
        and principal.entity_id is not None
        and target.entity_id == principal.entity_id
        and target.entity_kind == principal.entity_kind
    )


def staff_reaches(tree: Tree, principal: Principal, target: Target) -> bool:
    return (
        principal.kind is PrincipalKind.staff
        and principal.region_code is not None
        and below_or_equal(tree, target.region_code, principal.region_code)
    )


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(cases())
def test_no_write_outside_jurisdiction(case: Case) -> None:
    p = case.principal
    for t in case.targets:
        for a in WRITE_ACTIONS:
            if not may(p, a, t):
                continue
            match p.kind:
                case PrincipalKind.staff:
                    assert staff_reaches(case.tree, p, t), (p, a, t)
                    assert p.role is not StaffRole.viewer
                    if a is Action.manage:
                        assert p.role is StaffRole.admin
                case PrincipalKind.self_service:
                    assert a is Action.edit and owns(p, t), (p, a, t)
                case _:
                    pytest.fail(f"{p.kind} may {a} {t}")


@settings(max_examples=150, deadline=None)
@given(cases())
def test_restricted_data_only_for_those_entitled(case: Case) -> None:
    p = case.principal
    for t in case.targets:
        allowed = (
            staff_reaches(case.tree, p, t)
            or owns(p, t)
            or (p.has_scope(Scope.read_restricted) and t.published)
        )
        if may(p, Action.read_restricted, t):
            assert allowed, (p, t)
            assert not p.is_anonymous


@settings(max_examples=100, deadline=None)
@given(cases(kinds=(PrincipalKind.anonymous, PrincipalKind.service)))
def test_public_and_services_never_read_unpublished(case: Case) -> None:
    for t in case.targets:
        for action in ALL_ACTIONS:
            if not t.published:
                assert not may(case.principal, action, t), (case.principal, action, t)


@settings(max_examples=100, deadline=None)
@given(cases(kinds=(PrincipalKind.staff,)))
def test_in_reach_staff_get_their_role(case: Case) -> None:
    """The converse: staff are not refused inside their subtree (deny-by-default is not deny-all)."""
    p = case.principal
    for t in case.targets:
        if not staff_reaches(case.tree, p, t):
            continue
        assert may(p, Action.read, t)
        assert may(p, Action.read_restricted, t)
        for action in (Action.edit, Action.review, Action.sanction):
            assert may(p, action, t) == (p.role in (StaffRole.admin, StaffRole.reviewer))
        assert may(p, Action.manage, t) == (p.role is StaffRole.admin)


@settings(max_examples=100, deadline=None)
@given(cases(kinds=(PrincipalKind.staff,)))
def test_monotone_up_the_tree(case: Case) -> None:
    p = case.principal
    assert p.region_code is not None and p.role is not None
    uppers = [staff(above, p.role) for above in ancestors(case.tree, p.region_code)]
    for t in case.targets:
        for action in ALL_ACTIONS:
            if may(p, action, t):
                for upper in uppers:
                    assert may(upper, action, t), (upper, p, action, t)


# --- the SQL twin -----------------------------------------------------------------------------

_rows = Table(
    "policy_rows",
    MetaData(),
    Column("id", Integer),
    Column("region_code", Text),
    Column("entity_kind", Text),
    Column("entity_id", Text),
    Column("published", Boolean),
)


@st.composite
def sql_cases(draw: st.DrawFn) -> tuple[Principal, list[Target]]:
    tree = draw(region_trees())
    principal = draw(principals(tree))
    rows = draw(st.lists(targets(tree, principal), min_size=1, max_size=25))
    return principal, rows


@pytest.fixture
def rows_table(connection):
    connection.execute(
        text(
            "CREATE TEMP TABLE policy_rows (id int, region_code text, entity_kind text,"
            " entity_id text, published bool) ON COMMIT DROP"
        )
    )
    return connection


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=100, deadline=None
)
@given(case=sql_cases())
def test_visible_filter_selects_exactly_what_may_allows(rows_table, case) -> None:
    conn = rows_table
    principal, batch = case
    conn.execute(_rows.delete())
    conn.execute(
        _rows.insert(),
        [
            {
                "id": i,
                "region_code": t.region_code,
                "entity_kind": t.entity_kind,
                "entity_id": t.entity_id,
                "published": t.published,
            }
            for i, t in enumerate(batch)
        ],
    )
    for action in ALL_ACTIONS:
        condition = visible_filter(
            principal,
            action,
            region_code=_rows.c.region_code,
            published=_rows.c.published,
            entity_kind=_rows.c.entity_kind,
            entity_id=_rows.c.entity_id,
        )
        selected = set(conn.execute(select(_rows.c.id).where(condition)).scalars())
        expected = {i for i, t in enumerate(batch) if may(principal, action, t)}
        assert selected == expected, (principal, action, batch)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None
)
@given(case=sql_cases(), kind=st.sampled_from([k.value for k in EntityKind]))
def test_visible_filter_with_a_constant_entity_kind(rows_table, case, kind) -> None:
    """Services filter one entity table at a time and pass its kind as a plain string."""
    conn = rows_table
    principal, batch = case
    conn.execute(_rows.delete())
    conn.execute(
        _rows.insert(),
        [
            {
                "id": i,
                "region_code": t.region_code,
                "entity_id": t.entity_id,
                "published": t.published,
            }
            for i, t in enumerate(batch)
        ],
    )
    for action in ALL_ACTIONS:
        condition = visible_filter(
            principal,
            action,
            region_code=_rows.c.region_code,
            published=_rows.c.published,
            entity_kind=kind,
            entity_id=_rows.c.entity_id,
        )
        selected = set(conn.execute(select(_rows.c.id).where(condition)).scalars())
        expected = {
            i
            for i, t in enumerate(batch)
            if may(principal, action, Target(t.region_code, kind, t.entity_id, t.published))
        }
        assert selected == expected, (principal, action, kind, batch)


# --- readable examples ------------------------------------------------------------------------


def test_city_reviewer_reviews_its_districts_only() -> None:
    reviewer = staff("150100", StaffRole.reviewer)
    assert may(reviewer, Action.review, Target("150102"))  # 新城区, 呼和浩特市
    assert may(reviewer, Action.review, Target("150100"))
    assert not may(reviewer, Action.review, Target("150200"))  # 包头市
    assert not may(reviewer, Action.review, Target("150202"))
    assert not may(reviewer, Action.review, Target("150000"))  # upward: never
    assert not may(reviewer, Action.manage, Target("150102"))  # reviewers do not manage


@pytest.mark.parametrize("code", ["150000", "150100", "150102", "150702", "152201", "152921"])
def test_region_admin_manages_all_of_inner_mongolia(code: str) -> None:
    assert may(staff(ROOT_REGION, StaffRole.admin), Action.manage, Target(code))


@pytest.mark.parametrize("code", ["110000", "110101", "140100", "160000", "210102"])
def test_region_admin_stops_at_the_border(code: str) -> None:
    admin = staff(ROOT_REGION, StaffRole.admin)
    for action in ALL_ACTIONS:
        assert not may(admin, action, Target(code)), action


def test_prefix_is_pairwise_not_textual() -> None:
    assert region_prefix("150100") == "1501"
    assert not "152201".startswith(region_prefix("150100"))
    assert not may(staff("150100"), Action.manage, Target("152201"))
    league = staff("152200")  # 兴安盟
    assert may(league, Action.manage, Target("152201"))  # 乌兰浩特市
    assert not may(league, Action.manage, Target("152500"))  # 锡林郭勒盟, a sibling league
    assert not may(league, Action.manage, Target("152502"))
    assert not may(league, Action.read_restricted, Target("152500", published=True))
    assert may(league, Action.read, Target("152500", published=True))  # public fields only


def test_viewer_and_outsiders_never_write() -> None:
    t = Target("150102", "supplier", "E1", published=True)
    for p in (
        staff("150000", StaffRole.viewer),
        service(*[s.value for s in Scope]),
        ANONYMOUS,
        self_service(EntityKind.supplier, "E2"),
    ):
        for action in WRITE_ACTIONS:
            assert not may(p, action, t), (p, action)
    me = self_service(EntityKind.supplier, "E1")
    assert may(me, Action.edit, t)
    assert may(me, Action.read_restricted, t)
    assert not may(me, Action.review, t)
    assert not may(self_service(EntityKind.agent, "E1"), Action.edit, t)  # same id, other kind


def test_seeded_region_tree_agrees_with_the_prefix_rule(connection) -> None:
    """The shipped GB/T 2260 tree: prefix jurisdiction == parent-chain jurisdiction."""
    tree: Tree = dict(connection.execute(text("SELECT code, parent_code FROM regions")).all())
    assert ROOT_REGION in tree and len(tree) > 100
    for root in tree:
        for code in tree:
            expected = below_or_equal(tree, code, root)
            assert region_in_subtree(code, root) == expected, (code, root)
            assert may(staff(root), Action.manage, Target(code)) == expected, (code, root)
