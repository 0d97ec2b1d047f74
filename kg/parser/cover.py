"""The cover block of 2016+ letters: case number, dates, priority.

The cover is a two-column table, and PDF text tools read it three ways: each label followed by
its value (pypdf, PyMuPDF); a column of labels, then the column of their values (pdftotext,
pdfminer: "Case Number:" / "Date Assigned:" / ... / "CM16-0248471" / "01/03/2017" / ...); and a
label that wraps in its column around the value beside it ("Application   12/27/2016" /
"Received:"). A label's colon may be lost. So the block is read as a sequence of labels and
values; a run of labels takes the run of values after it, in order, when both runs are as long
and every value is of its label's kind (else only the values of a kind one label has: the case
number, the priority). Otherwise only the label next to a value takes it, as a letter read label
by label has it: a value is never guessed for a label that has none.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from kg.parser.dates import DATE, DATE_TEXT, date_from_match
from kg.parser.text import CleanText
from kg.record import Cover, Fact

# The kinds of value a cover holds: a field takes only values of its own kind.
_VALUES = {
    "case": r"CM\d{2}-\d{7}",
    "date": DATE_TEXT,
    "priority": r"\b(?:Standard|Expedited|Urgent|Regular)\b",
}
_FIELDS = {  # field -> (its label's words, the kind of its value)
    "case_number": ("Case Number", "case"),
    "date_assigned": ("Date Assigned", "date"),
    "injury_date": ("Date of Injury", "date"),
    "decision_date": ("Decision Date", "date"),
    "ur_denial_date": ("UR Denial Date", "date"),
    "priority": ("Priority", "priority"),
    "application_received": ("Application Received", "date"),
}
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_VALUE = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _VALUES.items()), re.I)


def _label(words: str, kind: str) -> re.Pattern[str]:
    """A label whose words may wrap around the value beside it: 'Application <value> Received:'."""
    first, *rest = words.split()
    gaps = "".join(rf"\s+(?:(?P<in{i}>{_VALUES[kind]})\s+)?{word}" for i, word in enumerate(rest))
    return re.compile(rf"\b{first}{gaps}\b:?", re.I)


_LABELS = {field: _label(words, kind) for field, (words, kind) in _FIELDS.items()}


@dataclass(frozen=True)
class _Token:
    """A label (of `field`) or a value (of `kind`) in the cover, at clean-text [start, end);
    `alone` if nothing else is on its line(s)."""

    start: int
    end: int
    field: str = ""
    kind: str = ""
    alone: bool = False


def _alone(text: str, start: int, end: int) -> bool:
    line_start, line_end = text.rfind("\n", 0, start) + 1, text.find("\n", end)
    return not text[line_start:start].strip() and not text[end:line_end if line_end >= 0 else len(text)].strip()


def _tokens(clean: CleanText, start: int, end: int) -> tuple[list[_Token], dict[str, _Token]]:
    """The cover's labels and free values in text order, and the values labels wrap around."""
    text = clean.text
    spans: list[tuple[int, int, str]] = []
    wrapped: dict[str, _Token] = {}
    for field, pattern in _LABELS.items():
        for m in pattern.finditer(text, start, end):
            inner = next((g for g, v in m.groupdict().items() if v is not None), None)
            if inner:
                wrapped[field] = _Token(m.start(inner), m.end(inner), kind=_FIELDS[field][1])
            else:
                spans.append((m.start(), m.end(), field))
    taken = [(s, e) for s, e, _ in spans] + [(t.start, t.end) for t in wrapped.values()]
    values = [(m.start(), m.end(), str(m.lastgroup)) for m in _VALUE.finditer(text, start, end)
              if not any(s < m.end() and m.start() < e for s, e in taken)]
    tokens = [_Token(s, e, field=f, alone=_alone(text, s, e)) for s, e, f in spans]
    tokens += [_Token(s, e, kind=k, alone=_alone(text, s, e)) for s, e, k in values]
    return sorted(tokens, key=lambda t: t.start), wrapped


def _column(labels: list[_Token], values: list[_Token], clean: CleanText) -> dict[str, _Token]:
    """The first len(labels) values, if they are the labels' own: of their kinds, and ending where
    the values do or at a blank line of the source (a value after it is something else's). Else
    (a value lost) only a value whose kind no other label and value of the column share."""
    n = len(labels)
    ends = len(values) == n or (len(values) > n and _BLANK_LINE.search(
        clean.source, clean.origin(values[n - 1].end - 1) + 1, clean.origin(values[n].start)))
    pairs = list(zip(labels, values[:n], strict=False))
    if ends and all(_FIELDS[label.field][1] == value.kind for label, value in pairs):
        return {label.field: value for label, value in pairs}
    return _unique_kinds(labels, values[:n])


def _unique_kinds(labels: list[_Token], values: list[_Token]) -> dict[str, _Token]:
    """The case number and the priority of a column that lost a value: each the one of its kind."""
    found: dict[str, _Token] = {}
    for kind in {value.kind for value in values}:
        of_kind = [value for value in values if value.kind == kind]
        takers = [label for label in labels if _FIELDS[label.field][1] == kind]
        if len(of_kind) == 1 and len(takers) == 1:
            found[takers[0].field] = of_kind[0]
    return found


def _pairs(tokens: list[_Token], clean: CleanText) -> dict[str, _Token]:
    """Each label's value: a column's in order; else the value right after the label."""
    found: dict[str, _Token] = {}
    in_columns: set[int] = set()
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and tokens[j].field and tokens[j].alone:
            j += 1
        k = j
        while k < len(tokens) and not tokens[k].field and tokens[k].alone:
            k += 1
        if j - i >= 2 and k > j:  # two labels or more, each on its line, then values on theirs
            found.update(_column(tokens[i:j], tokens[j:k], clean))
            in_columns.update(range(i, j))
        i = max(j, i + 1)
    taken = {id(t) for t in found.values()}
    for i, (label, value) in enumerate(pairwise(tokens)):
        if (label.field and i not in in_columns and not value.field and id(value) not in taken
                and _FIELDS[label.field][1] == value.kind):
            found.setdefault(label.field, value)
    return found


def _fact(clean: CleanText, token: _Token) -> Fact[Any] | None:
    written = clean.text[token.start:token.end]
    if token.kind != "date":
        return clean.fact(written, token.start, token.end)
    m = DATE.search(written)
    value: dt.date | None = date_from_match(m) if m else None
    return clean.fact(value, token.start, token.end) if value else None


def parse_cover(clean: CleanText, start: int, end: int) -> Cover:
    """Every labelled field of the cover block found in clean text [start, end)."""
    tokens, wrapped = _tokens(clean, start, end)
    found = {**_pairs(tokens, clean), **wrapped}
    return Cover(**{field: _fact(clean, token) for field, token in found.items()})
