"""Every kind's data schema, in one table the service and the masking rules read."""

from __future__ import annotations

from models.commodity import CommodityData
from models.expert import ExpertData
from models.organization import ORGANIZATION_DATA_MODELS, RecordData, RecordKind

DATA_MODELS: dict[RecordKind, type[RecordData]] = {
    **ORGANIZATION_DATA_MODELS,
    RecordKind.expert: ExpertData,
    RecordKind.commodity: CommodityData,
}
