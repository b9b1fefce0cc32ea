"""The labeled search query set over the demo data: what users type, and the record they want.

Run `python tests/search_queries/generate.py` to rewrite `demo_queries.json` beside this file.
It plans the records `registry seed --demo 300` and `registry serve --demo` create (seed 2026:
300 organizations, then 60 experts and 60 commodities, `registry.demo.demo_counts`) without a
database, and makes queries from them. The answers are the planned records' own ids: no search
runs here. Experts are planned as of a fixed day (`AS_OF`, in the header): their names depend on
the year, so the bench seeds them as of that day rather than today. `search/text.py` only helps to *write* queries the way users type them (core names,
pinyin, initials) and to see which records read alike.

Only published records are targets and competitors: approved at least once (`approved_at` set,
what `auth.policy` shows the anonymous public), i.e. every demo state but draft, submitted,
returned and an organization cancelled straight from its draft. Active, suspended, cancelled
after approval, expired, dismissed and delisted records are all published.

A query is kept only when its best answer is clear among the published records. `expected_ids`
is the set of acceptable top hits (a hit is right if it is any of them): one record, or a few
records that are equally good answers (two suppliers with the same core name in different
places, the printers of one brand in one catalogue class). `expected_id` is the record the query
was made from. Per class, "matches" below means: the folded query (`search.text.fold`: NFKC,
traditional → simplified, lower case) is a substring of the record's folded name.

* exact_name: the full name; no other published record has it.
* core_name: `strip_company_suffix` of the name (no region, no legal form), at least three
  characters; every published name that contains it has that same core.
* fragment2: a two-character word of the core (or its first two characters) found in no other
  published name, nor in the address, contacts or other text of any other published record.
* two_words: `<place> <word>` — the place the name starts with (`呼和浩特市` → `呼和浩特`, `兴安盟`
  → `兴安`, `内蒙古`) and the trade name or the rest of the core (a purchaser's whole core);
  filtered to the target's kind; expected: the records of that kind whose names hold both (at
  most three, the fewest of the words tried); dropped when another record of that kind has the
  word in its name and the place only elsewhere (its address).
* pinyin: toneless pinyin of the core (`yinshanshengtaihuanjing`), of the trade name (`tuoling`) or
  of an expert's name (kinds: expert); compared as substrings of the pinyin of every published
  name and core: all records it is found in must share the target's core (or its name, for
  persons).
* initials: initials of the core (`bjyw`) or of the name up to the end of its core (`nmgfdzbdl`),
  compared like pinyin, with the initials of every published name and core.
* typo: the core, or the full name, with one character replaced by a common homophone (GB 2312
  level 1, same toneless reading, the same tone preferred): no published name contains the typo,
  the only published names within one substituted character of it are the target's (or records
  with the same core), and its pinyin is found only in those.
* fullwidth: a full name with full-width brackets (`（普通合伙）`), a commodity's brand with its
  model in full-width letters and digits, or a USCC in full-width characters.
* traditional: the full name or the core in traditional characters (zhconv `zh-hant`), kept only
  when folding gives the simplified text back; labelled as exact_name or core_name.
* uscc: an organization's unified social credit code (some in lower case); no other published
  record has it.
* catalog_brand: a commodity class's catalogue code (`A02020000`, or its short form `A0202`) and a
  brand (Chinese, or its Latin alias from `registry/data/brand_aliases.csv`): expected are all
  published commodities of that class and brand (at most five).
* brand_model: a brand (Chinese or Latin alias) and the fewest words of the model that single the
  commodity out (`HP M404dn`, `联想 M750t i5-13500 16G`); expected are the published commodities
  of that brand whose name and model hold every word (at most three).
* expert_name: an expert's name (kinds: expert); expected are the published experts of that name;
  dropped when the name is part of another published expert's name or of another published
  expert's employer or declared relationships.

Queries never hold an ID number or a phone number (names and codes of organizations are public,
personal numbers are not).
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import zhconv
from pypinyin import Style, lazy_pinyin

from models.organization import ORGANIZATION_KINDS, RecordKind, Status
from registry.demo import (
    CORE_WORDS,
    DEFAULT_SEED,
    SERVE_DEMO_COUNT,
    demo_counts,
    plan_demo_commodities,
    plan_demo_experts,
    plan_demo_organizations,
)
from registry.normalize import normalize_brand
from search.text import (
    ANALYZER_VERSION,
    REGION_PREFIXES,
    fold,
    pinyin_full,
    pinyin_initials,
    strip_company_suffix,
    word_tokens,
)

SEED = DEFAULT_SEED
ORGANIZATIONS = SERVE_DEMO_COUNT
EXPERTS, COMMODITIES = demo_counts(ORGANIZATIONS)
# The day the experts and commodities are planned as of. Terms and price dates are relative to
# it, and so are experts' names: their years of experience are drawn from a range that depends
# on the year (`registry/demo.py`), which shifts the random draws that follow. Any day of this
# year gives the same names; `bench/search_quality.py` seeds with the day in the header.
AS_OF = date(2026, 1, 1)
OUTPUT = Path(__file__).resolve().with_name("demo_queries.json")
# A second set, drawn the same way with other random choices and sharing no query with the
# first: ranking was tuned while reading the first set's misses, so only this one measures it
# honestly (`python tests/search_queries/generate.py --held-out`)
HELD_OUT = "held-out"
HELD_OUT_OUTPUT = Path(__file__).resolve().with_name("heldout_queries.json")

PER_CLASS = 30  # queries wanted per class (fewer when the data has fewer clear ones)
MAX_SET = 3  # equally good answers a query may have
MAX_SET_GOODS = 5  # … for a brand within a catalogue class
MAX_INITIALS = 10  # longer strings of initials are not what people type

CLASSES = (
    "exact_name",
    "core_name",
    "fragment2",
    "two_words",
    "pinyin",
    "initials",
    "typo",
    "fullwidth",
    "traditional",
    "uscc",
    "catalog_brand",
    "brand_model",
    "expert_name",
)
MIN_PER_CLASS = 25
MIN_TOTAL = 200

# Never approved: not visible to the public, so neither targets nor competitors.
UNPUBLISHED = frozenset({Status.draft, Status.submitted, Status.returned})

_CJK_ONLY = re.compile(r"[\u3400-\u9fff]+")
_MODEL_WORD = re.compile(r"[0-9A-Za-z\u3400-\u9fff][0-9A-Za-z\u3400-\u9fff.\-]*")


def is_published(status: Status, *, cancelled_from_draft: bool = False) -> bool:
    """Approved at least once, as the demo seeds it (`registry/demo.py` `_create`,
    `_create_expert`, `seed_demo_commodities`): a draft cancelled before submission never was."""
    return status not in UNPUBLISHED and not cancelled_from_draft


# --- the records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """A planned record as the labels see it: its name in the forms users type, and the rest of
    its public text (to keep fragments that other records hold elsewhere out of the set)."""

    id: str
    kind: RecordKind
    status: Status
    published: bool
    name: str
    folded: str
    core: str  # organizations: strip_company_suffix; others: the folded name
    pinyin: str  # of the name and of the core, `|`-separated (no match across the two)
    initials: str
    other: str = ""  # folded public text besides the name, `|`-separated
    uscc: str | None = None
    catalog_code: str | None = None
    brand: str | None = None  # canonical (normalize_brand)
    model: str | None = None

    @property
    def is_organization(self) -> bool:
        return self.kind in ORGANIZATION_KINDS


def _joined(*parts: str | None) -> str:
    return "|".join(dict.fromkeys(fold(p) for p in parts if p))


def _organization(plan: Any) -> Record:
    data = plan.payload
    name = data["name"]
    core = strip_company_suffix(name)
    people = [data.get("legal_representative") or {}, *data.get("contacts", [])]
    people += data.get("staff") or []
    other = _joined(
        data.get("address"),
        *(p.get("name") for p in people),
        *(q.get("name") for q in data.get("qualifications") or []),
        *(q.get("issuer") for q in data.get("qualifications") or []),
        *(a.get("bank") for a in data.get("bank_accounts") or []),
    )
    return Record(
        id=plan.id,
        kind=plan.kind,
        status=plan.status,
        published=is_published(plan.status, cancelled_from_draft=plan.cancel_from_draft),
        name=name,
        folded=fold(name),
        core=core,
        pinyin=_joined(pinyin_full(name), pinyin_full(core)),
        initials=_joined(pinyin_initials(name), pinyin_initials(core)),
        other=other,
        uscc=data["uscc"],
    )


def _expert(plan: Any) -> Record:
    data = plan.payload
    name = data["name"]
    other = _joined(
        data["employer"]["name"],
        data.get("title"),
        *(r.get("name") for r in data.get("relationships") or []),
        *(r.get("note") for r in data.get("relationships") or []),
    )
    return Record(
        id=plan.id,
        kind=RecordKind.expert,
        status=plan.status,
        published=is_published(plan.status),
        name=name,
        folded=fold(name),
        core=fold(name),
        pinyin=pinyin_full(name, person=True),
        initials=pinyin_initials(name, person=True),
        other=other,
    )


def _commodity(plan: Any) -> Record:
    data = plan.payload
    name = data["name"]
    return Record(
        id=plan.id,
        kind=RecordKind.commodity,
        status=plan.status,
        published=is_published(plan.status),
        name=name,
        folded=fold(name),
        core=fold(name),
        pinyin=pinyin_full(name),
        initials=pinyin_initials(name),
        other=_joined(data["model"], data["brand"]),
        catalog_code=data["catalog_code"],
        brand=normalize_brand(data["brand"]),
        model=data["model"],
    )


@dataclass(frozen=True)
class Plan:
    """The demo plan of `seed --demo 300`, as records, and the personal numbers it holds."""

    records: tuple[Record, ...]
    personal_numbers: frozenset[str]  # ID numbers, phones, bank accounts: no query holds one

    @property
    def published(self) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.published)

    @property
    def by_id(self) -> dict[str, Record]:
        return {r.id: r for r in self.records}


def _personal_numbers(organizations: Sequence[Any], experts: Sequence[Any]) -> frozenset[str]:
    """ID numbers, phones and bank accounts anywhere in the plan."""
    numbers: set[str] = set()
    for org in organizations:
        data = org.payload
        people = [data.get("legal_representative") or {}, *data.get("contacts", [])]
        for person in [*people, *(data.get("staff") or [])]:
            numbers.update(str(person[k]) for k in ("id_number", "phone") if person.get(k))
        numbers.update(a["account_number"] for a in data.get("bank_accounts") or [])
    for expert in experts:
        numbers.update(str(expert.payload[k]) for k in ("id_number", "phone") if expert.payload[k])
    return frozenset(numbers)


@cache
def demo_plan() -> Plan:
    """The records `registry seed --demo 300` creates (same seed, same plans, same ids)."""
    organizations = plan_demo_organizations(ORGANIZATIONS, SEED)
    experts = plan_demo_experts(
        EXPERTS, SEED, as_of=AS_OF, organizations_plan=organizations[: 5 * (EXPERTS - 1) + 1]
    )
    commodities = plan_demo_commodities(
        COMMODITIES,
        SEED,
        as_of=AS_OF,
        organizations_plan=organizations[: 5 * (COMMODITIES - 1) + 1],
    )
    records = (
        *(_organization(o) for o in organizations),
        *(_expert(e) for e in experts),
        *(_commodity(c) for c in commodities),
    )
    return Plan(records, _personal_numbers(organizations, experts))


# --- queries ---------------------------------------------------------------------------------


@dataclass
class Query:
    q: str
    cls: str
    expected: list[Record]  # acceptable top hits; the first is the target
    note: str
    kinds: list[RecordKind] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> Record:
        return self.expected[0]

    def as_json(self, number: int) -> dict[str, Any]:
        return {
            "id": f"{self.cls}-{number:03d}",
            "class": self.cls,
            "q": self.q,
            "kinds": [k.value for k in self.kinds] if self.kinds else None,
            "expected_id": self.target.id,
            "expected_ids": [r.id for r in self.expected],
            "target_kind": self.target.kind.value,
            "target_status": self.target.status.value,
            "target_name": self.target.name,
            "note": self.note,
        }


def _expected(target: Record, hits: Iterable[Record], limit: int = MAX_SET) -> list[Record] | None:
    """Target first, then the other hits; None if the target is not among them or there are too
    many to call any of them the answer."""
    found = list(dict.fromkeys(hits))
    if target not in found or len(found) > limit:
        return None
    return [target, *(r for r in found if r is not target)]


def _same_core(target: Record, hits: Iterable[Record]) -> bool:
    return all(r.core == target.core and r.kind in _peer_kinds(target) for r in hits)


def _peer_kinds(target: Record) -> frozenset[RecordKind]:
    return ORGANIZATION_KINDS if target.is_organization else frozenset({target.kind})


class Labeler:
    """The query makers of each class, over one plan's published records."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.published = plan.published
        self.organizations = [r for r in self.published if r.is_organization]
        self.experts = [r for r in self.published if r.kind is RecordKind.expert]
        self.commodities = [r for r in self.published if r.kind is RecordKind.commodity]

    # matching among published records

    def named(self, text: str, pool: Iterable[Record] | None = None) -> list[Record]:
        """Published records whose folded name contains `text` (folded)."""
        needle = fold(text)
        return [r for r in (self.published if pool is None else pool) if needle in r.folded]

    def same_core_hits(self, target: Record, text: str) -> list[Record] | None:
        """The records named by `text`, if all of them share the target's core."""
        hits = self.named(text)
        if not _same_core(target, hits):
            return None
        return _expected(target, hits)

    # classes

    def exact_name(self, target: Record, rng: random.Random) -> Query | None:
        hits = [r for r in self.published if r.folded == target.folded]
        if hits != [target]:
            return None
        return Query(target.name, "exact_name", [target], f"full name of the {_label(target)}")

    def core_name(self, target: Record, rng: random.Random) -> Query | None:
        if not target.is_organization or target.core == target.folded or len(target.core) < 3:
            return None
        expected = self.same_core_hits(target, target.core)
        if expected is None:
            return None
        return Query(
            target.core,
            "core_name",
            expected,
            f"core name (no region, no legal form) of {target.name}" + _also(expected),
        )

    def fragment2(self, target: Record, rng: random.Random) -> Query | None:
        if not target.is_organization:
            return None
        words = [w for w in word_tokens(target.core) if len(w) == 2 and _CJK_ONLY.fullmatch(w)]
        head = target.core[:2]
        candidates = list(dict.fromkeys([head, *words] if _CJK_ONLY.fullmatch(head) else words))
        rng.shuffle(candidates)
        for fragment in candidates:
            if self.named(fragment) != [target]:
                continue
            if any(fragment in r.other for r in self.published if r is not target):
                continue
            return Query(
                fragment,
                "fragment2",
                [target],
                f"two characters of {target.name}, in no other published name or text",
            )
        return None

    def two_words(self, target: Record, rng: random.Random) -> Query | None:
        if not target.is_organization:
            return None
        place = _place_word(target.folded)
        if place is None:
            return None
        words = [w for w in _name_words(target) if w not in place and place not in w]
        rng.shuffle(words)
        best: list[Record] | None = None
        best_word = ""
        same_kind = [r for r in self.published if r.kind is target.kind]
        for word in words:
            hits = [r for r in same_kind if place in r.folded and word in r.folded]
            # a record with the word in its name and the place only in its address (`内蒙古` is
            # in every address) might be what the user meant as well: not clear enough
            if any(word in r.folded and place in r.other for r in same_kind if r not in hits):
                continue
            expected = _expected(target, hits)
            if expected is not None and (best is None or len(expected) < len(best)):
                best, best_word = expected, word
        if best is None:
            return None
        return Query(
            f"{place} {best_word}",
            "two_words",
            best,
            f"place and a word of {target.name}; the {target.kind.value}s holding both"
            + _also(best),
            kinds=[target.kind],
        )

    def pinyin(self, target: Record, rng: random.Random) -> Query | None:
        if target.kind is RecordKind.expert:
            spelled = pinyin_full(target.name, person=True)
            hits = [r for r in self.experts if spelled in r.pinyin]
            if not all(r.folded == target.folded for r in hits):
                return None
            expected = _expected(target, hits)
            if expected is None:
                return None
            return Query(
                spelled,
                "pinyin",
                expected,
                f"pinyin of the expert's name {target.name}" + _also(expected),
                kinds=[RecordKind.expert],
            )
        if not target.is_organization:
            return None
        forms = [("core", target.core)]
        trade = _trade_name(target)
        if trade is not None:
            forms.append(("trade name", trade))
        if rng.random() < 0.5:
            forms.reverse()
        for what, text in forms:
            if len(text) < 2 or not _CJK_ONLY.fullmatch(text):
                continue
            spelled = pinyin_full(text)
            hits = [r for r in self.published if spelled in r.pinyin]
            if not _same_core(target, hits):
                continue
            expected = _expected(target, hits)
            if expected is not None:
                return Query(
                    spelled,
                    "pinyin",
                    expected,
                    f"pinyin of the {what} {text} of {target.name}" + _also(expected),
                )
        return None

    def initials(self, target: Record, rng: random.Random) -> Query | None:
        if not target.is_organization or not _CJK_ONLY.fullmatch(target.core):
            return None
        forms = [("core", target.core)]
        at = target.folded.find(target.core)
        if 0 < at <= 3:  # 内蒙古, 包头市 …: `nmgjs` for 内蒙古建设
            forms.append(("name up to its core", target.folded[: at + len(target.core)]))
        for what, text in forms:
            typed = pinyin_initials(text)
            if not 4 <= len(typed) <= MAX_INITIALS:
                continue
            hits = [r for r in self.published if typed in r.initials]
            if not _same_core(target, hits):
                continue
            expected = _expected(target, hits)
            if expected is not None:
                return Query(
                    typed,
                    "initials",
                    expected,
                    f"initials of the {what} {text} of {target.name}" + _also(expected),
                )
        return None

    def typo(self, target: Record, rng: random.Random) -> Query | None:
        if not target.is_organization or not _CJK_ONLY.fullmatch(target.core):
            return None
        whole = rng.random() < 0.3
        text = target.name if whole else target.core
        at = target.name.find(target.core) if whole else 0
        if at < 0:
            return None
        core = target.core
        readings = lazy_pinyin(core, style=Style.TONE3, neutral_tone_with_five=True)
        if len(readings) != len(core):
            return None
        positions = list(range(len(core)))
        rng.shuffle(positions)
        for i in positions:
            original = core[i]
            for replacement in _homophones(readings[i], original, rng):
                typed = text[: at + i] + replacement + text[at + i + 1 :]
                expected = self._typo_answer(target, typed)
                if expected is not None:
                    return Query(
                        typed,
                        "typo",
                        expected,
                        f"{'full name' if whole else 'core'} of {target.name} with "
                        f"{original} typed as the homophone {replacement}" + _also(expected),
                    )
        return None

    def _typo_answer(self, target: Record, typed: str) -> list[Record] | None:
        folded = fold(typed)
        if self.named(folded):  # the typo is a real name (or part of one)
            return None
        near = [r for r in self.published if _within_one(folded, r.folded)]
        spelled = pinyin_full(typed)
        sounding = [r for r in self.published if spelled in r.pinyin]
        if not near or not _same_core(target, near) or not _same_core(target, sounding):
            return None
        if target not in sounding:  # the new character changed a neighbour's reading
            return None
        return _expected(target, [*near, *sounding])

    def fullwidth(self, target: Record, rng: random.Random) -> Query | None:
        if target.is_organization and "(" in target.name:
            typed = target.name.replace("(", "\uff08").replace(")", "\uff09")
            if self.named(typed) == [target]:
                return Query(
                    typed, "fullwidth", [target], f"{target.name} with full-width brackets"
                )
        if target.kind is RecordKind.commodity:
            found = self.brand_model(target, rng)
            if found is None:
                return None
            brand, words = found.extra["brand"], found.extra["words"]
            if not any(w.isascii() for w in words):
                return None
            typed = f"{brand} {' '.join(_full_width(w) for w in words)}"
            return Query(
                typed,
                "fullwidth",
                found.expected,
                f"brand and model words of {target.name}, model in full-width characters"
                + _also(found.expected),
            )
        if target.is_organization and target.uscc:
            if [r for r in self.published if r.uscc == target.uscc] != [target]:
                return None
            return Query(
                _full_width(target.uscc),
                "fullwidth",
                [target],
                f"USCC of {target.name} in full-width characters",
            )
        return None

    def traditional(self, target: Record, rng: random.Random) -> Query | None:
        if not target.is_organization:
            return None
        forms = [target.name, target.core]
        if rng.random() < 0.5:
            forms.reverse()
        for text in forms:
            written = str(zhconv.convert(text, "zh-hant"))
            if written == text or fold(written) != fold(text):
                continue
            if text == target.name:
                exact = self.exact_name(target, rng)
                if exact is not None:
                    note = f"full name of the {_label(target)} in traditional characters"
                    return Query(written, "traditional", exact.expected, note)
            else:
                core = self.core_name(target, rng)
                if core is not None:
                    note = f"core name of {target.name} in traditional characters"
                    return Query(written, "traditional", core.expected, note + _also(core.expected))
        return None

    def uscc(self, target: Record, rng: random.Random) -> Query | None:
        if not target.is_organization or not target.uscc:
            return None
        if [r for r in self.published if r.uscc == target.uscc] != [target]:
            return None
        lower = any(c.isalpha() for c in target.uscc) and rng.random() < 0.2
        typed = target.uscc.lower() if lower else target.uscc
        how = " in lower case" if lower else ""
        return Query(typed, "uscc", [target], f"USCC of {target.name}{how}")

    def catalog_brand(self, target: Record, rng: random.Random) -> Query | None:
        """Two queries per class and brand: the official code with the Chinese brand (made from
        its first commodity), the short code with the Latin alias if there is one (from its
        second)."""
        if target.kind is not RecordKind.commodity or not target.catalog_code:
            return None
        group = [
            r
            for r in self.commodities
            if r.catalog_code == target.catalog_code and r.brand == target.brand
        ]
        variant = group.index(target)
        if variant > 1:
            return None
        expected = _expected(target, group, MAX_SET_GOODS)
        if expected is None:
            return None
        code = _short_code(target.catalog_code) if variant else target.catalog_code
        brand = _brand_word(target, latin=bool(variant))
        return Query(
            f"{code} {brand}",
            "catalog_brand",
            expected,
            f"catalogue class {target.catalog_code} and brand {_chinese_brand(target)}: "
            f"its {len(expected)} published commodities",
        )

    def brand_model(self, target: Record, rng: random.Random) -> Query | None:
        if target.kind is not RecordKind.commodity or not target.model:
            return None
        words = _model_words(target.model)
        same_brand = [r for r in self.commodities if r.brand == target.brand]

        def hits(chosen: list[str]) -> list[Record]:
            return [r for r in same_brand if all(_has_word(r, w) for w in chosen)]

        chosen = _series_words(target.model)
        current = hits(chosen)
        while len(current) > 1:  # add the word that narrows most, digits first on a tie
            left = [w for w in words if w not in chosen]
            if not left:
                break
            best = min(left, key=lambda w: (len(hits([*chosen, w])), not _has_digit(w)))
            if len(hits([*chosen, best])) == len(current):
                break  # no word narrows it further
            chosen.append(best)
            current = hits(chosen)
        expected = _expected(target, current)
        if expected is None:
            return None
        chosen.sort(key=words.index)
        brand = _brand_word(target, latin=rng.random() < 0.4)
        return Query(
            f"{brand} {' '.join(chosen)}",
            "brand_model",
            expected,
            f"brand and model words of {target.name}" + _also(expected),
            extra={"brand": brand, "words": chosen},
        )

    def expert_name(self, target: Record, rng: random.Random) -> Query | None:
        if target.kind is not RecordKind.expert:
            return None
        hits = [r for r in self.experts if target.folded in r.folded]
        if any(r.folded != target.folded for r in hits):
            return None
        if any(target.folded in r.other for r in self.experts):
            return None
        expected = _expected(target, hits)
        if expected is None:
            return None
        return Query(
            target.name,
            "expert_name",
            expected,
            f"name of the expert ({target.status.value})" + _also(expected),
            kinds=[RecordKind.expert],
        )


# --- helpers ---------------------------------------------------------------------------------


def _label(record: Record) -> str:
    return f"{record.kind.value} ({record.status.value})"


def _also(expected: Sequence[Record]) -> str:
    if len(expected) == 1:
        return ""
    others = ", ".join(r.name for r in expected[1:])
    return f"; equally good: {others}"


def _place_word(folded: str) -> str | None:
    """The place a name starts with, as typed in a query: `呼和浩特市` → `呼和浩特`, `兴安盟` →
    `兴安`, `丰镇市` → `丰镇`; banners keep their whole name (`正镶白旗`); `内蒙古` as it is."""
    for prefix in REGION_PREFIXES:
        if folded.startswith(prefix):
            if prefix.endswith(("市", "盟", "县")) and len(prefix) >= 3:
                return prefix[:-1]
            return prefix
    return None


def _trade_name(target: Record) -> str | None:
    """The trade name (字号) a company's core starts with: one of the demo's trade words
    (`黄河湾`, `敕勒川`) or its first two characters (`泰顺`); None for purchasers, whose
    names have none (`第一中学`)."""
    if target.kind is RecordKind.purchaser:
        return None
    core = target.core
    for word in sorted(CORE_WORDS, key=len, reverse=True):
        if core.startswith(word) and len(core) > len(word):
            return word
    return core[:2] if len(core) > 2 else None


def _name_words(target: Record) -> list[str]:
    """Words of a name a user would pair with a place: the first word of the core (the trade
    name, `泰顺`) and the rest of it (`科技`); for a purchaser also the whole core (`人民医院`)."""
    core = target.core
    words = [core] if target.kind is RecordKind.purchaser else []
    first = _trade_name(target)
    if first is not None:
        words.append(first)
        rest = core[len(first) :]
        if len(rest) >= 2 and _CJK_ONLY.fullmatch(rest):
            words.append(rest)
    return [w for w in dict.fromkeys(words) if len(w) >= 2 and _CJK_ONLY.fullmatch(w)]


def _within_one(needle: str, haystack: str) -> bool:
    """`needle` is in `haystack` with at most one character substituted."""
    n = len(needle)
    for start in range(len(haystack) - n + 1):
        window = haystack[start : start + n]
        if sum(a != b for a, b in zip(window, needle, strict=True)) <= 1:
            return True
    return False


@cache
def _common_readings() -> dict[str, tuple[tuple[str, str], ...]]:
    """Toneless pinyin → (character, tone3 reading) of GB 2312's 3,755 level-1 (most common)
    characters: the ones a pinyin input method offers first."""
    pinyin_full("")  # search.text's phrase corrections, loaded into pypinyin
    readings: dict[str, list[tuple[str, str]]] = {}
    for row in range(0xB0, 0xD8):
        for col in range(0xA1, 0xFF):
            try:
                char = bytes((row, col)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            tone3 = lazy_pinyin(char, style=Style.TONE3, neutral_tone_with_five=True)[0]
            readings.setdefault(tone3.rstrip("12345"), []).append((char, tone3))
    return {key: tuple(sorted(value)) for key, value in readings.items()}


def _homophones(reading: str, original: str, rng: random.Random) -> list[str]:
    """Common characters read like `reading` (tone3), same tone first, in a seeded order."""
    pool = [
        (char, tone3)
        for char, tone3 in _common_readings().get(reading.rstrip("12345"), ())
        if char != original and fold(char) == char
    ]
    same = [c for c, t in pool if t == reading]
    other = [c for c, t in pool if t != reading]
    rng.shuffle(same)
    rng.shuffle(other)
    return same + other


def _full_width(text: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms, spaces as U+3000."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


def _short_code(code: str) -> str:
    """A02020000 → A0202: the catalogue code without its trailing zero pairs."""
    short = code
    while len(short) > 1 and short.endswith("00"):
        short = short[:-2]
    return short


def _brand_word(record: Record, *, latin: bool) -> str:
    """The brand as users type it: its Chinese name, or its Latin alias (`HP`, `Lenovo`)."""
    assert record.brand is not None
    if latin and record.brand.isascii():
        return record.brand if len(record.brand) <= 3 else record.brand.title()
    return _chinese_brand(record)


def _chinese_brand(record: Record) -> str:
    model = record.model or ""
    name = record.name
    # the demo writes `<brand><model> <kind>`: the brand is what precedes the model
    head = model.split("(")[0].split()[0] if model else ""
    at = name.find(head) if head else -1
    return name[:at] if at > 0 else name.split()[0]


def _model_words(model: str) -> list[str]:
    """Words of a model users would type: the model's words, then the configuration's parts
    (`启天 M455(i5-12500/16G/512G)` → 启天, M455, i5-12500, 16G, 512G), ASCII or CJK only."""
    main, _, config = model.partition("(")
    words = main.split()
    words += [p for p in config.rstrip(")").split("/") if p]
    return [w for w in dict.fromkeys(words) if _MODEL_WORD.fullmatch(w)]


def _series_words(model: str) -> list[str]:
    """What a model is called by first: a Chinese series (`启天`, `全顺`, `汉`), else the first
    word with a digit, with the word before it when it is a bare number (`ProBook 450`)."""
    main = model.partition("(")[0].split()
    if _CJK_ONLY.fullmatch(main[0]):
        return [main[0]]
    for i, word in enumerate(main):
        if _has_digit(word):
            return main[i - 1 : i + 1] if word.isdigit() and i > 0 else [word]
    return main[:1]


def _has_word(record: Record, word: str) -> bool:
    return fold(word) in fold(f"{record.name} {record.model}")


def _has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


# --- the set -------------------------------------------------------------------------------------

_KIND_CYCLE = (RecordKind.supplier,) * 3 + (RecordKind.agent, RecordKind.purchaser)


def _target_order(records: Sequence[Record], rng: random.Random) -> list[Record]:
    """Published records in a seeded order that mixes kinds: organizations three suppliers to
    an agent and a purchaser, then experts and commodities each in their own seeded order."""
    by_kind: dict[RecordKind, list[Record]] = {}
    for record in records:
        by_kind.setdefault(record.kind, []).append(record)
    for group in by_kind.values():
        rng.shuffle(group)
    ordered: list[Record] = []
    queues = {kind: list(by_kind.get(kind, [])) for kind in ORGANIZATION_KINDS}
    while any(queues.values()):
        for kind in _KIND_CYCLE:
            if queues[kind]:
                ordered.append(queues[kind].pop())
    for kind in (RecordKind.expert, RecordKind.commodity):
        ordered += by_kind.get(kind, [])
    return ordered


# commodities come first in fullwidth (model words) so that organizations fill the rest
_CLASS_ORDER: dict[str, Callable[[list[Record]], list[Record]]] = {
    "fullwidth": lambda order: (
        [r for r in order if r.is_organization and "(" in r.name]
        + [r for r in order if r.kind is RecordKind.commodity][:8]
        + [r for r in order if r.is_organization and "(" not in r.name]
    ),
    "pinyin": lambda order: (
        [r for r in order if r.kind is RecordKind.expert][:6]
        + [r for r in order if r.kind is not RecordKind.expert]
    ),
    "exact_name": lambda order: (
        [r for r in order if r.kind is RecordKind.commodity][:4]
        + [r for r in order if r.is_organization]
    ),
}


def build(
    plan: Plan | None = None,
    per_class: int = PER_CLASS,
    *,
    salt: str = "",
    avoid: Sequence[str] = (),
) -> list[Query]:
    """The query set, class by class; each class has its own seeded order of targets. `salt`
    draws another set; `avoid` are queries (as typed) it must not repeat."""
    plan = plan or demo_plan()
    labeler = Labeler(plan)
    queries: list[Query] = []
    avoided = {fold(q) for q in avoid}
    for cls in CLASSES:
        rng = random.Random(f"search-queries:{SEED}:{cls}{':' + salt if salt else ''}")
        order = _target_order(labeler.published, rng)
        order = _CLASS_ORDER.get(cls, lambda o: o)(order)
        make: Callable[[Record, random.Random], Query | None] = getattr(labeler, cls)
        made: list[Query] = []
        seen: set[str] = set()
        for target in order:
            if len(made) >= per_class:
                break
            query = make(target, rng)
            if query is None or fold(query.q) in seen or fold(query.q) in avoided:
                continue
            query.cls = cls
            seen.add(fold(query.q))
            made.append(query)
        queries += made
    return queries


def document(
    queries: Sequence[Query], plan: Plan | None = None, *, salt: str = ""
) -> dict[str, Any]:
    plan = plan or demo_plan()
    counts = Counter(q.cls for q in queries)
    published = Counter(r.kind.value for r in plan.published)
    return {
        "header": {
            "description": (
                "Labeled search queries over the demo data of `registry seed --demo 300` "
                "(also `registry serve --demo`); made by tests/search_queries/generate.py from "
                "the planned records, without running any search. A hit is right when it is "
                "one of expected_ids."
            ),
            "generator": "python tests/search_queries/generate.py"
            + (" --held-out" if salt else ""),
            "seed": SEED,
            **({"held_out": True} if salt else {}),
            "as_of": AS_OF.isoformat(),
            "organizations": ORGANIZATIONS,
            "experts": EXPERTS,
            "commodities": COMMODITIES,
            "published_targets": dict(sorted(published.items())),
            "analyzer_version": ANALYZER_VERSION,
            "counts": {cls: counts[cls] for cls in CLASSES},
            "total": len(queries),
        },
        "queries": [
            q.as_json(n)
            for cls in CLASSES
            for n, q in enumerate((q for q in queries if q.cls == cls), start=1)
        ],
    }


def render(doc: dict[str, Any]) -> str:
    """JSON with one query a line (readable diffs when the set is regenerated)."""
    header = json.dumps(doc["header"], ensure_ascii=False, indent=2)
    lines = [json.dumps(q, ensure_ascii=False) for q in doc["queries"]]
    body = ",\n".join(f"    {line}" for line in lines)
    indented = header.replace("\n", "\n  ")
    return f'{{\n  "header": {indented},\n  "queries": [\n{body}\n  ]\n}}\n'


def main() -> int:
    held_out = "--held-out" in sys.argv[1:]
    queries = build()
    output = OUTPUT
    if held_out:
        queries = build(salt=HELD_OUT, avoid=[q.q for q in queries])
        output = HELD_OUT_OUTPUT
    doc = document(queries, salt=HELD_OUT if held_out else "")
    output.write_text(render(doc), encoding="utf-8")
    counts = doc["header"]["counts"]
    width = max(map(len, counts))
    for cls, n in counts.items():
        print(f"{cls:{width}} {n:4d}")
    print(f"{'total':{width}} {doc['header']['total']:4d}  → {output}")
    short = [cls for cls, n in counts.items() if n < MIN_PER_CLASS]
    if held_out:  # what the first set left: small classes may have (nearly) nothing new
        return 0 if doc["header"]["total"] >= MIN_TOTAL else 1
    if short or doc["header"]["total"] < MIN_TOTAL:
        print(f"too few queries: {short or 'total'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
