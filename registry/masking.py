"""Restricted values (ID numbers, personal phones, bank account numbers) and how others see them.

Which paths are restricted is declared once per kind on its data schema (`RESTRICTED`); this
module applies that declaration. Restricted values never go to logs, the change feed's payload or
(later) the search index: all of them read the masked view. Personal values stored encrypted
(`registry/personal.py`) are decrypted only to be shown in clear or masked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models.kinds import DATA_MODELS
from models.organization import RecordKind
from registry import personal
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


def _mask(node: Any, tree: _Tree, kind: RecordKind) -> Any:
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key, branch in tree.items():
        if branch is None:
            value = out.get(key)
            if isinstance(value, str) and value:
                # an encrypted value is opened in memory only to show its last digits
                out[key] = _MASKERS.get(key, _hidden)(personal.plain_value(kind, key, value))
        elif key.endswith("[]"):
            items = out.get(key[:-2])
            if isinstance(items, list):
                out[key[:-2]] = [_mask(item, branch, kind) for item in items]
        elif key in out:
            out[key] = _mask(out[key], branch, kind)
    return out


def _hidden(_: str) -> str:
    return "****"


_TREES = {kind: _tree(DATA_MODELS[kind].RESTRICTED) for kind in RecordKind}


def masked(kind: RecordKind, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with every restricted value masked; `data` itself is left as it is."""
    result: dict[str, Any] = _mask(data, _TREES[kind], kind)
    return result


def shown(kind: RecordKind, data: dict[str, Any], clear: bool) -> dict[str, Any]:
    """A stored document as a reader sees it: in clear (personal fields decrypted) for those who
    may read restricted values, masked for everyone else."""
    return personal.unseal(kind, data) if clear else masked(kind, data)


def restricted_fields(kind: RecordKind) -> frozenset[str]:
    """Top-level fields that hold restricted values (for diffs in history)."""
    return frozenset(p.split(".")[0].removesuffix("[]") for p in DATA_MODELS[kind].RESTRICTED)
