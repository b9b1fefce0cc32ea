"""SQLModel tables and the request/response schemas derived from them.

Importing this package registers every table on `metadata` (Alembic's target).
"""

from models.account import Account
from models.base import metadata
from models.catalog import CatalogItem
from models.idempotency import IdempotencyRecord
from models.region import Bureau, ReferenceDataLoad, Region

__all__ = [
    "Account",
    "Bureau",
    "CatalogItem",
    "IdempotencyRecord",
    "ReferenceDataLoad",
    "Region",
    "metadata",
]
