"""SQLModel tables and the request/response schemas derived from them.

Importing this package registers every table on `metadata` (Alembic's target).
"""

from models.account import Account
from models.base import metadata
from models.catalog import CatalogItem
from models.change_request import ChangeRequest
from models.commodity import Offer
from models.debarment import Debarment
from models.dedup import DedupCandidate, DedupJudgement, DedupKey, Merge
from models.event import Event
from models.idempotency import IdempotencyRecord
from models.organization import Organization
from models.region import Bureau, ReferenceDataLoad, Region
from models.search import SearchDocument, SearchOutbox
from models.specialty import Specialty

__all__ = [
    "Account",
    "Bureau",
    "CatalogItem",
    "ChangeRequest",
    "Debarment",
    "DedupCandidate",
    "DedupJudgement",
    "DedupKey",
    "Event",
    "IdempotencyRecord",
    "Merge",
    "Offer",
    "Organization",
    "ReferenceDataLoad",
    "Region",
    "SearchDocument",
    "SearchOutbox",
    "Specialty",
    "metadata",
]
