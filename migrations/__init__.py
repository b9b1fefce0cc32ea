"""Alembic migrations (reviewed revisions; file names are date and description)."""
