"""Recognise the letter's layout and split it into its cover block and three headed sections."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kg.parser.text import CleanText, LetterError


def _heading(words: str) -> re.Pattern[str]:
    """A heading on a line of its own, its words as given (a word may be a regex: 'ISSUES?,?')."""
    return re.compile(r"^[ \t]*" + r"\s+".join(words.split()) + r"[ \t]*:?[ \t]*$", re.IGNORECASE | re.MULTILINE)


HOW_MADE = _heading("HOW THE IMR FINAL DETERMINATION WAS MADE")
SUMMARY = _heading("CLINICAL CASE SUMMARY")
ISSUES = _heading("IMR ISSUES?,? DECISIONS?,? (?:AND|&) RATIONALES?")  # singular for one item, an Oxford comma

# Layouts DWC also published that this parser does not read: named, so the error says which.
_OTHER_LAYOUTS = (
    ("2013 'Notice of Independent Medical Review Determination'",
     re.compile(r"Notice\s+of\s+Independent\s+Medical\s+Review\s+Determination", re.I)),
    ("'IMR DECISION(S) AND RATIONALE(S)'", re.compile(r"IMR\s+DECISION\(S\)\s+AND\s+RATIONALE", re.I)),
    ("'ISSUE AT DISPUTE'", re.compile(r"^\s*ISSUE\s+AT\s+DISPUTE:", re.I | re.M)),
)
_IMR_HINT = re.compile(r"Independent\s+Medical\s+Review|MAXIMUS|\bIMR\b", re.I)


@dataclass(frozen=True)
class Sections:
    """Clean-text ranges [start, end) of each part of a letter."""

    layout: str
    cover: tuple[int, int] | None
    qualifications: tuple[int, int]
    summary: tuple[int, int]
    issues: tuple[int, int]


def split(clean: CleanText, name: str) -> Sections:
    """Find the three headed sections, or say precisely why this is not a letter we can read."""
    text = clean.text
    found = {label: pat.search(text) for label, pat in
             (("HOW THE IMR FINAL DETERMINATION WAS MADE", HOW_MADE),
              ("CLINICAL CASE SUMMARY", SUMMARY),
              ("IMR ISSUES, DECISIONS AND RATIONALES", ISSUES))}
    missing = [label for label, m in found.items() if m is None]
    if missing:
        for layout, pattern in _OTHER_LAYOUTS:
            if pattern.search(text):
                raise LetterError(f"{name}: letter in the {layout} layout, which kg does not parse yet")
        if len(missing) == 3:
            if _IMR_HINT.search(text):
                raise LetterError(f"{name}: IMR text in an unknown layout (none of the three section headings)")
            raise LetterError(f"{name}: not an IMR determination letter")
        raise LetterError(f"{name}: missing section(s) {', '.join(missing)} (letter cut short?)")
    how, summary, issues = (m for m in found.values() if m is not None)
    if not how.start() < summary.start() < issues.start():
        raise LetterError(f"{name}: sections out of order; unknown layout")
    has_cover = bool(re.search(r"Case\s+Number\b", text[: how.start()], re.I))
    return Sections(
        layout="imr-2016-cover" if has_cover else "imr-2014",
        cover=(0, how.start()) if has_cover else None,
        qualifications=(how.end(), summary.start()),
        summary=(summary.end(), issues.start()),
        issues=(issues.end(), len(text)),
    )
