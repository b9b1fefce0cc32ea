"""Near-duplicate matching of organizations (issue 6, first part): comparators, evidence, blocking.

`compare(a, b)` scores two organization records (any mapping with `name`, and optionally `uscc`,
`address`, `legal_representative.name`, `contacts[].phone`) and says why, field by field
("name 0.93 after suffix normalization, same USCC, address 0.71"). `blocking_keys(record)` gives
the few keys a record is filed under, so a scan compares only records sharing a key: candidate
pairs stay near-linear in the number of records.

Rules that are not a matter of degree:

* a branch (`分公司`, `分店`, …) is never a duplicate of a record that is not the same kind of
  branch, nor of a branch of another place: the head office and its branches are different
  entities;
* two different valid unified social credit codes are two legal entities: the pair is kept
  below the review threshold whatever the names say.

Still to come (issue 6): experts and commodities, the review queue, scans, merge and unmerge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import ratio

from search.text import fold, pinyin_initials, strip_company_suffix

REVIEW_THRESHOLD = 0.85  # at or above: a candidate for a reviewer
_BRANCH = re.compile(r"(分公司|分店|分厂|分行|支行|分所|办事处|分部|营业部|分中心)$")
_DIGITS = re.compile(r"\D+")
# weights of the fields present in both records (renormalized over what is present)
WEIGHTS = {"name": 0.7, "address": 0.15, "representative": 0.1, "phone": 0.05}


@dataclass(frozen=True)
class Evidence:
    field: str
    score: float
    note: str

    def __str__(self) -> str:
        return f"{self.note} {self.score:.2f}" if self.note else f"{self.field} {self.score:.2f}"


@dataclass(frozen=True)
class Match:
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    vetoed: str | None = None  # why the pair cannot be a duplicate

    @property
    def for_review(self) -> bool:
        return self.vetoed is None and self.score >= REVIEW_THRESHOLD

    def explain(self) -> str:
        parts = [str(e) for e in self.evidence]
        if self.vetoed:
            parts.append(self.vetoed)
        return ", ".join(parts)


def _branch(name: str) -> str | None:
    found = _BRANCH.search(fold(name))
    return found.group(1) if found else None


def name_similarity(a: str, b: str) -> float:
    """Jaro-Winkler of the core names (region prefix and legal form dropped, folded), or of the
    whole folded names when that is higher (two names that are only a region and a form)."""
    core_a, core_b = fold(strip_company_suffix(a)), fold(strip_company_suffix(b))
    whole = JaroWinkler.similarity(fold(a), fold(b))
    if not core_a or not core_b:
        return whole
    return max(JaroWinkler.similarity(core_a, core_b), whole)


def _text_similarity(a: str, b: str) -> float:
    """Indel similarity of the folded texts without blanks (`216 号` = `216号`)."""
    return ratio(fold(a).replace(" ", ""), fold(b).replace(" ", "")) / 100


def _different_branches(a: str, b: str) -> bool:
    """Two branches whose names differ after their common beginning (`…包头分公司` and
    `…鄂尔多斯分公司`): branches of different places."""
    fa, fb = fold(strip_company_suffix(a)), fold(strip_company_suffix(b))
    common = next(
        (i for i, (x, y) in enumerate(zip(fa, fb, strict=False)) if x != y), min(len(fa), len(fb))
    )
    return fa[common:] != fb[common:]


def _phones(record: Mapping[str, Any]) -> set[str]:
    out = {_DIGITS.sub("", str(c.get("phone") or "")) for c in record.get("contacts") or []}
    representative = record.get("legal_representative") or {}
    out.add(_DIGITS.sub("", str(representative.get("phone") or "")))
    return {p for p in out if len(p) >= 7}


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> Match:
    """How likely two organization records are the same entity, with the evidence."""
    evidence: list[Evidence] = []
    uscc_a, uscc_b = a.get("uscc"), b.get("uscc")
    if uscc_a and uscc_b and uscc_a == uscc_b:
        return Match(1.0, [Evidence("uscc", 1.0, "same USCC")])
    branch_a, branch_b = _branch(a["name"]), _branch(b["name"])
    name = name_similarity(a["name"], b["name"])
    evidence.append(Evidence("name", name, "name after suffix normalization"))
    scores: dict[str, float] = {"name": name}
    if a.get("address") and b.get("address"):
        scores["address"] = _text_similarity(a["address"], b["address"])
        evidence.append(Evidence("address", scores["address"], "address"))
    rep_a = (a.get("legal_representative") or {}).get("name")
    rep_b = (b.get("legal_representative") or {}).get("name")
    if rep_a and rep_b:
        scores["representative"] = 1.0 if fold(rep_a) == fold(rep_b) else 0.0
        evidence.append(
            Evidence("representative", scores["representative"], "legal representative")
        )
    phones_a, phones_b = _phones(a), _phones(b)
    if phones_a and phones_b:
        scores["phone"] = 1.0 if phones_a & phones_b else 0.0
        evidence.append(
            Evidence("phone", scores["phone"], "same phone" if scores["phone"] else "phone")
        )
    total = sum(WEIGHTS[f] for f in scores)
    score = sum(WEIGHTS[f] * s for f, s in scores.items()) / total
    vetoed = None
    if branch_a != branch_b:
        vetoed = "a branch and another entity (分支机构不是重复)"
    elif branch_a and _different_branches(a["name"], b["name"]):
        vetoed = "branches of different places"
    elif uscc_a and uscc_b:
        vetoed = "different USCCs: two legal entities"
    return Match(round(score, 4), evidence, vetoed)


def blocking_keys(record: Mapping[str, Any]) -> set[str]:
    """The blocks a record is filed under: its USCC, the first two characters of its core name,
    and the initials of its core name's first four characters. Variants of one name (region
    prefix, legal form, brackets, full width, traditional characters) share the core keys."""
    keys: set[str] = set()
    if record.get("uscc"):
        keys.add("uscc:" + str(record["uscc"]))
    core = fold(strip_company_suffix(record["name"])) or fold(record["name"])
    core = _BRANCH.sub("", core)
    if core:
        keys.add("core:" + core[:2])
        initials = pinyin_initials(core[:4])
        if initials:
            keys.add("py:" + initials)
    return keys
