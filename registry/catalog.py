"""The procurement catalogue: validated, all-or-nothing imports of new editions, and tree reads."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from sqlmodel import Session, col, select

from models.catalog import (
    CatalogImportReport,
    CatalogItem,
    CatalogItemDetail,
    CatalogItemPublic,
    RowError,
)
from models.region import ReferenceDataLoad
from registry.codes import (
    catalog_category,
    catalog_level,
    catalog_parent,
    catalog_prefix,
    normalize_catalog_code,
)
from registry.errors import BadRequest, NotFound, Unprocessable
from registry.reference_files import read_table
from registry.validity import valid_at

DEFAULT_CATALOG_FILE = Path(__file__).resolve().parent / "data" / "catalog_2022.csv"
DATASET = "catalog"
HEADER_ALIASES = {
    "品目编码": "code",
    "编码": "code",
    "品目名称": "name",
    "名称": "name",
    "上级编码": "parent_code",
    "上级品目编码": "parent_code",
    "类别": "category",
    "品目类别": "category",
}
CATEGORY_ALIASES = {"货物": "goods", "工程": "works", "服务": "services"}
ImportMode = Literal["merge", "replace"]


def import_catalog(
    session: Session,
    *,
    data: bytes,
    filename: str,
    valid_from: date | None = None,
    mode: ImportMode = "merge",
    dry_run: bool = False,
) -> CatalogImportReport:
    """Validate every row; write nothing unless the whole file is valid.

    `merge` adds new codes and renames changed ones (the old name's version ends the day the new
    one starts); `replace` also retires current codes that the file no longer lists.
    """
    table = read_table(data, filename, HEADER_ALIASES)
    missing = [c for c in ("code", "name") if c not in table.header]
    if missing:
        raise Unprocessable(
            f"文件缺少必需的列:{', '.join(missing)}(表头应为 code,name,parent_code,category)",
            code="invalid_file",
        )
    valid_from = valid_from or table.meta_date("valid_from") or date.today()
    current = {
        item.code: item
        for item in session.exec(select(CatalogItem).where(col(CatalogItem.valid_to).is_(None)))
    }
    parsed, lines, errors = _validate_rows(table.rows, current)
    report = CatalogImportReport(accepted=False, rows=len(table.rows), errors=errors)
    history = _past_versions(session, [c for c in parsed if c not in current])
    for code, name in parsed.items():
        item = current.get(code)
        if item is None:
            report.created += 1
            overlapping = [
                v for v in history.get(code, []) if v.valid_to and v.valid_to > valid_from
            ]
            if overlapping:
                report.errors.append(
                    RowError(
                        row=lines[code],
                        field="valid_from",
                        message=f"{code} 的旧版本有效至 {overlapping[0].valid_to},重新启用的生效日期不能更早",
                    )
                )
        elif item.name != name:
            report.renamed += 1
            if valid_from <= item.valid_from:
                report.errors.append(
                    RowError(
                        row=lines[code],
                        field="valid_from",
                        message=f"{code} 的现行版本自 {item.valid_from} 生效,新版本的生效日期必须更晚",
                    )
                )
        else:
            report.unchanged += 1
    to_retire = [c for c in current if c not in parsed] if mode == "replace" else []
    for code in to_retire:
        if valid_from <= current[code].valid_from:
            report.errors.append(
                RowError(
                    row=None,
                    field="valid_from",
                    message=f"{code} 自 {current[code].valid_from} 生效,停用日期必须更晚",
                )
            )
        # A retired code must not leave current children behind.
        for child in (c for c in parsed if catalog_parent(c) == code):
            report.errors.append(
                RowError(
                    row=lines[child], field="parent_code", message=f"{child} 的上级 {code} 将被停用"
                )
            )
    report.retired = len(to_retire)
    if report.errors:
        report.errors.sort(key=lambda e: e.row or 0)
        return report
    if dry_run:
        return report

    for code in to_retire:
        _close(session, current[code], valid_from)
    for code in sorted(parsed, key=len):
        item = current.get(code)
        if item is not None and item.name == parsed[code]:
            continue
        if item is not None:
            _close(session, item, valid_from)
        session.add(
            CatalogItem(
                code=code,
                name=parsed[code],
                parent_code=catalog_parent(code),
                category=catalog_category(code).value,
                level=catalog_level(code),
                valid_from=valid_from,
            )
        )
    session.add(
        ReferenceDataLoad(
            dataset=DATASET,
            as_of=valid_from,
            source=table.meta.get("source", filename)[:1000],
            checksum=table.checksum,
            rows=len(parsed),
        )
    )
    session.flush()
    report.accepted = True
    return report


def _close(session: Session, item: CatalogItem, on: date) -> None:
    item.valid_to = on
    session.add(item)
    session.flush()  # the partial unique index on current codes must see it before the new row


def _past_versions(session: Session, codes: list[str]) -> dict[str, list[CatalogItem]]:
    """Retired versions of codes the import would (re)create."""
    if not codes:
        return {}
    found: dict[str, list[CatalogItem]] = {}
    for item in session.exec(select(CatalogItem).where(col(CatalogItem.code).in_(codes))):
        found.setdefault(item.code, []).append(item)
    return found


def _validate_rows(
    rows: list[tuple[int, dict[str, str]]], current: dict[str, CatalogItem]
) -> tuple[dict[str, str], dict[str, int], list[RowError]]:
    errors: list[RowError] = []
    parsed: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, values in rows:
        raw_code = values.get("code", "")
        code = normalize_catalog_code(raw_code)
        if code is None:
            errors.append(
                RowError(
                    row=line,
                    field="code",
                    message=f"品目编码 {raw_code!r} 格式不正确(应如 A、A02000000 或 A0201)",
                )
            )
            continue
        name = values.get("name", "")
        if not name:
            errors.append(RowError(row=line, field="name", message="品目名称不能为空"))
        elif len(name) > 200:
            errors.append(RowError(row=line, field="name", message="品目名称不能超过 200 个字符"))
        if code in lines:
            errors.append(
                RowError(
                    row=line, field="code", message=f"品目编码 {code} 与第 {lines[code]} 行重复"
                )
            )
            continue
        raw_parent = values.get("parent_code", "")
        if raw_parent:
            parent = normalize_catalog_code(raw_parent)
            if parent != catalog_parent(code):
                errors.append(
                    RowError(
                        row=line,
                        field="parent_code",
                        message=f"上级编码 {raw_parent} 与品目编码 {code} 不符,应为 {catalog_parent(code)}",
                    )
                )
        category = values.get("category", "")
        category = CATEGORY_ALIASES.get(category, category)
        if category and category != catalog_category(code).value:
            errors.append(
                RowError(
                    row=line,
                    field="category",
                    message=f"类别 {values.get('category')} 与编码首字母 {code[0]} 不符",
                )
            )
        lines[code] = line
        parsed[code] = name
    for code, line in lines.items():
        parent = catalog_parent(code)
        if parent is not None and parent not in parsed and parent not in current:
            errors.append(
                RowError(
                    row=line,
                    field="parent_code",
                    message=f"上级品目 {parent} 既不在文件中,也不在现行目录中",
                )
            )
    return parsed, lines, errors


# --- queries ----------------------------------------------------------------------------------


def parse_code(value: str) -> str:
    code = normalize_catalog_code(value)
    if code is None:
        raise BadRequest(
            f"品目编码 {value!r} 格式不正确(应如 A、A02000000 或 A0201)",
            code="invalid_catalog_code",
        )
    return code


def get_item(session: Session, code: str, *, as_of: date | None = None) -> CatalogItem:
    normalized = parse_code(code)
    item = session.exec(
        select(CatalogItem).where(CatalogItem.code == normalized, valid_at(CatalogItem, as_of))
    ).first()
    if item is None:
        raise NotFound(f"品目 {code} 不存在", code="catalog_item_not_found")
    return item


def to_public(item: CatalogItem) -> CatalogItemPublic:
    return CatalogItemPublic.model_validate(item, update={"prefix": catalog_prefix(item.code)})


def item_detail(session: Session, code: str, *, as_of: date | None = None) -> CatalogItemDetail:
    """An item with its ancestors (root first) and direct children, as valid at `as_of`."""
    item = get_item(session, code, as_of=as_of)
    return CatalogItemDetail.model_validate(
        to_public(item),
        update={
            "ancestors": [to_public(a) for a in ancestors(session, item, as_of=as_of)],
            "children": [
                to_public(c) for c in list_items(session, parent=item.code, as_of=as_of, limit=1000)
            ],
        },
    )


def ancestors(
    session: Session, item: CatalogItem, *, as_of: date | None = None
) -> list[CatalogItem]:
    codes = []
    parent = catalog_parent(item.code)
    while parent is not None:
        codes.append(parent)
        parent = catalog_parent(parent)
    if not codes:
        return []
    found = session.exec(
        select(CatalogItem).where(col(CatalogItem.code).in_(codes), valid_at(CatalogItem, as_of))
    ).all()
    return sorted(found, key=lambda i: i.level)


def list_items(
    session: Session,
    *,
    prefix: str | None = None,
    parent: str | None = None,
    name: str | None = None,
    category: str | None = None,
    level: int | None = None,
    as_of: date | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[CatalogItem]:
    """Items ordered by code. `prefix` selects a subtree (A02, A0201 or A02010000 alike)."""
    query = select(CatalogItem).where(valid_at(CatalogItem, as_of))
    if prefix:
        query = query.where(
            col(CatalogItem.code).startswith(catalog_prefix(parse_code(prefix)), autoescape=True)
        )
    if parent:
        query = query.where(CatalogItem.parent_code == parse_code(parent))
    if name:
        query = query.where(col(CatalogItem.name).contains(name, autoescape=True))
    if category:
        query = query.where(CatalogItem.category == category)
    if level is not None:
        query = query.where(CatalogItem.level == level)
    if after is not None:
        query = query.where(col(CatalogItem.code) > after)
    return list(session.exec(query.order_by(col(CatalogItem.code)).limit(limit)).all())
