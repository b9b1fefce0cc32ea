"""Restricted values (ID numbers, personal phones, bank account numbers) and how others see them.

Which paths are restricted is declared once per kind on its data schema (`RESTRICTED`); this
module applies that declaration. Restricted values never go to logs, the change feed's payload or
(later) the search index: all of them read the masked view.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from models.organization import DATA_MODELS, OrgKind
from registry.identifiers import Masked

_MASKERS: dict[str, Callable[[str], str]] = {
    "id_number": Masked.id_number,
    "phone": Masked.phone,
    "account_number": Masked.account,
}


def _apply(node: Any, parts: list[str]) -> None:
    if node is None or not parts:
        return
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        for item in node.get(head[:-2]) or []:
            _apply(item, rest)
        return
    if not rest:
        value = node.get(head)
        if isinstance(value, str) and value:
            node[head] = _MASKERS.get(head, lambda _: "****")(value)
        return
    _apply(node.get(head), rest)


def masked(kind: OrgKind, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` with every restricted value masked."""
    result = copy.deepcopy(data)
    for path in DATA_MODELS[kind].RESTRICTED:
        _apply(result, path.split("."))
    return result


def restricted_fields(kind: OrgKind) -> frozenset[str]:
    """Top-level fields that hold restricted values (for diffs in history)."""
    return frozenset(p.split(".")[0].removesuffix("[]") for p in DATA_MODELS[kind].RESTRICTED)
