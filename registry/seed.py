"""Reference data and demo accounts for `registry seed` and `registry serve --demo`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from models.account import Account, AccountCreate, AccountKind, Scope, StaffRole
from models.catalog import CatalogImportReport
from models.region import ReferenceDataLoad
from registry import accounts, catalog, regions, specialties
from registry.errors import Unprocessable


@dataclass
class SeedReport:
    regions: regions.RegionLoadReport | None
    catalog: CatalogImportReport | None


def _loaded(session: Session, dataset: str) -> bool:
    count = session.exec(
        select(func.count())
        .select_from(ReferenceDataLoad)
        .where(ReferenceDataLoad.dataset == dataset)
    ).one()
    return count > 0


def seed_reference_data(
    session: Session,
    *,
    region_file: Path | None = None,
    catalog_file: Path | None = None,
    only_if_empty: bool = False,
) -> SeedReport:
    """Load the region tree and the catalogue. With `only_if_empty`, skip what is already there."""
    region_report = None
    if not (only_if_empty and _loaded(session, regions.DATASET)):
        region_report = regions.load_region_file(
            session, region_file or regions.DEFAULT_REGION_FILE
        )
    catalog_report = None
    if not (only_if_empty and _loaded(session, catalog.DATASET)):
        path = catalog_file or catalog.DEFAULT_CATALOG_FILE
        catalog_report = catalog.import_catalog(session, data=path.read_bytes(), filename=path.name)
        if catalog_report.errors:
            raise Unprocessable(
                f"目录文件 {path.name} 有错误",
                code="invalid_rows",
                errors=[e.model_dump() for e in catalog_report.errors],
            )
    specialties.load_specialties(session)
    return SeedReport(region_report, catalog_report)


# username, display name, kind, region, role, scopes
DEMO_ACCOUNTS: list[tuple[str, str, AccountKind, str | None, StaffRole | None, list[Scope]]] = [
    ("admin", "自治区财政厅管理员", AccountKind.staff, "150000", StaffRole.admin, []),
    ("nmg.reviewer", "自治区财政厅审核员", AccountKind.staff, "150000", StaffRole.reviewer, []),
    ("hohhot.admin", "呼和浩特市财政局管理员", AccountKind.staff, "150100", StaffRole.admin, []),
    (
        "hohhot.reviewer",
        "呼和浩特市财政局审核员",
        AccountKind.staff,
        "150100",
        StaffRole.reviewer,
        [],
    ),
    (
        "xincheng.reviewer",
        "新城区财政局审核员",
        AccountKind.staff,
        "150102",
        StaffRole.reviewer,
        [],
    ),
    ("xincheng.viewer", "新城区财政局查询员", AccountKind.staff, "150102", StaffRole.viewer, []),
    ("baotou.reviewer", "包头市财政局审核员", AccountKind.staff, "150200", StaffRole.reviewer, []),
    ("emall", "电子卖场(系统)", AccountKind.service, None, None, [Scope.read, Scope.changes_read]),
    (
        "expert-draw",
        "专家抽取系统(系统)",
        AccountKind.service,
        None,
        None,
        [Scope.read, Scope.read_restricted],
    ),
]


def seed_demo_accounts(session: Session, credentials_file: Path) -> dict[str, str]:
    """Create the demo accounts that do not exist yet, with random passwords kept in a 0600 file.

    Returns every demo username with its password as recorded in the file.
    """
    known: dict[str, str] = {}
    if credentials_file.exists():
        for line in credentials_file.read_text().splitlines():
            name, _, password = line.partition("\t")
            if password:
                known[name] = password
    existing = {a.lower() for a in session.exec(select(Account.username)).all()}
    for username, display, kind, region, role, scopes in DEMO_ACCOUNTS:
        if username.lower() in existing:
            continue
        password = secrets.token_urlsafe(12)
        accounts.create_account(
            session,
            data=AccountCreate(
                username=username,
                display_name=display,
                kind=kind,
                password=password,
                region_code=region,
                role=role,
                scopes=scopes,
            ),
            actor=None,
        )
        known[username] = password
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.touch(mode=0o600, exist_ok=True)
    credentials_file.chmod(0o600)
    credentials_file.write_text("".join(f"{u}\t{p}\n" for u, p in known.items()))
    session.flush()
    return known
