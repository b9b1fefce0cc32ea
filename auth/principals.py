"""Who is calling: bureau staff, a self-service entity, a service client, or the anonymous public."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from models.account import EntityKind, Scope, StaffRole
from registry.codes import region_prefix


class PrincipalKind(StrEnum):
    staff = "staff"
    self_service = "self_service"
    service = "service"
    anonymous = "anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    subject: str
    name: str = ""
    region_code: str | None = None  # staff: the region whose bureau they work for
    role: StaffRole | None = None  # staff
    entity_kind: EntityKind | None = None  # self-service: the one entity the account is bound to
    entity_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)  # service clients

    @property
    def is_anonymous(self) -> bool:
        return self.kind is PrincipalKind.anonymous

    @property
    def is_staff(self) -> bool:
        return self.kind is PrincipalKind.staff and self.region_code is not None

    @property
    def jurisdiction_prefix(self) -> str | None:
        """Code prefix of the subtree a staff member manages; None for everyone else."""
        return region_prefix(self.region_code) if self.is_staff and self.region_code else None

    def has_scope(self, scope: Scope) -> bool:
        return self.kind is PrincipalKind.service and scope.value in self.scopes


ANONYMOUS = Principal(kind=PrincipalKind.anonymous, subject="anonymous")
