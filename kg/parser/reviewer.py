"""The expert reviewer's qualifications: specialties and states of licensure, in both wordings."""

from __future__ import annotations

import re
from itertools import combinations

from kg.parser.labels import title_case
from kg.parser.text import CleanText
from kg.record import Fact, Reviewer, Specialty
from kg.vocab import load, specialty_key

# Field wording (2015+): "Certification(s)/Specialty: A, B" and "State(s) of Licensure: X, Y". A long
# value wraps onto the next lines, up to the next "Label:" line (the fields end their section) or a
# line of prose (a sentence's end, or more words than a wrapped list leaves); a label's colon may be
# lost, so `_value` also ends a value at the other field's label.
_SPECIALTY_LABEL = r"Certification\(s\)\s*/\s*Specialty"
_LICENSURE_LABEL = r"State\(s\)\s+of\s+Licensure"
_CONTINUATION = r"\n(?![ \t]*[A-Z][\w()/ ]{0,40}:)(?![^\n]*\.[ \t]*(?:\n|$))(?![ \t]*(?:\S+[ \t]+){8})[^\n]+"
_FIELD_VALUE = rf"(?P<v>[^\n]+(?:{_CONTINUATION})*)"
SPECIALTY_FIELD = re.compile(_SPECIALTY_LABEL + r":?\s*" + _FIELD_VALUE, re.I)
LICENSURE_FIELD = re.compile(_LICENSURE_LABEL + r":?\s*" + _FIELD_VALUE, re.I)
_ANY_FIELD_LABEL = re.compile(_SPECIALTY_LABEL + "|" + _LICENSURE_LABEL, re.I)
# Sentence wording: "is Board Certified in A, has a subspecialty in B and is licensed to practice in X."
BOARD_SENTENCE = re.compile(
    r"Board\s+(?:Certified|Eligible)\s+in\s+(?P<v>.+?)"
    r"(?=,?\s+(?:has\s+(?:a\s+)?subspecialt|and\s+is\s+licensed|is\s+licensed|(?:and\s+)?holds?\s+an?\s)|\.)",
    re.I | re.S)
SUBSPECIALTY_SENTENCE = re.compile(
    r"subspecialt(?:y|ies)\s+in\s+(?P<v>.+?)(?=,?\s+and\s+is\s+licensed|,?\s+is\s+licensed|\.)", re.I | re.S)
# A reviewer without a board in a field ("is Licensed in Chiropractic", "is a licensed Psychologist", "is a
# Board Certified Chiropractor", "holds a license in Chiropractic") names the profession in the same sentence,
# before its subspecialty or its states.
LICENSED_PROFESSION = re.compile(
    r"(?:(?:expert|physician|professional)\s+)?reviewer\s+"
    r"(?:is\s+(?:an?\s+)?(?:Board\s+Certified\s+)?(?:licensed\s+(?:in\s+)?)?|"
    r"holds?\s+an?\s+license\s+in\s+)(?!Board\b|an?\s)(?P<v>[A-Z][^,.]*?)"
    r",?\s+(?:and\s+is\s+licensed\s+to\s+practice|has\s+(?:a\s+)?subspecialt)", re.I | re.S)
# "licensed to practice (medicine) in X", "licensed in the State of X", "holds a license in X and Y": only
# the names of states count (a profession in its place, "licensed in Acupuncture", is no state).
LICENSED_SENTENCE = re.compile(r"(?:licensed|holds?\s+an?\s+(?:active\s+)?license)\s+"
                               r"(?:to\s+practice\s+(?:medicine\s+)?)?in\s+(?:the\s+(?:states?|commonwealth)\s+of\s+)?"
                               r"(?P<v>.+?)(?=\.(?!\w|\s+(?-i:[a-z]))|,?\s+and\s+is\b|,?\s+is\s+Board)", re.I | re.S)

_LIST_ITEM = re.compile(r"[^,;]+")


# What may join two specialties in one item: 'and', '&', a slash, and the opening bracket of a subspecialty
# after its specialty ('Orthopaedic Surgery (Hand Surgery)', read without its closing bracket).
_JOIN = re.compile(r"\s+(?:and|&)\s+|\s*/\s*|\s*\(\s*(?=[^()]*$)", re.I)


def _specialty_pieces(part: str) -> list[str]:
    """'Anesthesiology and Pain Medicine' (or '/') -> both, when each is a known specialty and the whole
    is not ('Obstetrics and Gynecology', 'Physical Medicine and Rehabilitation' stay whole)."""
    names = load().specialty_names
    if specialty_key(part) in names:
        return [part]
    bracketed = part.rstrip().endswith(")")
    body = part.rstrip()[:-1] if bracketed else part  # the pieces never include the closing bracket
    cuts = list(_JOIN.finditer(body))
    if not cuts:
        return [part]
    for n in range(1, len(cuts) + 1):  # the fewest pieces that are all known names
        for chosen in combinations(cuts, n):
            bounds = [0, *(x for c in chosen for x in c.span()), len(body)]
            pieces = [body[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2)]
            if all(specialty_key(p) in names for p in pieces):
                return pieces
    return [part]


def _items(clean: CleanText, start: int, end: int, *, split_and: bool = False) -> list[tuple[str, int, int]]:
    """Split a written list in clean text [start, end) into (item, start, end): states at every 'and',
    specialties where 'and' joins two known ones."""
    out: list[tuple[str, int, int]] = []
    for part in _LIST_ITEM.finditer(clean.text, start, end):
        pieces = re.split(r"\s+and\s+", part.group(0)) if split_and else _specialty_pieces(part.group(0))
        offset = part.start()
        for piece in pieces:
            at = clean.text.index(piece, offset)
            offset = at + len(piece)
            word = title_case(piece) if not split_and else " ".join(piece.split()).strip(" .")
            if word:
                lead = len(piece) - len(piece.lstrip())
                out.append((word, at + lead, at + lead + len(piece.strip().rstrip("."))))
    return out


_STATE_WORDS = re.compile(r"^(?:the\s+)?(?:state|commonwealth)\s+of\s+|\s+state$", re.I)  # "New York State"


def _states(clean: CleanText, start: int, end: int) -> list[Fact[str]]:
    """USPS codes of the states named in [start, end); "Washington, D.C." is the District alone."""
    names = load().states
    lowered = {k.lower(): v for k, v in names.items()}
    codes = set(names.values())
    out: list[Fact[str]] = []
    for word, s, e in _items(clean, start, end, split_and=True):
        word = _STATE_WORDS.sub("", word)
        bare = word.replace(".", "")  # "Washington D.C.", "D.C."
        code = lowered.get(bare.lower()) or (bare.upper() if bare.upper() in codes else None)
        if code == "DC" and out and out[-1].value == "WA" and clean.text[out[-1].span.end:s].strip() == ",":
            out.pop()  # "Washington, DC"
        if code:
            out.append(clean.fact(code, s, e))
    return out


def parse_reviewer(clean: CleanText, start: int, end: int) -> Reviewer:
    """Reviewer qualifications from the 'HOW THE IMR FINAL DETERMINATION WAS MADE' section."""
    specialties: list[Specialty] = []
    states: list[Fact[str]] = []
    field = SPECIALTY_FIELD.search(clean.text, start, end)
    if field:
        specialties += [Specialty(clean.fact(w, s, e)) for w, s, e in _items(clean, *_value(clean, field))]
    board = BOARD_SENTENCE.search(clean.text, start, end) or LICENSED_PROFESSION.search(clean.text, start, end)
    if board:
        specialties += [Specialty(clean.fact(w, s, e)) for w, s, e in _items(clean, *board.span("v"))]
    sub = SUBSPECIALTY_SENTENCE.search(clean.text, start, end)
    if sub:
        specialties += [Specialty(clean.fact(w, s, e), subspecialty=True)
                        for w, s, e in _items(clean, *sub.span("v"))]
    for pattern in (LICENSURE_FIELD, LICENSED_SENTENCE):
        # the first mention that names states ("licensed in Acupuncture and is licensed to practice in Ohio")
        states += next((found for m in pattern.finditer(clean.text, start, end)
                        if (found := _states(clean, *_value(clean, m)))), [])
    return Reviewer(specialties=tuple(specialties), states=tuple(states))


def _value(clean: CleanText, m: re.Match[str]) -> tuple[int, int]:
    """A field's value up to the other field's label, when both share a line ('State(s) of Licensure:
    Ohio Certification(s)/Specialty: Family Practice')."""
    s, e = m.span("v")
    other = _ANY_FIELD_LABEL.search(clean.text, s, e)
    return s, other.start() if other else e
