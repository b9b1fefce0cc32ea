"""Near-duplicate matching (issue 6): a matching engine configured per kind of record.

A `Matcher` is data: which fields of a record it reads (paths into the record's mapping), which
comparator scores each field and with what weight, which blocking keys file a record, the review
threshold, and the rules that are not a matter of degree (a decisive identifier, a veto). It runs
over any table of plain mappings — the stored JSON `data` of a record with decrypted values — so
the same engine is measured on generated labeled sets and on public benchmark data.

`Matcher.compare(a, b)` gives a `Match`: a score in [0, 1], the evidence field by field in the
words a reviewer reads (`name after suffix normalization 0.93, address 0.71, same phone 1.00`),
and a veto when the pair cannot be a duplicate whatever the score says. The score is the
weighted mean of the scores of the fields about which the comparators had something to say
(a comparator says nothing about a field missing on either side, and some say nothing when the
values merely differ: two e-mail addresses of one person are common). A decisive identifier
(the same USCC, the same resident ID number) makes the score 1.0.

`candidate_pairs(records, matcher)` files each record under at most four blocking keys and
compares only records sharing one; a block larger than `max_block` is compared by sorted
neighbourhood (sorted by `matcher.sort_key`, each record with the next `window - 1`), so the
number of pairs stays near-linear in the number of records. `scan_records` yields the pairs for
review. `MATCHERS` holds the three configurations:

* organizations (suppliers, agents, purchasers): name variants (legal form, region prefix,
  brackets, full width, traditional characters, typos, homophones, abbreviations) with address,
  legal representative and phone. A branch (`分公司`, `分店`, …) is never a duplicate of its
  head office nor of a branch of another place. The same USCC is decisive; two different valid
  USCCs are two legal entities (veto) unless their organization-code segments (characters 9–17)
  are equal — legacy conversions kept the old 组织机构代码 — which is strong evidence.
* experts: the same resident ID number is decisive; two ID numbers that differ by more than one
  typo (one substitution, one adjacent transposition, or day and month of the birth date
  swapped; the check character is not compared) are two persons (veto), within one typo they
  are strong evidence. Names are compared by character and by pinyin (王丽/王莉), birth dates
  allow transposed digits or swapped day and month, a different sex is a veto.
* commodities: compared only within one catalog code (they are blocked on it). The model is
  normalized (`registry.normalize.normalize_model`: case, spaces, hyphens, the brand repeated at
  its start) and the brand folded through its aliases (惠普 = HP); a model that differs only by a
  series name (`LaserJet Pro M404dn` / `M404dn`) is the same model number; models whose digit
  groups differ (`M404dn` / `M405dn`) are different products (veto).

Raise a matcher's `version` whenever its scores change: stored suggestions name the version
that produced them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from typing import Any, Protocol

from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import ratio

from registry.identifiers import IdentifierError, validate_resident_id, validate_uscc
from registry.normalize import normalize_brand, normalize_model
from search.text import REGION_NAMES, fold, pinyin_full, strip_company_suffix

__all__ = [
    "MATCHERS",
    "REVIEW_THRESHOLD",
    "Evidence",
    "FieldRule",
    "KeyRule",
    "Match",
    "Matcher",
    "blocking_keys",
    "candidate_pairs",
    "compare",
    "matcher_for",
    "name_similarity",
    "scan_records",
]

REVIEW_THRESHOLD = 0.82  # organizations: at or above, a candidate for a reviewer
MAX_KEYS = 4  # blocking keys per record


# --- results -------------------------------------------------------------------------------------


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
    threshold: float = REVIEW_THRESHOLD  # the review threshold of the matcher that scored it

    @property
    def for_review(self) -> bool:
        return self.vetoed is None and self.score >= self.threshold

    def explain(self) -> str:
        parts = [str(e) for e in self.evidence]
        if self.vetoed:
            parts.append(self.vetoed)
        return ", ".join(parts)

    def evidence_json(self) -> list[dict[str, Any]]:
        """The evidence as stored with a suggestion (scores rounded to 4 places)."""
        return [
            {"field": e.field, "score": round(e.score, 4), "note": e.note} for e in self.evidence
        ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a comparator says about one field of a pair."""

    score: float
    note: str
    veto: str | None = None  # the pair cannot be a duplicate
    decisive: bool = False  # the pair is the same entity (an identifier): score 1.0


# --- reading records -----------------------------------------------------------------------------


def _get(record: Mapping[str, Any], path: str) -> Any:
    """The value at `path`: `a.b` walks mappings, `a[].b` collects over a list (a list results)."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = record.get(head[:-2]) or []
        if not rest:
            return [i for i in items if i not in (None, "")]
        out = []
        for item in items:
            if isinstance(item, Mapping):
                value = _get(item, rest)
                if isinstance(value, list):
                    out.extend(value)
                elif value not in (None, ""):
                    out.append(value)
        return out
    value = record.get(head)
    if not rest:
        return value
    return _get(value, rest) if isinstance(value, Mapping) else None


_NON_DIGIT = re.compile(r"\D+")
_DIGIT_RUN = re.compile(r"[0-9]+")
_ALNUM_RUN = re.compile(r"[0-9a-z]+")
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_BRANCH = re.compile(
    r"(分公司|分店|分厂|分行|支行|分理处|分所|分院|办事处|分部|营业部|项目部|分中心)$"
)


def _text(value: Any) -> str:
    return fold(str(value)) if value not in (None, "") else ""


# --- comparators ---------------------------------------------------------------------------------


class Comparator(Protocol):
    """Scores one field of a pair. `prepare` runs once per record (on the values of the rule's
    paths); `__call__` on two prepared values, neither None; None means nothing to say."""

    def prepare(self, values: list[Any]) -> Any: ...

    def __call__(self, a: Any, b: Any) -> Outcome | None: ...


# Short forms of city and league names (`兴安` of 兴安盟, `满洲里` of 满洲里市) that
# search.text strips only for the largest cities; here any of them, when 4 characters remain.
_SHORT_PLACES = tuple(
    sorted(
        {n[:-1] for n in REGION_NAMES if n.endswith(("市", "盟")) and len(n) >= 3},
        key=lambda p: (-len(p), p),
    )
)
# Place names with one character blanked (`呼伦贝?市` → 呼伦贝尔市): a name whose region prefix
# was mistyped (`呼伦贝祥市…`) still has it dropped, or the core would keep the place.
_PLACE_SUFFIXES = ("市", "盟", "旗", "县", "区")
_PLACE_TYPOS: frozenset[str] = frozenset(
    n[:i] + "?" + n[i + 1 :]
    for n in REGION_NAMES
    if n.endswith(_PLACE_SUFFIXES) and len(n) >= 4
    for i in range(len(n) - 1)
)
_PLACE_LENGTHS = sorted({len(n) for n in REGION_NAMES if len(n) >= 4}, reverse=True)


def _mistyped_place(core: str) -> int:
    """The length of a mistyped place name (one character off) that `core` starts with, or 0."""
    for length in _PLACE_LENGTHS:
        head = core[:length]
        if len(core) - length < 2 or not head.endswith(_PLACE_SUFFIXES):
            continue
        if any(head[:i] + "?" + head[i + 1 :] in _PLACE_TYPOS for i in range(length - 1)):
            return length
    return 0


# What is left of a mistyped legal form (`股分有限`, `有现`, `有限责仟`) at the end of a core.
_FORM_REMAINS = re.compile(r"(\(集团\))?[股份分有限现责任仟公司集团]{2,}$")
_GROUP = re.compile(r"\((集团|总公司)\)")


def _match_core(name: str) -> str:
    """The core name as matching compares it: `search.text.strip_company_suffix`, then what
    it leaves on purpose for search — a short city name (`兴安腾丰…`), `(集团)` inside the name,
    a mistyped legal form (`…股分有限`) — dropped, blanks too."""
    core = strip_company_suffix(name).replace(" ", "")
    core = _GROUP.sub("", core)
    stripped = _FORM_REMAINS.sub("", core)
    if len(stripped) >= 2:
        core = stripped
    for place in _SHORT_PLACES:
        if core.startswith(place) and len(core) - len(place) >= 4:
            core = core[len(place) :]
            break
    return core[_mistyped_place(core) :]


@lru_cache(maxsize=200_000)
def _org_name_parts(name: str) -> tuple[str, str, str, str | None]:
    """(folded whole name, core, pinyin of the core, branch marker)."""
    whole = fold(name)
    core = _match_core(name) or whole
    found = _BRANCH.search(whole)
    return whole, core, pinyin_full(core), found.group(1) if found else None


def name_similarity(a: str, b: str) -> float:
    """Jaro-Winkler of the core names (region prefix, brackets and legal form dropped, folded).
    The whole names are not compared: two companies of one city and legal form share most of
    their whole names (`乌兰察布市…有限公司`) and would look alike."""
    return JaroWinkler.similarity(_org_name_parts(a)[1], _org_name_parts(b)[1])


def _different_branches(core_a: str, core_b: str) -> bool:
    """Two branches whose names differ after their common beginning (`…包头分公司` and
    `…鄂尔多斯分公司`): branches of different places."""
    common = next(
        (i for i, (x, y) in enumerate(zip(core_a, core_b, strict=False)) if x != y),
        min(len(core_a), len(core_b)),
    )
    return core_a[common:] != core_b[common:]


@dataclass(frozen=True)
class OrgName:
    """An organization's name: Jaro-Winkler of the core names (folded; region prefix, brackets
    and legal form dropped; see `name_similarity`); the same pinyin of the core (a homophone
    typed for a character) counts as `homophone`. Vetoes a branch against anything but the same
    branch."""

    label: str = "name"
    homophone: float = 0.95

    def prepare(self, values: list[Any]) -> Any:
        return _org_name_parts(str(values[0])) if values[0] else None

    def __call__(self, a: Any, b: Any) -> Outcome:
        whole_a, core_a, py_a, branch_a = a
        whole_b, core_b, py_b, branch_b = b
        veto = None
        if branch_a != branch_b:
            veto = "a branch and another entity (分支机构不是重复)"
        elif branch_a and _different_branches(core_a, core_b):
            veto = "branches of different places"
        if whole_a == whole_b:
            return Outcome(1.0, f"same {self.label} after folding", veto)
        if core_a == core_b:
            return Outcome(1.0, f"same {self.label} after suffix normalization", veto)
        score = JaroWinkler.similarity(core_a, core_b)
        if py_a == py_b and score < self.homophone:
            return Outcome(
                self.homophone, f"{self.label} after suffix normalization, same pinyin", veto
            )
        return Outcome(score, f"{self.label} after suffix normalization", veto)


@lru_cache(maxsize=200_000)
def _person_name_parts(name: str) -> tuple[str, str]:
    folded = fold(name).replace(" ", "").replace("·", "")
    return folded, pinyin_full(folded, person=True)


@dataclass(frozen=True)
class PersonName:
    """A person's name: the same folded name; the same pinyin (王丽/王莉: a homophone typed);
    one character typed differently; else Jaro-Winkler."""

    label: str = "name"
    homophone: float = 0.95
    one_char: float = 0.8

    def prepare(self, values: list[Any]) -> Any:
        return _person_name_parts(str(values[0])) if values[0] else None

    def __call__(self, a: Any, b: Any) -> Outcome:
        (fa, pa), (fb, pb) = a, b
        if fa == fb:
            return Outcome(1.0, f"same {self.label}")
        if pa == pb:
            return Outcome(self.homophone, f"{self.label}, same pinyin")
        score = JaroWinkler.similarity(fa, fb)
        if len(fa) == len(fb) >= 2 and sum(x != y for x, y in zip(fa, fb, strict=True)) == 1:
            return Outcome(max(score, self.one_char), f"{self.label}, one character differs")
        return Outcome(score, self.label)


@dataclass(frozen=True)
class JaroWinklerText:
    """Jaro-Winkler of folded texts (generic: names in benchmark data)."""

    label: str

    def prepare(self, values: list[Any]) -> Any:
        return _text(values[0]) or None

    def __call__(self, a: Any, b: Any) -> Outcome:
        if a == b:
            return Outcome(1.0, f"same {self.label}")
        return Outcome(JaroWinkler.similarity(a, b), self.label)


_ADDRESS_PREFIX = re.compile(r"^(内蒙古自治区|内蒙古)?([^市盟]{2,6}[市盟])?")


@dataclass(frozen=True)
class Address:
    """Indel similarity of folded addresses without blanks and without the leading province and
    city (`呼和浩特市赛罕区…` = `赛罕区…`; `216 号` = `216号`). Another house number in the same
    street is another place: the score is then at most `other_number`."""

    label: str = "address"
    other_number: float = 0.5

    def prepare(self, values: list[Any]) -> Any:
        text = _text(values[0]).replace(" ", "")
        text = _ADDRESS_PREFIX.sub("", text) or text
        return (text, _DIGIT_RUN.findall(text)[:1]) if text else None

    def __call__(self, a: Any, b: Any) -> Outcome:
        (text_a, number_a), (text_b, number_b) = a, b
        if text_a == text_b:
            return Outcome(1.0, f"same {self.label}")
        score = ratio(text_a, text_b) / 100
        if number_a and number_b and number_a != number_b and score > self.other_number:
            return Outcome(self.other_number, f"{self.label}, other house number")
        return Outcome(score, self.label)


@dataclass(frozen=True)
class Tokens:
    """Overlap of tokens (Latin/digit runs and CJK bigrams of the folded text): |A∩B| / |A∪B|."""

    label: str

    def prepare(self, values: list[Any]) -> Any:
        text = _text(values[0])
        if not text:
            return None
        tokens = set(_ALNUM_RUN.findall(text))
        for run in _HAN_RUN.findall(text):
            tokens.update(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
        return frozenset(tokens) or None

    def __call__(self, a: Any, b: Any) -> Outcome:
        score = len(a & b) / len(a | b)
        return Outcome(score, f"same {self.label}" if score == 1.0 else self.label)


@dataclass(frozen=True)
class Phone:
    """A phone number in common (digits only, 7 or more, an 86 prefix dropped). `differ`: the
    score when both have phones and none is shared (None: different phones say nothing)."""

    label: str = "phone"
    differ: float | None = 0.0

    def prepare(self, values: list[Any]) -> Any:
        phones: set[str] = set()
        for value in values:
            for item in value if isinstance(value, list) else [value]:
                digits = _NON_DIGIT.sub("", str(item or ""))
                digits = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
                if len(digits) >= 7:
                    phones.add(digits)
        return frozenset(phones) or None

    def __call__(self, a: Any, b: Any) -> Outcome | None:
        if a & b:
            return Outcome(1.0, f"same {self.label}")
        return None if self.differ is None else Outcome(self.differ, f"different {self.label}s")


@dataclass(frozen=True)
class Exact:
    """Equal folded values. `differ`: the score when they differ (None: nothing to say);
    `veto`: when they differ, the pair cannot be a duplicate."""

    label: str
    differ: float | None = 0.0
    veto: str | None = None

    def prepare(self, values: list[Any]) -> Any:
        return _text(values[0]).replace(" ", "") or None

    def __call__(self, a: Any, b: Any) -> Outcome | None:
        if a == b:
            return Outcome(1.0, f"same {self.label}")
        if self.veto:
            return Outcome(0.0, f"different {self.label}", self.veto)
        return None if self.differ is None else Outcome(self.differ, f"different {self.label}")


def _as_date(value: Any) -> str | None:
    """`YYYYMMDD` of a date, a datetime or an ISO string; None if it is none of these."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value:%Y%m%d}"
    digits = _NON_DIGIT.sub("", str(value or ""))
    return digits if len(digits) == 8 else None


def _transposed(a: str, b: str) -> bool:
    """Two distinct 8-digit dates that are one another with two adjacent digits swapped, or with
    day and month swapped (`19850312` / `19851203`)."""
    if len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    ):
        return True
    return len(a) == 8 and a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]


@dataclass(frozen=True)
class Dates:
    """The same date; transposed digits or day and month swapped; one digit differs; else 0."""

    label: str = "birth date"
    transposed: float = 0.85
    one_digit: float = 0.6

    def prepare(self, values: list[Any]) -> Any:
        return _as_date(values[0])

    def __call__(self, a: Any, b: Any) -> Outcome:
        if a == b:
            return Outcome(1.0, f"same {self.label}")
        if _transposed(a, b):
            return Outcome(self.transposed, f"{self.label}s transposed")
        if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
            return Outcome(self.one_digit, f"{self.label}s differ by one digit")
        return Outcome(0.0, f"different {self.label}s")


@dataclass(frozen=True)
class Uscc:
    """Unified social credit codes: the same code is decisive; different valid codes are two
    legal entities (veto) unless the organization-code segment (characters 9–17, the old
    组织机构代码 that legacy conversions kept) is the same — strong evidence then. An invalid
    code says nothing."""

    same_org_code: float = 1.0

    def prepare(self, values: list[Any]) -> Any:
        if not values[0]:
            return None
        try:
            return validate_uscc(str(values[0]))
        except IdentifierError:
            return None

    def __call__(self, a: Any, b: Any) -> Outcome:
        if a == b:
            return Outcome(1.0, "same USCC", decisive=True)
        if a[8:17] == b[8:17]:
            return Outcome(self.same_org_code, "same organization code in the USCC")
        return Outcome(0.0, "different USCCs", "different USCCs: two legal entities")


@dataclass(frozen=True)
class ResidentId:
    """Resident ID numbers: the same number is decisive. The first 17 characters (the check
    character is not compared) differing by one typo — one substitution, one adjacent
    transposition, or day and month of the birth date swapped — is strong evidence; more than
    that is two persons (veto)."""

    typo: float = 0.9
    transposed: float = 0.95

    def prepare(self, values: list[Any]) -> Any:
        if not values[0]:
            return None
        try:
            return validate_resident_id(str(values[0]))
        except IdentifierError:
            text = _NON_DIGIT.sub("", str(values[0])[:17])
            return text + "?" if len(text) == 17 else None  # a typo'd legacy number

    def __call__(self, a: Any, b: Any) -> Outcome:
        if a == b:
            return Outcome(1.0, "same ID number", decisive=True)
        a17, b17 = a[:17], b[:17]
        if a17 == b17:
            return Outcome(self.transposed, "ID numbers differ in the check character")
        if a17[:6] == b17[:6] and a17[14:] == b17[14:] and _transposed(a17[6:14], b17[6:14]):
            return Outcome(self.transposed, "birth date transposed in the ID number")
        if _transposed(a17, b17):
            return Outcome(self.transposed, "ID numbers with two digits transposed")
        if sum(x != y for x, y in zip(a17, b17, strict=True)) == 1:
            return Outcome(self.typo, "ID numbers differ by one digit")
        return Outcome(0.0, "different ID numbers", "different ID numbers: two persons")


# the comparators whose outcome can be decisive (the same identifier): see `stop_at_veto`
IDENTIFIERS = (Uscc, ResidentId)


_MODEL_NUMBER = re.compile(r"[A-Z]*[0-9][0-9A-Z+#*%.]*")


@lru_cache(maxsize=200_000)
def _model_parts(model: str, brand: str) -> tuple[str, str, frozenset[str]]:
    """(normalized model, its model number — from the first run holding a digit, series words
    before it dropped — and its digit groups)."""
    key = normalize_model(model, brand) if brand else normalize_model(model)
    found = _MODEL_NUMBER.search(key)
    number = key[found.start() :] if found else key
    return key, number, frozenset(_DIGIT_RUN.findall(key))


@dataclass(frozen=True)
class Model:
    """A product model, read with its brand (paths: model, brand): the same model after
    normalization; the same model number with a series name on one side only; models whose
    digit groups differ (`M404dn` / `M405dn`) are different products (veto); the same digits
    with other letters (`M404dn` / `M404dw`) score `letters`."""

    letters: float = 0.3

    def prepare(self, values: list[Any]) -> Any:
        if not values[0]:
            return None
        brand = normalize_brand(str(values[1])) if len(values) > 1 and values[1] else ""
        parts = _model_parts(str(values[0]), brand)
        return parts if parts[0] else None

    def __call__(self, a: Any, b: Any) -> Outcome:
        (key_a, num_a, digits_a), (key_b, num_b, digits_b) = a, b
        if key_a == key_b:
            return Outcome(1.0, "same model after normalization")
        if not (digits_a <= digits_b or digits_b <= digits_a):
            return Outcome(0.0, "different model numbers", "different model numbers (型号不同)")
        if num_a == num_b or key_a.endswith(key_b) or key_b.endswith(key_a):
            return Outcome(0.95, "same model number, series name differs")
        return Outcome(self.letters, "model numbers differ in letters")


@dataclass(frozen=True)
class Brand:
    """Brands folded through their aliases (惠普 = HP = Hewlett-Packard)."""

    def prepare(self, values: list[Any]) -> Any:
        return normalize_brand(str(values[0])) or None if values[0] else None

    def __call__(self, a: Any, b: Any) -> Outcome:
        if a == b:
            return Outcome(1.0, "same brand after aliases")
        return Outcome(0.0, "different brands")


@dataclass(frozen=True)
class Specs:
    """Specifications: the share of the attributes both records state that have equal values."""

    def prepare(self, values: list[Any]) -> Any:
        specs = values[0]
        if not isinstance(specs, Mapping) or not specs:
            return None
        return {str(k): _text(v).replace(" ", "") for k, v in specs.items()}

    def __call__(self, a: Any, b: Any) -> Outcome | None:
        common = a.keys() & b.keys()
        if not common:
            return None
        same = sum(a[k] == b[k] for k in common)
        return Outcome(same / len(common), f"specs ({same} of {len(common)} equal)")


@dataclass(frozen=True)
class Amount:
    """Two amounts (prices): smaller / larger."""

    label: str = "price"

    def prepare(self, values: list[Any]) -> Any:
        try:
            amount = Decimal(str(values[0])) if values[0] not in (None, "") else None
        except InvalidOperation:
            return None
        return float(amount) if amount is not None and amount > 0 else None

    def __call__(self, a: Any, b: Any) -> Outcome:
        return Outcome(min(a, b) / max(a, b), self.label)


# --- the engine ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """One field of the comparison: the evidence's field name, the paths read from a record
    (`legal_representative.name`, `contacts[].phone`), the comparator and its weight."""

    field: str
    paths: tuple[str, ...]
    comparator: Comparator
    weight: float


@dataclass(frozen=True)
class KeyRule:
    """One blocking key: `prefix:` + `make(record)`, none when `make` gives nothing."""

    prefix: str
    make: Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class Matcher:
    name: str
    version: int
    fields: tuple[FieldRule, ...]
    keys: tuple[KeyRule, ...]
    sort: Callable[[Mapping[str, Any]], str]
    review_threshold: float = REVIEW_THRESHOLD
    # the weights a pair's evidence is divided by at least: a pair known by few fields (a name
    # and nothing else) cannot reach the threshold on them alone
    min_weight: float = 0.0

    def __post_init__(self) -> None:
        if len(self.keys) > MAX_KEYS:
            raise ValueError(f"{self.name}: at most {MAX_KEYS} blocking rules")

    @cached_property
    def _last_identifier(self) -> int:
        """The index of the last rule whose comparator can be decisive (-1: none)."""
        found = [i for i, r in enumerate(self.fields) if isinstance(r.comparator, IDENTIFIERS)]
        return max(found, default=-1)

    def prepare(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        """The record as the comparators read it (computed once per record in a scan)."""
        return tuple(
            rule.comparator.prepare([_get(record, p) for p in rule.paths]) for rule in self.fields
        )

    def compare(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> Match:
        return self.compare_prepared(self.prepare(a), self.prepare(b))

    def compare_prepared(
        self, a: tuple[Any, ...], b: tuple[Any, ...], *, stop_at_veto: bool = False
    ) -> Match:
        """The match with all its evidence; with `stop_at_veto` (scans, which keep only pairs
        for review), a vetoed pair is answered at its veto once no identifier that could still
        make it decisive is left to compare."""
        evidence: list[Evidence] = []
        total = weights = 0.0
        vetoed: str | None = None
        for index, (rule, value_a, value_b) in enumerate(zip(self.fields, a, b, strict=True)):
            if value_a is None or value_b is None:
                continue
            outcome = rule.comparator(value_a, value_b)
            if outcome is None:
                continue
            if outcome.decisive:
                return Match(
                    1.0, [Evidence(rule.field, 1.0, outcome.note)], None, self.review_threshold
                )
            evidence.append(Evidence(rule.field, outcome.score, outcome.note))
            total += rule.weight * outcome.score
            weights += rule.weight
            if outcome.veto and vetoed is None:
                vetoed = outcome.veto
            if vetoed and stop_at_veto and index >= self._last_identifier:
                return Match(0.0, evidence, vetoed, self.review_threshold)
        score = round(total / max(weights, self.min_weight), 4) if weights else 0.0
        return Match(score, evidence, vetoed, self.review_threshold)

    def blocking_keys(self, record: Mapping[str, Any]) -> set[str]:
        keys = set()
        for rule in self.keys:
            value = rule.make(record)
            if value:
                keys.add(f"{rule.prefix}:{value}")
        return keys

    def sort_key(self, record: Mapping[str, Any]) -> str:
        return self.sort(record)


# --- blocking ------------------------------------------------------------------------------------


def candidate_pairs(
    records: Sequence[Mapping[str, Any]],
    matcher: Matcher,
    *,
    max_block: int = 100,
    window: int = 10,
) -> Iterator[tuple[int, int]]:
    """Pairs `(i, j)`, i < j, of records sharing a blocking key, each once.

    A block of at most `max_block` records gives all its pairs; a larger one is sorted by
    `matcher.sort_key` and each record is paired with the next `window - 1` (sorted
    neighbourhood), so a block of n records gives fewer than n·window pairs. A pair met in
    several blocks is given by the first of them (in the order keys were first seen) that pairs
    it, so no set of pairs is kept: memory is the blocks (≤ 4 ints per record) and the positions
    in oversized blocks.
    """
    key_ids: dict[str, int] = {}
    members: list[list[int]] = []
    record_keys: list[tuple[int, ...]] = []
    for i, record in enumerate(records):
        ids = []
        for key in matcher.blocking_keys(record):
            kid = key_ids.setdefault(key, len(members))
            if kid == len(members):
                members.append([])
            members[kid].append(i)
            ids.append(kid)
        ids.sort()
        record_keys.append(tuple(ids))
    del key_ids
    # sorted neighbourhood in oversized blocks: the order, and each member's position
    positions: dict[int, dict[int, int]] = {}
    for kid, block in enumerate(members):
        if len(block) > max_block:
            block.sort(key=lambda i: (matcher.sort_key(records[i]), i))
            positions[kid] = {i: p for p, i in enumerate(block)}

    def paired_in(kid: int, i: int, j: int) -> bool:
        where = positions.get(kid)
        return where is None or abs(where[i] - where[j]) < window

    def earlier(kid: int, i: int, j: int) -> bool:
        """Whether a block before `kid` holding both pairs them already."""
        keys_j = record_keys[j]
        for other in record_keys[i]:
            if other >= kid:
                return False
            if other in keys_j and paired_in(other, i, j):
                return True
        return False

    for kid, block in enumerate(members):
        size = len(block)
        if size < 2:
            continue
        if kid in positions:
            for p in range(size):
                a = block[p]
                for b in block[p + 1 : p + window]:
                    i, j = (a, b) if a < b else (b, a)
                    if not earlier(kid, i, j):
                        yield i, j
        else:
            for p in range(size):
                a = block[p]
                for b in block[p + 1 :]:  # members were appended in index order: a < b
                    if not earlier(kid, a, b):
                        yield a, b


def scan_records(
    records: Sequence[Mapping[str, Any]], matcher: Matcher, **kw: int
) -> Iterator[tuple[int, int, Match]]:
    """The candidate pairs whose match is for review, with the match. Each record is prepared
    once, when it is first met in a pair."""
    prepared: list[tuple[Any, ...] | None] = [None] * len(records)

    def get(i: int) -> tuple[Any, ...]:
        value = prepared[i]
        if value is None:
            value = prepared[i] = matcher.prepare(records[i])
        return value

    for i, j in candidate_pairs(records, matcher, **kw):
        match = matcher.compare_prepared(get(i), get(j), stop_at_veto=True)
        if match.for_review:
            yield i, j, match


# --- the configurations --------------------------------------------------------------------------


def _org_core(record: Mapping[str, Any]) -> str:
    name = record.get("name")
    if not name:
        return ""
    core = _BRANCH.sub("", _org_name_parts(str(name))[1])
    return core.replace(" ", "")


def _org_core_start(record: Mapping[str, Any]) -> str | None:
    """Pinyin of the core's first two characters: variants of the name, and typos after them
    or homophones in them, share it."""
    return pinyin_full(_org_core(record)[:2]) or None


def _org_core_middle(record: Mapping[str, Any]) -> str | None:
    """Pinyin of characters 3–4 of the core: a typo in the first two leaves it."""
    return pinyin_full(_org_core(record)[2:4]) or None


def _org_sort(record: Mapping[str, Any]) -> str:
    """Sorted neighbourhood in an oversized block: by the pinyin of the core after its first two
    characters, then of those two — in a block of one `mid` key, a typo in the first two
    characters does not move a record away from its duplicate."""
    core = _org_core(record)
    return f"{pinyin_full(core[2:])}|{pinyin_full(core[:2])}"


def _org_code(record: Mapping[str, Any]) -> str | None:
    value = record.get("uscc")
    return str(value).upper()[8:17] if value and len(str(value)) == 18 else None


def _org_phone(record: Mapping[str, Any]) -> str | None:
    phones = Phone().prepare(
        [_get(record, "legal_representative.phone"), _get(record, "contacts[].phone")]
    )
    return min(phones) if phones else None


ORGANIZATION = Matcher(
    name="organization",
    version=3,
    fields=(
        FieldRule("uscc", ("uscc",), Uscc(), 1.0),
        FieldRule("name", ("name",), OrgName(), 0.6),
        FieldRule("address", ("address",), Address(), 0.15),
        FieldRule(
            "representative",
            ("legal_representative.name",),
            PersonName("legal representative"),
            0.05,
        ),
        FieldRule(
            "phone",
            ("legal_representative.phone", "contacts[].phone"),
            Phone(),
            0.05,
        ),
        FieldRule("region", ("region_code",), Exact("region code"), 0.1),
    ),
    keys=(
        KeyRule("oc", _org_code),
        KeyRule("core", _org_core_start),
        KeyRule("mid", _org_core_middle),
        KeyRule("tel", _org_phone),
    ),
    sort=_org_sort,
    review_threshold=REVIEW_THRESHOLD,
    min_weight=0.8,
)


def _id_number(record: Mapping[str, Any]) -> str:
    return _NON_DIGIT.sub("", str(record.get("id_number") or "")[:17])


def _expert_birth(record: Mapping[str, Any]) -> str | None:
    """Place and sorted birth-date digits of the ID number (or birth date field): transposed
    dates fall in one block."""
    number = _id_number(record)
    if len(number) == 17:
        return number[:6] + "".join(sorted(number[6:14]))
    born = _as_date(record.get("birth_date"))
    return "".join(sorted(born)) if born else None


def _expert_name(record: Mapping[str, Any]) -> str | None:
    name = record.get("name")
    return _person_name_parts(str(name))[1] or None if name else None


def _expert_phone(record: Mapping[str, Any]) -> str | None:
    phones = Phone().prepare([record.get("phone")])
    return min(phones) if phones else None


def _expert_sort(record: Mapping[str, Any]) -> str:
    return f"{_expert_name(record) or ''}|{_as_date(record.get('birth_date')) or ''}"


EXPERT = Matcher(
    name="expert",
    version=1,
    fields=(
        FieldRule("id_number", ("id_number",), ResidentId(), 1.0),
        FieldRule("name", ("name",), PersonName(), 0.4),
        FieldRule("sex", ("sex",), Exact("sex", veto="different sex"), 0.05),
        FieldRule("birth_date", ("birth_date",), Dates(), 0.2),
        FieldRule("phone", ("phone",), Phone(), 0.15),
        FieldRule("email", ("email",), Exact("e-mail", differ=None), 0.1),
        FieldRule("employer", ("employer.name",), OrgName("employer"), 0.05),
        FieldRule("region", ("region_code",), Exact("region code"), 0.1),
    ),
    keys=(
        KeyRule("id", lambda r: _id_number(r) or None),
        KeyRule("born", _expert_birth),
        KeyRule("py", _expert_name),
        KeyRule("tel", _expert_phone),
    ),
    sort=_expert_sort,
    review_threshold=0.75,
    min_weight=0.8,
)


def _catalog(record: Mapping[str, Any]) -> str:
    return str(record.get("catalog_code") or "").upper()


def _commodity_parts(record: Mapping[str, Any]) -> tuple[str, str, str, frozenset[str]]:
    brand = normalize_brand(str(record.get("brand") or ""))
    key, number, digits = _model_parts(str(record.get("model") or ""), brand)
    return brand, key, number, digits


def _commodity_brand_digits(record: Mapping[str, Any]) -> str | None:
    brand, _, number, _ = _commodity_parts(record)
    digits = _DIGIT_RUN.findall(number)
    return f"{_catalog(record)}|{brand}|{digits[0]}" if digits else None


def _commodity_number(record: Mapping[str, Any]) -> str | None:
    _, _, number, _ = _commodity_parts(record)
    return f"{_catalog(record)}|{number}" if number else None


def _commodity_brand(record: Mapping[str, Any]) -> str | None:
    brand = _commodity_parts(record)[0]
    return f"{_catalog(record)}|{brand}" if brand else None


def _commodity_sort(record: Mapping[str, Any]) -> str:
    brand, key, number, _ = _commodity_parts(record)
    return f"{brand}|{number}|{key}"


COMMODITY = Matcher(
    name="commodity",
    version=1,
    fields=(
        FieldRule(
            "catalog_code",
            ("catalog_code",),
            Exact("catalog code", veto="different catalog codes"),
            0.0,
        ),
        FieldRule("model", ("model", "brand"), Model(), 0.5),
        FieldRule("brand", ("brand",), Brand(), 0.2),
        FieldRule("name", ("name",), Tokens("name"), 0.15),
        FieldRule("specs", ("specs",), Specs(), 0.1),
        FieldRule("price", ("reference_price.amount",), Amount(), 0.05),
    ),
    keys=(
        KeyRule("bd", _commodity_brand_digits),
        KeyRule("model", _commodity_number),
        KeyRule("brand", _commodity_brand),
    ),
    sort=_commodity_sort,
    review_threshold=0.85,
)

MATCHERS: dict[str, Matcher] = {
    "organization": ORGANIZATION,
    "expert": EXPERT,
    "commodity": COMMODITY,
}
_KINDS = {
    "supplier": "organization",
    "agent": "organization",
    "purchaser": "organization",
    "organization": "organization",
    "expert": "expert",
    "commodity": "commodity",
}


def matcher_for(kind: str) -> Matcher:
    """The matcher of a record kind (`supplier`, `agent`, `purchaser` → organization)."""
    try:
        return MATCHERS[_KINDS[kind]]
    except KeyError:
        raise ValueError(f"no matcher for records of kind {kind!r}") from None


# --- organizations, as before (the existing callers) ---------------------------------------------


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> Match:
    """How likely two organization records are the same entity, with the evidence."""
    return ORGANIZATION.compare(a, b)


def blocking_keys(record: Mapping[str, Any]) -> set[str]:
    """The blocks an organization record is filed under: the organization code of its USCC, the
    first two characters of its core name, the pinyin initials of the core's first four
    characters, and its first phone. Variants of one name (region prefix, legal form, brackets,
    full width, traditional characters) share the core keys."""
    return ORGANIZATION.blocking_keys(record)
