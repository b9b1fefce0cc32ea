"""The `registry` command: serve, migrate, seed, import, accounts and keys."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from models.account import AccountCreate, AccountKind, EntityKind, Scope, StaffRole
from models.organization import EnterpriseSize, Status
from registry import crypto, migrate
from registry.config import Settings, get_settings
from registry.db import check_server_version, make_engine, session_scope
from registry.embedded import EmbeddedPostgres
from registry.errors import RegistryError
from registry.transfer import KindName

app = typer.Typer(
    help="政府采购基础数据注册中心 — procurement master-data registry.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
account_app = typer.Typer(
    help="Accounts: the first administrator, staff, service clients.", no_args_is_help=True
)
catalog_app = typer.Typer(help="The procurement catalogue.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Token signing keys and the keys of personal data at rest.", no_args_is_help=True
)
experts_app = typer.Typer(help="Evaluation experts.", no_args_is_help=True)
dedup_app = typer.Typer(
    help="Near-duplicates: batch scans into the review queue.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(account_app, name="account")
app.add_typer(catalog_app, name="catalog")
app.add_typer(keys_app, name="keys")
app.add_typer(experts_app, name="experts")
app.add_typer(dedup_app, name="dedup")

console = Console(stderr=True)


@contextmanager
def database(settings: Settings) -> Iterator[Engine]:
    """The configured PostgreSQL, or the embedded one (started here, stopped on exit if ours)."""
    # experts' personal data at rest
    crypto.configure(crypto.load_cipher(settings), reload=lambda: crypto.load_cipher(settings))
    embedded: EmbeddedPostgres | None = None
    url = settings.database_url
    if not url:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start()
        console.print(f"[dim]embedded PostgreSQL in {embedded.pgdata}[/dim]")
    engine = make_engine(
        url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    try:
        check_server_version(engine)
        yield engine
    finally:
        engine.dispose()
        if embedded is not None:
            embedded.stop()


def _fail(exc: RegistryError) -> None:
    console.print(f"[red]{exc.title}:{exc.detail}[/red]")
    for error in exc.errors or []:
        console.print(
            f"  第 {error.get('row', '?')} 行 {error.get('field') or ''}:{error.get('message')}"
        )
    raise typer.Exit(code=1)


# --- serve ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Listen address (default: HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT or 8000).")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Create demo accounts (passwords in the data dir) and, in an empty registry, 300 demo organizations, 60 experts and 60 commodities.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="WEB_CONCURRENCY",
            help="Worker processes (one per core is a good start); each has its own pool of DB_POOL_SIZE connections.",
        ),
    ] = 1,
) -> None:
    """Migrate the database, load reference data if missing, and serve the API."""
    import uvicorn

    from api.app import build_key_ring, create_app
    from registry import demo as demo_data
    from registry.logging import configure_logging
    from registry.seed import seed_demo_accounts, seed_reference_data

    settings = get_settings()
    configure_logging(settings.log_level)
    with database(settings) as engine:
        migrate.upgrade(engine)
        with session_scope(engine) as session:
            seed_reference_data(session, only_if_empty=True)
            if demo:
                credentials = settings.data_dir / "demo-credentials.tsv"
                known = seed_demo_accounts(session, credentials)
                _print_demo_accounts(known, credentials)
                if not demo_data.organizations_present(session):
                    report = demo_data.seed_demo_with_progress(
                        session, count=demo_data.SERVE_DEMO_COUNT, console=console
                    )
                    console.print(report.summary())
        listen_host, listen_port = host or settings.host, port or settings.port
        console.print(f"[green]serving on http://{listen_host}:{listen_port}/docs[/green]")
        # uvicorn re-raises SIGTERM after its graceful shutdown; make that an exception so the
        # `with database(...)` block still stops the embedded server cleanly.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        if workers == 1:
            application = create_app(settings, engine=engine)
            uvicorn.run(
                application, host=listen_host, port=listen_port, log_config=None, access_log=False
            )
            return
        # Each worker process builds its own app and pool from the environment: point it at this
        # database (embedded or not), and create the signing key first, so that all workers
        # load the same one and accept each other's tokens.
        os.environ["DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        build_key_ring(settings)
        engine.dispose()
        uvicorn.run(
            "api.app:worker_app",
            factory=True,
            workers=workers,
            host=listen_host,
            port=listen_port,
            log_config=None,
            access_log=False,
        )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _print_demo_accounts(known: dict[str, str], path: Path) -> None:
    table = Table(title=f"demo accounts (also in {path})")
    table.add_column("username")
    table.add_column("password")
    for username, password in known.items():
        table.add_row(username, password)
    console.print(table)


# --- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    with database(get_settings()) as engine:
        migrate.upgrade(engine, revision)
        console.print(f"schema at {migrate.current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Revert migrations down to REVISION."""
    with database(get_settings()) as engine:
        migrate.downgrade(engine, revision)
        console.print(f"schema at {migrate.current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the newest one available."""
    with database(get_settings()) as engine:
        typer.echo(f"current: {migrate.current_revision(engine)}  head: {migrate.head_revision()}")


# --- seed -------------------------------------------------------------------------------------


@app.command()
def seed(
    regions_file: Annotated[
        Path | None, typer.Option("--regions", help="A GB/T 2260 edition (CSV).")
    ] = None,
    catalog_file: Annotated[
        Path | None, typer.Option("--catalog", help="A catalogue file (CSV/XLSX).")
    ] = None,
    demo: Annotated[
        int | None,
        typer.Option(
            "--demo",
            min=0,
            metavar="N",
            help="Create the demo accounts, N demo organizations (all kinds and states), N/5 experts and N/5 commodities (rounded up; with offers); same seed, same data; run again: only the missing ones are added. `--demo 0`: accounts only.",
        ),
    ] = None,
    demo_seed: Annotated[int, typer.Option("--demo-seed", help="Seed of the demo data.")] = 2026,
) -> None:
    """Load the region tree and the catalogue (the shipped editions unless files are given).

    Loading a newer region edition updates the tree: new codes are added, renamed ones keep
    their former names, and codes no longer listed are retired, never deleted.
    """
    from registry.seed import seed_demo_accounts, seed_reference_data

    settings = get_settings()
    with database(settings) as engine:
        migrate.upgrade(engine)
        try:
            with session_scope(engine) as session:
                report = seed_reference_data(
                    session, region_file=regions_file, catalog_file=catalog_file
                )
                if demo is not None:
                    credentials = settings.data_dir / "demo-credentials.tsv"
                    _print_demo_accounts(seed_demo_accounts(session, credentials), credentials)
                if demo:
                    from registry.demo import seed_demo_with_progress

                    console.print(
                        seed_demo_with_progress(
                            session, count=demo, seed=demo_seed, console=console
                        ).summary()
                    )
        except RegistryError as exc:
            _fail(exc)
    r = report.regions
    if r is not None:
        if r.already_loaded:
            console.print(f"regions: edition {r.as_of} already loaded")
        else:
            console.print(
                f"regions {r.as_of}: {len(r.created)} added, {len(r.renamed)} renamed, {len(r.moved)} moved, "
                f"{len(r.retired)} retired, {len(r.reinstated)} reinstated, {r.bureaus_created} bureaus added"
            )
    c = report.catalog
    if c is not None:
        console.print(f"catalog: {c.created} added, {c.renamed} renamed, {c.unchanged} unchanged")


# --- catalog ----------------------------------------------------------------------------------


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8) or XLSX.")],
    mode: Annotated[
        str, typer.Option(help="merge: add and rename; replace: also retire missing codes.")
    ] = "merge",
    valid_from: Annotated[str | None, typer.Option(help="Effective date YYYY-MM-DD.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
) -> None:
    """Import a catalogue edition; a file with any bad row writes nothing and lists every error."""
    from registry import catalog

    if mode not in ("merge", "replace"):
        raise typer.BadParameter("mode must be merge or replace")
    chosen: Literal["merge", "replace"] = "replace" if mode == "replace" else "merge"
    effective = date.fromisoformat(valid_from) if valid_from else None
    with database(get_settings()) as engine:
        try:
            with session_scope(engine) as session:
                report = catalog.import_catalog(
                    session,
                    data=file.read_bytes(),
                    filename=file.name,
                    valid_from=effective,
                    mode=chosen,
                    dry_run=dry_run,
                )
                if report.errors:
                    raise RegistryError(
                        f"{len(report.errors)} 处错误,未写入任何数据",
                        code="invalid_rows",
                        title="文件有错误",
                        errors=[e.model_dump() for e in report.errors],
                    )
        except RegistryError as exc:
            _fail(exc)
    verb = "would be" if dry_run else "were"
    console.print(
        f"{report.rows} rows: {report.created} {verb} added, {report.renamed} renamed, "
        f"{report.retired} retired, {report.unchanged} unchanged"
    )


# --- import / export (organizations, experts, commodities) ------------------------------------


@app.command("import")
def import_organizations(
    kind: Annotated[
        KindName,
        typer.Argument(help="suppliers, agents, purchasers, experts or commodities."),
    ],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8) or XLSX.")],
    take_good_rows: Annotated[
        bool, typer.Option("--take-good-rows", help="Write the good rows even if some are bad.")
    ] = False,
    submit: Annotated[
        bool, typer.Option("--submit", help="Submit the new drafts for review.")
    ] = False,
    region_admin: Annotated[
        str | None,
        typer.Option(
            help="Act as the administrator of this region's bureau (rows outside it are errors)."
        ),
    ] = None,
) -> None:
    """Register every row as a draft; any bad row writes nothing unless --take-good-rows.

    Without --region-admin the operator acts outside the jurisdiction policy (any region).
    Columns: see docs/import-export.md. Error messages never show ID numbers or phones.
    """
    from rich.progress import Progress

    from registry import transfer

    with database(get_settings()) as engine:
        try:
            actor = transfer.region_admin(region_admin) if region_admin else None
            with session_scope(engine) as session, Progress(console=console) as bar:
                task = bar.add_task(f"importing {file.name}", total=None)
                report = transfer.import_records(
                    session,
                    kind=transfer.KIND_BY_PLURAL[kind],
                    data=file.read_bytes(),
                    filename=file.name,
                    actor=actor,
                    take_good_rows=take_good_rows,
                    submit=submit,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        except RegistryError as exc:
            _fail(exc)
    if report.errors:
        table = Table(title=f"{report.failed} of {report.rows} rows have errors")
        for column in ("row", "column", "error"):
            table.add_column(column)
        for error in report.errors:
            table.add_row(str(error.row or ""), error.field or "", error.message)
        console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]第 {warning.row} 行:{warning.message}[/yellow]")
    if not report.accepted:
        console.print("[red]nothing was written[/red]")
        raise typer.Exit(code=1)
    console.print(
        f"{report.rows} rows: {report.created} drafts created, {report.submitted} submitted, "
        f"{report.failed} rejected"
    )


# which kinds each list filter applies to (the API's list filters, per kind)
_EXPORT_FILTER_KINDS = {
    "--within": {"suppliers", "agents", "purchasers", "experts"},
    "--size": {"suppliers", "agents", "purchasers"},
    "--scope": {"suppliers", "agents", "purchasers"},
    "--specialty": {"experts"},
    "--catalog": {"commodities"},
    "--brand": {"commodities"},
    "--price-min": {"commodities"},
    "--price-max": {"commodities"},
    "--supplier": {"commodities"},
}


@app.command("export")
def export_organizations(
    kind: Annotated[
        KindName,
        typer.Argument(help="suppliers, agents, purchasers, experts or commodities."),
    ],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="The file to write.")],
    file_format: Annotated[
        str, typer.Option("--format", help="csv (UTF-8 with BOM) or xlsx.")
    ] = "csv",
    within: Annotated[
        str | None, typer.Option(help="Region subtree, e.g. 150100 (not commodities).")
    ] = None,
    status: Annotated[
        list[Status] | None, typer.Option(help="Only these statuses (repeatable).")
    ] = None,
    size: Annotated[
        list[EnterpriseSize] | None,
        typer.Option(help="Organizations: only these sizes (repeatable)."),
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help="Organizations: business scope below this code.")
    ] = None,
    specialty: Annotated[
        str | None, typer.Option(help="Experts: a specialty below this code, e.g. A01.")
    ] = None,
    catalog: Annotated[
        str | None, typer.Option(help="Commodities: catalogue code or a code above it.")
    ] = None,
    brand: Annotated[
        str | None, typer.Option(help="Commodities: this brand (aliases count).")
    ] = None,
    price_min: Annotated[
        Decimal | None, typer.Option(min=0, help="Commodities: reference price at least.")
    ] = None,
    price_max: Annotated[
        Decimal | None, typer.Option(min=0, help="Commodities: reference price at most.")
    ] = None,
    supplier: Annotated[
        str | None, typer.Option(help="Commodities with a current offer of this supplier (id).")
    ] = None,
    eligible: Annotated[
        bool | None,
        typer.Option(
            "--eligible/--not-eligible",
            help="Only records that may take part now (active, in term, not debarred), or only others.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name contains.")] = None,
) -> None:
    """Export records with the import columns plus id and status.

    The operator sees every record UNMASKED (ID numbers, phones, bank accounts in clear; experts'
    personal data decrypted): keep the file safe. Use the API's export for a masked view.
    """
    from registry import transfer
    from registry.catalog import parse_code
    from registry.organizations import OrgFilters

    if file_format not in ("csv", "xlsx"):
        raise typer.BadParameter("format must be csv or xlsx")
    if within is not None and not (within.isdigit() and len(within) == 6):
        raise typer.BadParameter("within must be a 6-digit region code")
    given = {
        "--within": within,
        "--size": size,
        "--scope": scope,
        "--specialty": specialty,
        "--catalog": catalog,
        "--brand": brand,
        "--price-min": price_min,
        "--price-max": price_max,
        "--supplier": supplier,
    }
    for option, value in given.items():
        if value not in (None, []) and kind.value not in _EXPORT_FILTER_KINDS[option]:
            raise typer.BadParameter(f"{option} does not apply to {kind.value}")
    with database(get_settings()) as engine:
        try:
            with session_scope(engine) as session:
                filters = OrgFilters(
                    within=within,
                    status=status or None,
                    size=size or None,
                    scope=parse_code(scope) if scope else None,
                    specialty=specialty.upper() if specialty else None,
                    catalog=parse_code(catalog) if catalog else None,
                    brand=brand,
                    price_min=price_min,
                    price_max=price_max,
                    supplier=supplier,
                    eligible=eligible,
                    name=name,
                )
                count = transfer.export_to_file(
                    session,
                    kind=transfer.KIND_BY_PLURAL[kind],
                    filters=filters,
                    fmt="xlsx" if file_format == "xlsx" else "csv",
                    out=out,
                )
        except RegistryError as exc:
            _fail(exc)
    console.print(f"{count} {kind.value} written to {out} (unmasked)")


# --- accounts ---------------------------------------------------------------------------------


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    env = os.environ.get("REGISTRY_ACCOUNT_PASSWORD")
    if env:
        return env
    return str(typer.prompt("Password (12+ characters)", hide_input=True, confirmation_prompt=True))


@account_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="Login name.")] = "admin",
    region: Annotated[str, typer.Option(help="Region code of the bureau.")] = "150000",
    display_name: Annotated[str, typer.Option(help="Shown name.")] = "系统管理员",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create the first administrator (password prompted, from stdin, or REGISTRY_ACCOUNT_PASSWORD)."""
    _create(
        AccountCreate(
            username=username,
            display_name=display_name,
            kind=AccountKind.staff,
            password=_read_password(password_stdin),
            region_code=region,
            role=StaffRole.admin,
        )
    )


@account_app.command("create")
def create(
    username: Annotated[str, typer.Option(help="Login name or client id.")],
    kind: Annotated[AccountKind, typer.Option(help="staff, self_service or service.")],
    display_name: Annotated[str, typer.Option(help="Shown name.")],
    region: Annotated[str | None, typer.Option(help="Staff: region code.")] = None,
    role: Annotated[
        StaffRole | None, typer.Option(help="Staff: admin, reviewer or viewer.")
    ] = None,
    entity_kind: Annotated[
        EntityKind | None, typer.Option(help="Self-service: supplier, agent, expert.")
    ] = None,
    entity_id: Annotated[str | None, typer.Option(help="Self-service: the entity's id.")] = None,
    scope: Annotated[
        list[Scope] | None, typer.Option(help="Service: a scope (repeatable).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create any account (the operator acts outside the jurisdiction policy)."""
    _create(
        AccountCreate(
            username=username,
            display_name=display_name,
            kind=kind,
            password=_read_password(password_stdin),
            region_code=region,
            role=role,
            entity_kind=entity_kind,
            entity_id=entity_id,
            scopes=scope or [],
        )
    )


def _create(data: AccountCreate) -> None:
    from registry import accounts

    with database(get_settings()) as engine:
        migrate.upgrade(engine)
        try:
            with session_scope(engine) as session:
                account = accounts.create_account(session, data=data, actor=None)
                console.print(f"created {account.kind} account {account.username} ({account.id})")
        except RegistryError as exc:
            _fail(exc)


# --- keys -------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; it signs from the next start. Remove old .pem files after one token lifetime."""
    from auth.keys import generate_signing_key

    path = generate_signing_key(get_settings().signing_key_dir)
    console.print(f"new signing key {path}")


@keys_app.command("list")
def keys_list() -> None:
    """List signing keys (the last one signs)."""
    from auth.keys import load_signing_keys

    for key in load_signing_keys(get_settings().signing_key_dir):
        typer.echo(f"{key.kid}  {key.alg}")


@keys_app.command("rotate-personal-data")
def keys_rotate_personal_data() -> None:
    """Add a new key for personal data at rest; new values are encrypted with it.

    Running services pick it up the first time they read a value written with it. Then run
    `registry keys reencrypt`. Keep the old keys: the audit history still holds values
    encrypted with them.
    """
    settings = get_settings()
    kid = crypto.rotate_key(settings)
    console.print(f"new personal-data key {kid} in {crypto.key_file_path(settings)}")


@keys_app.command("reencrypt")
def keys_reencrypt() -> None:
    """Re-encrypt the personal data of current records (and pending change requests) under the
    current key. Safe to run again; services keep running."""
    from registry import personal

    settings = get_settings()
    with database(settings) as engine, session_scope(engine) as session:
        done, read = personal.reencrypt_records(session)
    console.print(f"re-encrypted {done} of {read} expert records")


def _engine_or_exit(settings: Settings) -> tuple[Any, Any]:
    from search.engine import EngineUnavailable, IndexNames, connect

    if not settings.elasticsearch_url:
        console.print("[red]ELASTICSEARCH_URL is not set: search runs on PostgreSQL[/red]")
        raise typer.Exit(2)
    try:
        client = connect(settings.elasticsearch_url)
    except EngineUnavailable as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    return client, IndexNames(settings.search_index)


@app.command("reindex")
def reindex(
    check_only: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only report differences (records ↔ documents, and documents ↔ engine index"
            " when ELASTICSEARCH_URL is set); exit 1 if any.",
        ),
    ] = False,
    engine_only: Annotated[
        bool, typer.Option("--engine-only", help="Skip the PostgreSQL documents.")
    ] = False,
) -> None:
    """Make the search documents match the records (add missing ones, e.g. of records loaded in
    bulk; rebuild stale ones, e.g. after an analyzer change), then, with ELASTICSEARCH_URL set,
    build a new engine index from them and swap it in without downtime. Documents and the index
    are maintained on every write (the index by `registry worker`), so a healthy registry has
    nothing to repair; rebuilding the index is how an analyzer or mapping change goes live."""
    from rich.progress import Progress

    from search import documents, sync

    settings = get_settings()
    unclean = False
    with database(settings) as engine:
        if not engine_only:
            with engine.connect() as connection:
                found = documents.check(connection, limit=1_000_000 if not check_only else 20)
            if check_only:
                for label, ids in (
                    ("records without a document", found.missing),
                    ("documents without a record", found.orphaned),
                    ("stale documents", found.stale),
                ):
                    console.print(f"{label}: {len(ids)}{_some(ids)}")
                unclean = not found.clean
                if found.clean:
                    console.print("the search documents match the records")
            else:
                with engine.begin() as connection:
                    added = documents.backfill(connection)
                with session_scope(engine) as session:
                    rebuilt = documents.rebuild(session, found.stale)
                console.print(f"{added} documents added, {rebuilt} rebuilt")
        if not settings.elasticsearch_url:
            if engine_only:
                _engine_or_exit(settings)
        elif check_only:
            client, names = _engine_or_exit(settings)
            checked = sync.check_engine(engine, client, names)
            for label, ids in (
                ("documents missing from the index", checked.missing),
                ("index entries without a document", checked.extra),
                ("index entries at another version", checked.stale),
                ("differences still in the outbox (on their way)", checked.pending),
            ):
                console.print(f"{label}: {len(ids)}{_some(ids)}")
            if checked.outdated_index:
                console.print(
                    f"index {checked.outdated_index} was built for another analyzer or mapping"
                    f" version (now {names.version_tag}): run `registry reindex`"
                )
            if checked.clean:
                console.print(
                    f"the index {names.alias} matches the documents ({checked.indexed} entries)"
                )
            unclean = unclean or not checked.clean
        else:
            client, names = _engine_or_exit(settings)
            with engine.connect() as connection:
                total = connection.execute(text("SELECT count(*) FROM search_documents")).scalar()
            with Progress(console=console) as bar:
                task = bar.add_task("indexing", total=total)
                report = sync.reindex_engine(
                    engine, client, names, progress=lambda n: bar.advance(task, n)
                )
            console.print(
                f"{report.documents} documents indexed into {report.index} in"
                f" {report.seconds:.0f} s; alias {names.alias} swapped"
                f"{' from ' + ', '.join(report.replaced) if report.replaced else ''}"
            )
    if unclean:
        raise typer.Exit(1)


def _some(ids: list[str]) -> str:
    return f" ({', '.join(ids[:10])}{' …' if len(ids) > 10 else ''})" if ids else ""


@app.command("worker")
def worker(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Outbox rows per batch.")] = 500,
    until_empty: Annotated[
        bool, typer.Option("--until-empty", help="Exit once the outbox is empty.")
    ] = False,
) -> None:
    """Keep the search engine index equal to the database: drain the search outbox into the
    engine (ELASTICSEARCH_URL). Run one per deployment (more wait as standbys); it retries with
    backoff while the engine is down and never loses a committed change."""
    from search import sync
    from search.engine import ensure_index

    settings = get_settings()
    client, names = _engine_or_exit(settings)
    with database(settings) as engine:
        ensure_index(client, names)
        running = sync.Worker(engine, client, names, batch=batch)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: running.stop.set())
        console.print(f"search worker: outbox → {client.flavor} {client.version} {names.alias}")
        running.run(until_empty=until_empty)
    console.print(f"search worker stopped: {running.stats.sent} changes sent")


@experts_app.command("check")
def experts_check() -> None:
    """The scheduled check (run daily, e.g. from cron): suspensions whose period is over end,
    then experts whose term has ended become `expired`; each change is an event in the history
    and the change feed."""
    from registry.experts import end_suspensions, expire_ended_terms

    settings = get_settings()
    with database(settings) as engine, session_scope(engine) as session:
        reinstated = end_suspensions(session)
        expired = expire_ended_terms(session)
    console.print(f"{len(reinstated)} suspensions ended, {len(expired)} experts expired")


# --- dedup ------------------------------------------------------------------------------------


@dedup_app.command("scan")
def dedup_scan(
    kind: Annotated[
        KindName,
        typer.Option(help="suppliers, agents, purchasers, experts or commodities."),
    ],
    within: Annotated[
        str | None,
        typer.Option(
            help="Only this region subtree, compared among themselves: a region code (150200) or prefix (1502); not commodities."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Processes comparing pairs (default: one per core on large scans)."
        ),
    ] = None,
) -> None:
    """Scan the live records of a kind for near-duplicates: rewrite their blocking keys (so later
    registrations are compared incrementally) and queue the pairs for review with their
    evidence. Pairs judged "not the same" are not queued again; a second scan re-scores."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from registry import dedup_scan as scanning
    from registry.transfer import KIND_BY_PLURAL

    if within is not None:
        if kind is KindName.commodities:
            raise typer.BadParameter("--within does not apply to commodities")
        try:
            scanning.subtree_prefix(within)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    labels = {
        "load": "loading records",
        "keys": "writing blocking keys",
        "compare": "comparing candidate pairs",
        "write": "writing the review queue",
    }
    with (
        database(get_settings()) as engine,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar,
    ):
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        report = scanning.scan(
            engine, KIND_BY_PLURAL[kind], within=within, progress=progress, workers=workers
        )
    for line in report.lines():
        typer.echo(line)


def main() -> None:  # pragma: no cover
    logging.basicConfig(level=logging.WARNING)
    app()
