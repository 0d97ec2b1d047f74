"""Dates as letters write them ("October 10, 2007", "06/13/11", "1-31-1985") -> datetime.date."""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    m: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")],
        start=1,
    )
    for m in names
}
MONTH_NAME = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
              r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")

# One pattern for every date form; named groups tell which form matched.
DATE = re.compile(
    rf"(?P<mname>{MONTH_NAME})\.?\s+(?P<mday>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<myear>\d{{4}})"
    rf"|(?<!\d)(?P<dday>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<dname>{MONTH_NAME})\.?,?\s+(?P<dyear>\d{{4}})"  # 4 March 2010
    r"|(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"|(?P<m>\d{1,2})\s?[/-]\s?(?P<d>\d{1,2})\s?[/-]\s?(?P<y>\d{4}|\d{2})(?!\d)"
    r"|(?<![\d.])(?P<pm>\d{1,2})\.(?P<pd>\d{1,2})\.(?P<py>\d{4})(?!\d|\.\d)",  # 3.4.2010 (a four-digit year only)
    re.IGNORECASE,
)

TWO_DIGIT_PIVOT = 40  # '85 -> 1985, '14 -> 2014: IMR began in 2013, injuries go back decades


def expand_year(year: int) -> int:
    """A two-digit year -> four digits; four-digit years pass through."""
    if year >= 100:
        return year
    return 2000 + year if year < TWO_DIGIT_PIVOT else 1900 + year


def date_from_match(m: re.Match[str]) -> dt.date | None:
    """The date a DATE match denotes, or None if it names no real day."""
    try:
        if m.group("mname"):
            return dt.date(int(m.group("myear")), _MONTHS[m.group("mname").lower().rstrip(".")],
                           int(m.group("mday")))
        if m.group("dname"):
            return dt.date(int(m.group("dyear")), _MONTHS[m.group("dname").lower().rstrip(".")],
                           int(m.group("dday")))
        if m.group("iy"):
            return dt.date(int(m.group("iy")), int(m.group("im")), int(m.group("id")))
        if m.group("pm"):
            return dt.date(int(m.group("py")), int(m.group("pm")), int(m.group("pd")))
        return dt.date(expand_year(int(m.group("y"))), int(m.group("m")), int(m.group("d")))
    except (ValueError, KeyError):
        return None


def parse_date(text: str) -> dt.date | None:
    """The first date written in `text`, or None."""
    for m in DATE.finditer(text):
        value = date_from_match(m)
        if value is not None:
            return value
    return None

# The same pattern without group names, to embed in other fields' regexes.
DATE_TEXT = re.sub(r"\?P<\w+>", "?:", DATE.pattern)
