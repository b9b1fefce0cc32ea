"""Highlighting of names, shared by every search backend: the hit's name, HTML-escaped, with
`<em>` around the parts the query matched. Computed in Python from the query's analysis
(`search.text.query_terms`), never by a backend, so both backends mark the same characters.
"""

from __future__ import annotations

import html
import re

from search.text import QueryAnalysis, fold, pinyin_full

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{_HAN}]")
# a Latin/digit run, as the backends' required terms take it (a decimal point between digits kept)
ALNUM_RUN = re.compile(rf"[^\W_{_HAN}]+(?:\.\d+[^\W_{_HAN}]*)*")


def _is_han(term: str) -> bool:
    return bool(_HAN_RE.search(term))


def _folded_chars(name: str) -> tuple[str, list[int]]:
    """The name folded character by character, and for each folded character its index in
    `name` (folding a whole name can change lengths; per character it is close enough)."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(name):
        folded = fold(char) if not char.isascii() else char.lower().strip()
        for piece in folded:
            out.append(piece)
            origin.append(index)
    return "".join(out), origin


def _pinyin_marks(name: str, typed: str) -> set[int]:
    """Indices of the first run of CJK characters whose pinyin (or initials) begins with `typed`."""
    syllables = [(i, pinyin_full(c)) for i, c in enumerate(name) if _is_han(c)]
    for start in range(len(syllables)):
        full = initials = ""
        for end in range(start, len(syllables)):
            if end > start and syllables[end][0] != syllables[end - 1][0] + 1:
                break
            full += syllables[end][1]
            initials += syllables[end][1][:1]
            for form in (full, initials):
                if form.startswith(typed) or (typed.startswith(form) and len(form) == len(typed)):
                    return {syllables[k][0] for k in range(start, end + 1)}
            if len(full) >= len(typed) and len(initials) >= len(typed):
                break
    return set()


def highlight(name: str, analysis: QueryAnalysis) -> str:
    """`name`, HTML-escaped, with `<em>` around the parts the query matched."""
    folded, origin = _folded_chars(name)
    marks: set[int] = set()
    terms = {t for t in (*analysis.terms, analysis.text, analysis.core) if t and " " not in t}
    terms.update(ALNUM_RUN.findall(analysis.text))
    for term in terms:
        start = folded.find(term)
        while start >= 0:
            marks.update(origin[start : start + len(term)])
            start = folded.find(term, start + 1)
    if not marks and analysis.pinyin:
        marks = _pinyin_marks(name, analysis.pinyin)
    out: list[str] = []
    run: list[str] = []
    inside = False
    for index, char in enumerate(name):
        marked = index in marks
        if marked != inside and run:
            piece = html.escape("".join(run))
            out.append(f"<em>{piece}</em>" if inside else piece)
            run = []
        inside = marked
        run.append(char)
    if run:
        piece = html.escape("".join(run))
        out.append(f"<em>{piece}</em>" if inside else piece)
    return "".join(out)
