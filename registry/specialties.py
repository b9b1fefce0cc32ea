"""The experts' specialty classification (`registry/data/specialties.csv`), loaded as reference
data: added and renamed by code, never deleted (experts refer to the codes)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from models.specialty import Specialty
from registry.reference_files import read_table

DEFAULT_SPECIALTY_FILE = Path(__file__).parent / "data" / "specialties.csv"


def load_specialties(session: Session, path: Path = DEFAULT_SPECIALTY_FILE) -> int:
    """Add new codes and rename changed ones; returns how many rows were written."""
    table = read_table(path.read_bytes(), path.name, {})
    existing = {s.code: s for s in session.exec(select(Specialty)).all()}
    written = 0
    for _, row in table.rows:  # parents come before their children in the file
        code, name = row["code"].strip(), row["name"].strip()
        parent = row.get("parent", "").strip() or None
        current = existing.get(code)
        if current is None:
            session.add(
                Specialty(code=code, name=name, parent_code=parent, level=int(row["level"]))
            )
            session.flush()
            written += 1
        elif current.name != name:
            current.name = name
            session.add(current)
            written += 1
    return written
