"""Regions and bureaus: loading GB/T 2260 editions, and tree queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import column, exists, func, literal, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from auth.policy import Action, Target, may
from auth.principals import Principal
from models.region import (
    Bureau,
    BureauPublic,
    ReferenceDataLoad,
    Region,
    RegionDetail,
    RegionLevel,
    RegionSummary,
)
from registry.codes import is_region_code, region_level, region_prefix
from registry.errors import BadRequest, Forbidden, NotFound, Unprocessable
from registry.reference_files import read_table
from registry.validity import valid_at

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_REGION_FILE = DATA_DIR / "regions_150000.csv"
DATASET = "regions"


@dataclass
class RegionLoadReport:
    as_of: date
    created: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    reinstated: list[str] = field(default_factory=list)
    bureaus_created: int = 0
    already_loaded: bool = False


def bureau_name(region: Region) -> str:
    if region.level == RegionLevel.province:
        return f"{region.name}财政厅"
    return f"{region.name}财政局"


def load_region_file(session: Session, path: Path = DEFAULT_REGION_FILE) -> RegionLoadReport:
    """Load an edition of the division codes as an update of what is there.

    New codes are added (valid from the edition's date), renamed ones keep their former names,
    codes missing from the edition are retired with `valid_to` (never deleted, so records that
    reference them stay valid), and every current region gets its bureau.
    """
    table = read_table(path.read_bytes(), path.name, aliases={"代码": "code", "名称": "name"})
    as_of = table.meta_date("as_of")
    if as_of is None:
        raise BadRequest("区划文件缺少 `# as_of: YYYY-MM-DD` 文件头", code="invalid_file")
    source = table.meta.get("source", path.name)
    rows = _validate_region_rows(table.rows)

    last = session.exec(
        select(ReferenceDataLoad)
        .where(ReferenceDataLoad.dataset == DATASET)
        .order_by(col(ReferenceDataLoad.as_of).desc(), col(ReferenceDataLoad.id).desc())
    ).first()
    report = RegionLoadReport(as_of=as_of)
    if last is not None and last.checksum == table.checksum:
        report.already_loaded = True
        return report
    if last is not None and as_of <= last.as_of:
        raise Unprocessable(
            f"该区划文件({as_of})不晚于已加载的版本({last.as_of}),不能覆盖较新的数据",
            code="stale_reference_data",
        )

    existing = {r.code: r for r in session.exec(select(Region)).all()}
    # parents first, so foreign keys hold at every flush
    for code, (name, parent) in sorted(rows.items(), key=lambda kv: len(region_prefix(kv[0]))):
        region = existing.get(code)
        if region is None:
            level = region_level(code).value
            session.add(
                Region(code=code, name=name, level=level, parent_code=parent, valid_from=as_of)
            )
            report.created.append(code)
            continue
        if region.valid_to is not None:
            region.valid_to = None
            report.reinstated.append(code)
        if region.name != name:
            region.former_names = [*region.former_names, region.name]
            region.name = name
            report.renamed.append(code)
        if region.parent_code != parent:
            region.parent_code = parent
            report.moved.append(code)
        session.add(region)
    for code, region in existing.items():
        if code not in rows and region.valid_to is None:
            region.valid_to = as_of if as_of > region.valid_from else region.valid_from
            report.retired.append(code)
            session.add(region)
    session.flush()

    have_bureau = set(session.exec(select(Bureau.region_code)).all())
    for region in session.exec(select(Region).where(col(Region.valid_to).is_(None))).all():
        if region.code not in have_bureau:
            session.add(Bureau(region_code=region.code, name=bureau_name(region)))
            report.bureaus_created += 1
    session.add(
        ReferenceDataLoad(
            dataset=DATASET, as_of=as_of, source=source, checksum=table.checksum, rows=len(rows)
        )
    )
    session.flush()
    return report


def _validate_region_rows(
    rows: list[tuple[int, dict[str, str]]],
) -> dict[str, tuple[str, str | None]]:
    errors: list[dict[str, object]] = []
    result: dict[str, tuple[str, str | None]] = {}
    for line, values in rows:
        code, name, parent = (
            values.get("code", ""),
            values.get("name", ""),
            values.get("parent_code") or None,
        )
        if not is_region_code(code):
            errors.append(
                {"row": line, "field": "code", "message": f"区划代码 {code!r} 应为 6 位数字"}
            )
            continue
        if not name:
            errors.append({"row": line, "field": "name", "message": "名称不能为空"})
        if code in result:
            errors.append({"row": line, "field": "code", "message": f"区划代码 {code} 重复"})
        if parent is not None and not (
            code != parent and code.startswith(region_prefix(parent)) and is_region_code(parent)
        ):
            errors.append(
                {"row": line, "field": "parent_code", "message": f"{parent} 不是 {code} 的上级"}
            )
        result[code] = (name, parent)
    for line, values in rows:
        parent = values.get("parent_code") or None
        if parent and parent not in result:
            errors.append(
                {"row": line, "field": "parent_code", "message": f"上级代码 {parent} 不在文件中"}
            )
    if errors:
        raise Unprocessable("区划文件有错误,未写入任何数据", code="invalid_rows", errors=errors)
    return result


# --- queries ----------------------------------------------------------------------------------


def get_region(session: Session, code: str) -> Region:
    region = session.get(Region, code) if is_region_code(code) else None
    if region is None:
        raise NotFound(f"地区 {code} 不存在", code="region_not_found")
    return region


def require_current_region(session: Session, code: str) -> Region:
    """A region that records may be attached to today (exists and is not retired)."""
    region = get_region(session, code)
    if region.valid_to is not None:
        raise Unprocessable(
            f"地区 {code}({region.name})已于 {region.valid_to} 停用", code="region_retired"
        )
    return region


def ancestors(session: Session, region: Region) -> list[Region]:
    """Root first. Walks parent links (a recursive CTE), not code arithmetic."""
    tree = (
        sa_select(Region.code, Region.parent_code, literal(0).label("depth"))  # type: ignore[call-overload]
        .where(Region.code == region.parent_code)
        .cte("up", recursive=True)
    )
    tree = tree.union_all(
        sa_select(Region.code, Region.parent_code, (tree.c.depth + 1).label("depth")).where(  # type: ignore[call-overload]
            Region.code == tree.c.parent_code
        )
    )
    found = session.exec(
        select(Region).join(tree, col(Region.code) == tree.c.code).order_by(tree.c.depth.desc())
    ).all()
    return list(found)


def children(session: Session, code: str, *, as_of: date | None = None) -> list[Region]:
    return list(
        session.exec(
            select(Region)
            .where(Region.parent_code == code, valid_at(Region, as_of))
            .order_by(col(Region.code))
        ).all()
    )


def list_regions(
    session: Session,
    *,
    parent: str | None = None,
    within: str | None = None,
    level: RegionLevel | None = None,
    name: str | None = None,
    as_of: date | None = None,
    include_retired: bool = False,
    after: str | None = None,
    limit: int = 50,
) -> list[Region]:
    """Regions ordered by code; `within` = the subtree of that code (itself included)."""
    query = select(Region)
    if not include_retired:
        query = query.where(valid_at(Region, as_of))
    if parent is not None:
        query = query.where(Region.parent_code == parent)
    if within is not None:
        query = query.where(col(Region.code).startswith(region_prefix(within), autoescape=True))
    if level is not None:
        query = query.where(Region.level == level.value)
    if name:
        query = query.where(
            or_(
                col(Region.name).contains(name, autoescape=True),
                exists(
                    sa_select(literal(1))
                    .select_from(
                        func.jsonb_array_elements_text(Region.former_names).alias("former")
                    )
                    .where(column("value").contains(name, autoescape=True))
                ),
            )
        )
    if after is not None:
        query = query.where(col(Region.code) > after)
    return list(session.exec(query.order_by(col(Region.code)).limit(limit)).all())


def region_detail(session: Session, code: str, *, as_of: date | None = None) -> RegionDetail:
    """A region with its ancestors (root first), its children valid at `as_of`, and its bureau."""
    region = get_region(session, code)
    bureau = session.get(Bureau, code)
    return RegionDetail.model_validate(
        region,
        update={
            "ancestors": [RegionSummary.model_validate(a) for a in ancestors(session, region)],
            "children": [
                RegionSummary.model_validate(c) for c in children(session, code, as_of=as_of)
            ],
            "bureau": BureauPublic.model_validate(bureau) if bureau else None,
        },
    )


def get_bureau(session: Session, code: str) -> Bureau:
    bureau = session.get(Bureau, code) if is_region_code(code) else None
    if bureau is None:
        raise NotFound(f"地区 {code} 没有财政部门记录", code="bureau_not_found")
    return bureau


def update_bureau(
    session: Session,
    *,
    actor: Principal,
    code: str,
    changes: dict[str, object],
    check_version: Callable[[int], None],
) -> Bureau:
    """Bureau details are managed by admins of that region or above."""
    bureau = get_bureau(session, code)
    if not may(actor, Action.manage, Target(region_code=code, published=True)):
        raise Forbidden(f"无权修改 {bureau.name} 的信息:不在您的管辖范围内")
    check_version(bureau.version)
    for key, value in changes.items():
        setattr(bureau, key, value)
    bureau.version += 1
    session.add(bureau)
    session.flush()
    session.refresh(bureau)
    return bureau
