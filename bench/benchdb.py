"""The database the benchmarks share: DATABASE_URL, or an embedded PostgreSQL (kept in `--reuse`
between runs), migrated, with the reference data and N bulk-loaded suppliers.

Imported by the scripts beside it (`python bench/<script>.py` puts this folder on sys.path).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def open_database(
    reuse: Path | None, prefix: str = "registry-bench-"
) -> Iterator[tuple[str, Path]]:
    """(SQLAlchemy URL, data dir): DATABASE_URL, or the embedded server in `reuse` (or a temp
    dir), started here and stopped on exit if this process started it."""
    url = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = reuse or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if url:
            yield url, workdir
            return
        from registry.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(workdir, database="registry_bench")
        try:
            yield embedded.start(), workdir
        finally:
            embedded.stop()


def libpq(url: str) -> str:
    """The SQLAlchemy URL as psycopg's own connect() takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def build_database(url: str, suppliers: int, *, besides: str | None = None) -> int:
    """Migrate, load the reference data and bulk-insert suppliers until there are `suppliers`
    of them (not counting ids LIKE `besides`, a bench's own planted records). Returns how many
    there are."""
    import psycopg
    from sqlmodel import Session

    from registry import migrate
    from registry.db import make_engine
    from registry.demo import bulk_insert_suppliers
    from registry.seed import seed_reference_data

    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as s:
        seed_reference_data(s, only_if_empty=True)
        s.commit()
    engine.dispose()
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM organizations WHERE kind = 'supplier' AND id NOT LIKE %s",
            (besides or "",),
        ).fetchone()
        have = int(row[0]) if row else 0
        if have < suppliers:
            started = time.perf_counter()
            bulk_insert_suppliers(conn, suppliers - have, start=have)
            conn.commit()
            print(
                f"inserted {suppliers - have} suppliers in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            have = suppliers
        conn.execute("ANALYZE organizations")
        conn.commit()
    return have
