"""Restricted values (ID numbers, personal phones, bank account numbers) and how others see them.

Which paths are restricted is declared once per kind on its data schema (`RESTRICTED`); this
module applies that declaration. Restricted values never go to logs, the change feed's payload or
(later) the search index: all of them read the masked view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models.organization import DATA_MODELS, OrgKind
from registry.identifiers import Masked

_MASKERS: dict[str, Callable[[str], str]] = {
    "id_number": Masked.id_number,
    "phone": Masked.phone,
    "account_number": Masked.account,
}


# A restricted path ("contacts[].phone") becomes a branch of one tree per kind, so masking copies
# each dict and list on the way to a restricted value once, and shares everything else.
_Tree = dict[str, "_Tree | None"]


def _tree(paths: tuple[str, ...]) -> _Tree:
    root: _Tree = {}
    for path in paths:
        node = root
        *branches, leaf = path.split(".")
        for part in branches:
            child = node.setdefault(part, {})
            assert child is not None, path
            node = child
        node[leaf] = None
    return root


def _mask(node: Any, tree: _Tree) -> Any:
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key, branch in tree.items():
        if branch is None:
            value = out.get(key)
            if isinstance(value, str) and value:
                out[key] = _MASKERS.get(key, _hidden)(value)
        elif key.endswith("[]"):
            items = out.get(key[:-2])
            if isinstance(items, list):
                out[key[:-2]] = [_mask(item, branch) for item in items]
        elif key in out:
            out[key] = _mask(out[key], branch)
    return out


def _hidden(_: str) -> str:
    return "****"


_TREES = {kind: _tree(DATA_MODELS[kind].RESTRICTED) for kind in OrgKind}


def masked(kind: OrgKind, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with every restricted value masked; `data` itself is left as it is."""
    result: dict[str, Any] = _mask(data, _TREES[kind])
    return result


def restricted_fields(kind: OrgKind) -> frozenset[str]:
    """Top-level fields that hold restricted values (for diffs in history)."""
    return frozenset(p.split(".")[0].removesuffix("[]") for p in DATA_MODELS[kind].RESTRICTED)
