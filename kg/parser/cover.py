"""The cover block of 2016+ letters: case number, dates, priority (each label's colon may be lost:
the value that follows it is of a form only that field has)."""

from __future__ import annotations

import datetime as dt
import re

from kg.parser.dates import DATE, DATE_TEXT, date_from_match
from kg.parser.text import CleanText
from kg.record import Cover, Fact

CASE_NUMBER = re.compile(r"Case\s+Number:?\s*(?P<v>CM\d{2}-\d{7})", re.I)
PRIORITY = re.compile(r"Priority:?\s*(?P<v>Standard|Expedited|Urgent|Regular)", re.I)
_DATE_LABELS = {
    "date_assigned": r"Date\s+Assigned",
    "injury_date": r"Date\s+of\s+Injury",
    "decision_date": r"Decision\s+Date",
    "ur_denial_date": r"UR\s+Denial\s+Date",
    "application_received": r"Application\s+Received",
}
_DATE_FIELDS = {
    name: re.compile(rf"{label}:?\s*(?P<v>{DATE_TEXT})", re.I) for name, label in _DATE_LABELS.items()
}


def _text_fact(clean: CleanText, pattern: re.Pattern[str], start: int, end: int) -> Fact[str] | None:
    m = pattern.search(clean.text, start, end)
    return clean.fact(m.group("v"), m.start("v"), m.end("v")) if m else None


def _date_fact(clean: CleanText, pattern: re.Pattern[str], start: int, end: int) -> Fact[dt.date] | None:
    m = pattern.search(clean.text, start, end)
    if not m:
        return None
    inner = DATE.search(m.group("v"))
    value = date_from_match(inner) if inner else None
    return clean.fact(value, m.start("v"), m.end("v")) if value else None


def parse_cover(clean: CleanText, start: int, end: int) -> Cover:
    """Every labelled field of the cover block found in clean text [start, end)."""
    dates = {name: _date_fact(clean, pattern, start, end) for name, pattern in _DATE_FIELDS.items()}
    return Cover(
        case_number=_text_fact(clean, CASE_NUMBER, start, end),
        priority=_text_fact(clean, PRIORITY, start, end),
        **dates,
    )
