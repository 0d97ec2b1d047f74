"""Guideline lines ("Claims Administrator guideline: ...", "MAXIMUS guideline: ...") -> citations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from kg.parser.dates import DATE, MONTH_NAME
from kg.parser.labels import sentence_case
from kg.parser.text import CleanText
from kg.record import Citation, Party
from kg.vocab import load

# "did not cite any medical evidence / guidelines / evidence-based criteria for its decision"
NO_EVIDENCE = re.compile(r"did\s+not\s+(?:cite|provide|reference)\s+any\s+(?:medical\s+evidence|guidelines?"
                         r"|evidence[\s-]+based\s+(?:criteria|guidelines?|evidence|medicine)|criteria|evidence)", re.I)
# A line that says so in fewer words: "None cited.", "No guidelines cited", "N/A"
NOTHING_CITED = re.compile(r"\s*(?:(?:none|no\s+(?:guidelines?|medical\s+evidence|citations?))(?:\s+(?:was|were))?"
                           r"(?:\s+(?:cited|provided|given))?|N/?A|not\s+(?:cited|provided|applicable))[\s.]*", re.I)
# Where a clause of a guideline line begins: "Decision based on", "The Expert Reviewer based his/her decision
# on the MTUS" (not "... on recommendation(s) outside of the MTUS"), "Other Medical Treatment Guideline or
# Medical Evidence:", and a further "Non-MTUS" source ("Section(s): Summary, and Non-MTUS ODG, Knee")
_NAMED_SOURCE = (r"(?:CA\s+|California\s+)?"
                 r"(?:MTUS|Non\s*-?\s*MTUS|Official\s+Disability|ODG|ACOEM|American\s+College|Chronic\s+Pain)")
CLAUSE = re.compile(r"Decision\s+based\s+on\s+"
                    rf"|\bbased\s+(?:his/her|his|her|its|their)\s+decision\s+on\s+(?:the\s+)?(?={_NAMED_SOURCE})"
                    r"|(?:,?\s+and\s+)?Other\s+Medical\s+Treatment\s+Guidelines?"
                    r"(?:\s+or\s+Medical\s+Evidence)?(?:\s*:\s*|\s+)"
                    r"|(?<=\S)(?:[;,]?\s+and|;)\s+(?:the\s+)?(?=Non\s*-?\s*MTUS\b)", re.I)
MTUS_HEAD = re.compile(r"\s*(?:the\s+)?(?:CA[- ]|California\s+)?MTUS\b[,:]?\s*(?:\(\w+\)\s*)?", re.I)
NON_MTUS_HEAD = re.compile(r"\s*Non\s*-?\s*MTUS(?:\s+Citation)?:?\s*", re.I)
_TO = r"(?:\s*[-–]\s*|\s+(?:to|through|thru)\s+)"  # a page range: "63-65", "29 to 31", "78 through 80"
PAGES = re.compile(
    # "Page(s):", "pages", "pg.", "pp", "p.", "page #"
    r"(?:\bpages?\s*(?:\(s\))?|\bpgs?\.?|\bpp\.?|\bp\.?)\s*:?\s*#?\s*"
    # a number that words follow ("29, 2 sessions", "2 (two) visits") is no page, but 'and' joins pages ("74-96
    # and 124") and a label may follow in brackets ("22, 67-68 (NSAIDs)"); a range is read whole or not at all
    rf"(?P<v>\d+(?:{_TO}\d+)?(?:\s*(?:,|;|and|&)\s*\d+(?:{_TO}\d+)?(?!{_TO}\d)"
    r"(?![\d.]*\s*(?:(?!(?:and|to|through|thru)\b)[A-Za-z]{2}|\((?!(?-i:[A-Z])))))*)",
    re.I)
# A range named without 'page', after a comma at the end of a topic ("ANTI-EPILEPSY DRUGS (AEDS), 16-18",
# "LOW BACK COMPLAINTS, 303-305"); never a date ("7-15-14") nor a regulation ("9792.20 - 9792.26")
BARE_PAGES = re.compile(r"(?<=,)\s*(?P<v>(?<![\d.])\d{1,3}\s*[-–]\s*\d{1,3})(?![\d.]*\d|\s*[-–/]\s*\d)\s*(?=[,;.]|$)")
OF_PAGES = re.compile(r"(?<=\d)\s+of\s+\d+\b", re.I)  # "page 29 of 127": the guideline's length
PAGE_RANGE = re.compile(rf"(?P<a>\d+)(?:{_TO}(?P<b>\d+))?", re.I)
SECTIONS = re.compile(r"Sections?\s*\(s\)\s*:|Sections?:", re.I)
# ODG's name in its forms: "Official Disability Guidelines (ODG)", "ODG-TWC", "Official Disability Guidelines-
# Treatment in Workers Compensation (ODG-TWC)", "Work Loss Data Institute, ODG" (its publisher)
ODG_NAME = re.compile(r"\s*(?:Work\s+Loss\s+Data\s+Institute[\s,]*)?(?:Official\s+Disability\s+Guidelines|ODG)"
                      r"(?:\s*[-–]?\s*Treatment\s+in\s+Workers'?\s*Comp(?:ensation)?)?"
                      r"(?:\s*\((?:ODG|TWC|ODG[-\s]?TWC)\))?(?:\s*-\s*TWC\b)?[\s,:]*", re.I)
_TOPIC_BREAK = re.compile(r";|\.\s+|\.$|,\s+(?=[A-Z0-9])")
# an edition's year, its month too ("(May 2009)")
_NOISE = re.compile(r"^(?:and|or)\b\s*|^X(?=\s|$)\s*|^of\s+\d+$|,?\s+and$|[\s.,:;]+$"  # 'X 2009', not 'X-Ray'
                    rf"|\bX?\s*(?<![/-])(?:{MONTH_NAME}\.?\s+)?(?:2004|2007|2009|2016)\s*:?$"
                    # a reference's date and publisher: "Ann Arbor (MI): University of Michigan Health System; 2007 Jan"
                    rf"|^(?:19|20)\d\d\s+{MONTH_NAME}\.?$|^[A-Za-z][A-Za-z .]*\s\((?-i:[A-Z]{{2}})\):\s.*"
                    # an edition ("11th Edition (web)", "2nd Edition, (2004) Chapter 7"), ODG's 'Treatment Index'
                    r"|^(?:\d+(?:st|nd|rd|th)|first|second|third|fourth)\s+edition\b(?:[\s,]*\((?:web|online|\d{4})\))*"
                    r"|^treatment\s+index$|^chapter\s*:\s*"  # "Chapter: Low Back"
                    r"|(?:^|,?\s+)(?:last\s+)?updated$"  # "Pain Procedure Summary last updated 11/21/2016"
                    r"|\s+topic$|^(?:online|web)\s+edition$|^[-–]\s+", re.I)  # "When to Continue Opioids topic"
# Words that join one source to the next ("pages 76-80 and on the Non-MTUS ODG"): no topic
_CONNECTIVE = re.compile(r"(?:(?:and|on|the|in|also|Non\s*-?\s*MTUS|Citation)\b[\s,:]*)+", re.I)
_BRACKETED = re.compile(r"\([^()]*\)")
_EMPTIED_BRACKETS = re.compile(r"\s*\([\s;,.]*\)")  # what a page in brackets leaves: "Opioids (page 78)"
MAX_PAGE_RANGE = 60  # wider "ranges" are misread numbers, not pages
MAX_PAGE = 999  # the longest guideline has some 600 pages: a larger number is a year or a regulation
# A number with a decimal part ('9792.26', '12.20.2016') is never a page: read as a word, it ends a list of pages
_DECIMAL = re.compile(r"\d+(?:\.\d+)+")
# "..., which is (not) part of the MTUS": whether the source is MTUS, which its clause already says
_PART_OF_MTUS = re.compile(r",?\s*which\s+(?:is|are)\s+(?:not\s+)?(?:a\s+)?part\s+of\s+(?:the\s+)?"
                           r"(?:CA\s+|California\s+)?MTUS(?:\s+guidelines)?", re.I)


@dataclass(frozen=True)
class GuidelineLine:
    citations: tuple[Citation, ...]
    no_evidence: bool


def parse_guideline_line(clean: CleanText, start: int, end: int, party: Party) -> GuidelineLine:
    """Citations one party gave in clean text [start, end)."""
    if NO_EVIDENCE.search(clean.text, start, end) or NOTHING_CITED.fullmatch(clean.text, start, end):
        return GuidelineLine((), True)
    bounds = [m.end() for m in CLAUSE.finditer(clean.text, start, end)] or [start]
    citations: list[Citation] = []
    for i, clause_start in enumerate(bounds):
        nxt = CLAUSE.search(clean.text, clause_start, end)
        clause_end = nxt.start() if nxt and i + 1 < len(bounds) else end
        citations += _clause(clean, clause_start, clause_end, party)
    return GuidelineLine(tuple(citations), False)


def _clause(clean: CleanText, start: int, end: int, party: Party) -> list[Citation]:
    mtus = MTUS_HEAD.match(clean.text, start, end)
    if mtus:
        return _mtus(clean, mtus.end(), end, party)
    head = NON_MTUS_HEAD.match(clean.text, start, end)
    if not head and _mtus_part().match(clean.text, start, end):
        return _mtus(clean, start, end, party)
    return _non_mtus(clean, head.end() if head else start, end, party)


def _mtus(clean: CleanText, start: int, end: int, party: Party) -> list[Citation]:
    titles: list[tuple[int, int, str]] = []
    for code, pattern in [*load().mtus_titles, *_odg()]:  # ODG named in an MTUS clause is a citation of its own
        titles += [(m.start(), m.end(), code) for m in pattern.finditer(clean.text, start, end)]
    titles = _non_overlapping(sorted(titles, key=lambda t: (t[0], -t[1])))
    regulation = _first_regulation(clean.text, start, titles[0][0] if titles else end)
    titles = _merge(([regulation] if regulation else []) + titles, clean.text)
    titles = [t for i, t in enumerate(titles)
              if _starts_guideline(clean.text, titles[i - 1] if i else None, start, t)]
    if not titles:
        return [] if _blank(clean.text[start:end]) else [_citation(clean, party, "OTHER", start, start, end,
                                                                    source_name="MTUS")]
    out = []
    for i, (s, e, code) in enumerate(titles):
        seg_end = titles[i + 1][0] if i + 1 < len(titles) else end
        name = ODG_NAME.match(clean.text, s, seg_end) if code == "ODG" else None  # "... Guidelines (ODG)"
        out.append(_citation(clean, party, code, s, max(e, name.end()) if name else e, seg_end))
    return out


@cache
def _mtus_part() -> re.Pattern[str]:
    """A part of the MTUS named without 'MTUS' ("Chronic Pain Medical Treatment Guidelines, page 29"): the
    title is the MTUS's own. ACOEM's is not: ACOEM without 'MTUS' is the college's own guideline."""
    titles = "|".join(pattern.pattern for code, pattern in load().mtus_titles if code != "MTUS-ACOEM")
    return re.compile(rf"\s*(?:the\s+)?(?:California\s+)?(?:\(?(?:2009|2016)\)?\s+)?(?:{titles})", re.I)


_BARE_CHAPTER = re.compile(r"Chapter\s+\d+", re.I)
_JOINED = re.compile(r"(?:,|\band)\s*$", re.I)
_FULL_TITLE = re.compile(r"Complaints|Disorders|Chapter|Guidelines|Treatment|Approaches|\b(?:2004|2007|2009|2016)\b|"
                         r"ACOEM|American\s+College|\bODG\b", re.I)


def _first_regulation(text: str, start: int, end: int) -> tuple[int, int, str] | None:
    """A regulation named before any title ('MTUS 9792.24.1', 'MTUS (Effective July 18, 2009)'): the
    part it adopts is the guideline cited. After a title it only repeats it."""
    found = [(m.start(), m.end(), code) for code, pattern in load().mtus_regulations
             if (m := pattern.search(text, start, end))]
    return min(found) if found else None


@cache
def _regulations() -> re.Pattern[str]:
    """A reference to the regulations that adopt the MTUS ('8 C.C.R. 9792.20 - 9792.26 MTUS (Effective
    July 18, 2009)'), with the words around it: it names the guideline, not a section of it."""
    refs = "|".join(pattern.pattern for _, pattern in load().mtus_regulations)
    return re.compile(rf"(?:\bSections?\s+)?(?:\b8\s+C\.?\s?C\.?\s?R\.?\s*)?(?:§\s*)?"
                      rf"(?:(?:\bMTUS\s*)?(?:{refs})[\s,]*)+", re.I)


def _odg() -> list[tuple[str, re.Pattern[str]]]:
    return [(code, pattern) for code, pattern in load().non_mtus if code == "ODG"]


def _starts_guideline(text: str, previous: tuple[int, int, str] | None, start: int,
                      title: tuple[int, int, str]) -> bool:
    """A title inside a 'Section(s):' list ('Section(s): Knee') is a section, not a new guideline,
    unless it is a full title joined on ('..., and Shoulder Complaints 2004'); so is a bare body
    part after another guideline ('Postsurgical Treatment Guidelines, Shoulder'), and a bare chapter
    after its guideline's topic ('ACOEM Independent Medical Examinations and Consultations, Chapter 7')."""
    before = text[previous[1] if previous else start:title[0]]
    full = bool(_FULL_TITLE.search(text, title[0], title[1]))
    if SECTIONS.search(before):
        return bool(_JOINED.search(before)) and full
    if previous and previous[2] == title[2] and _BARE_CHAPTER.fullmatch(text, title[0], title[1]):
        return False
    return full or not previous


def _non_overlapping(titles: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    kept: list[tuple[int, int, str]] = []
    for t in titles:
        if not kept or t[0] >= kept[-1][1]:
            kept.append(t)
    return kept


# What may stand between two titles of one guideline: punctuation ('Clinical Topics: Low Back Complaints'),
# its edition and year.
_TITLE_GAP = re.compile(r"[\s,():.]*(?:(?:2nd|Second|3rd|Third)\s+Edition[\s,()]*)?(?:2004[\s,()]*)?", re.I)


def _merge(titles: list[tuple[int, int, str]], text: str) -> list[tuple[int, int, str]]:
    """Join adjacent titles of one guideline ('ACOEM Chapter 3' + 'Initial Approaches to Treatment',
    'Low Back Complaints (ACOEM Practice Guidelines, 2nd Edition (2004), Chapter 12')."""
    merged: list[tuple[int, int, str]] = []
    for t in titles:
        if merged and merged[-1][2] == t[2] and _TITLE_GAP.fullmatch(text, merged[-1][1], t[0]):
            merged[-1] = (merged[-1][0], t[1], t[2])
        else:
            merged.append(t)
    return merged


def _blank(text: str) -> bool:
    """Nothing but space and punctuation: no source to cite (a guideline line that lost its words)."""
    return not text.strip(" \t\n.,;:")


def _non_mtus(clean: CleanText, start: int, end: int, party: Party) -> list[Citation]:
    """One citation per named source (ODG, ACOEM), in the order named, each up to the next one
    ('ODG, Pain chapter and ACOEM Practice Guidelines, Chapter 12'); the text before the first
    belongs to it. A clause that names none cites another source, named by its first words."""
    body = clean.text[start:end]
    if _blank(body):
        return []
    named = sorted((m.start(), code) for code, pattern in load().non_mtus
                   for m in pattern.finditer(clean.text, start, end))
    sources = [(at, code) for i, (at, code) in enumerate(named) if i == 0 or code != named[i - 1][1]]
    if not sources:
        source = re.split(r"[,.;:]\s", body.strip(), maxsplit=1)[0].strip(" .")
        return [_citation(clean, party, "OTHER", start, start, end, source_name=source)]
    out = []
    for i, (at, code) in enumerate(sources):
        seg_start = start if i == 0 else at
        seg_end = sources[i + 1][0] if i + 1 < len(sources) else end
        name = ODG_NAME.match(clean.text, seg_start, seg_end) if code == "ODG" else None
        out.append(_citation(clean, party, code, seg_start, name.end() if name else seg_start, seg_end))
    return out


def _citation(clean: CleanText, party: Party, code: str, start: int, body_start: int, end: int,
              source_name: str | None = None) -> Citation:
    body = clean.flat(body_start, end)
    sections = _sections(body)
    if sections and _names_the_source(sections[0], code, source_name):
        sections = sections[1:]
    return Citation(
        party=party,
        guideline=code,
        written=clean.fact(clean.flat(start, end), start, end),
        source_name=source_name,
        sections=tuple(sections),
        pages=tuple(parse_pages(body)),
    )


# ACOEM's own name, which opens a Non-MTUS ACOEM citation ("American College of Occupational and Environmental
# Medicine (ACOEM), 2nd Edition"): the source, not a section of it
_ACOEM_NAME = re.compile(r"(?:ACOEM|American\s+College\s+of\s+Occupational\s+and\s+Environmental\s+Medicine"
                         r"(?:\s*\(ACOEM\))?)(?:\s+(?:Occupational\s+Medicine\s+)?(?:Practice\s+)?Guidelines?)?", re.I)


def _names_the_source(topic: str, code: str, source_name: str | None) -> bool:
    """The first topic of a citation is its source's own name ('Medscape', 'ACOEM Practice Guidelines')."""
    if source_name:
        return source_name.lower().startswith(topic.lower())
    return code == "ACOEM" and bool(_ACOEM_NAME.fullmatch(topic))


def parse_pages(text: str) -> list[int]:
    """Pages named in `text` ("Page(s): 29; 64", "Page 63-65", "pages 29 and 65"), ranges expanded."""
    pages: set[int] = set()
    text = _DECIMAL.sub("number", OF_PAGES.sub("", text))
    for m in PAGES.finditer(text):
        for r in PAGE_RANGE.finditer(m.group("v")):
            a = int(r.group("a"))
            b = int(r.group("b")) if r.group("b") else a
            if a <= b <= a + MAX_PAGE_RANGE:
                pages.update(range(a, b + 1))
            else:
                pages.update({a, b})
    for m in BARE_PAGES.finditer(text):  # no word says these are pages: only a true range is read
        r = PAGE_RANGE.fullmatch(m.group("v"))
        if r and int(r.group("a")) < int(r.group("b")) <= int(r.group("a")) + MAX_PAGE_RANGE:
            pages.update(range(int(r.group("a")), int(r.group("b")) + 1))
    return sorted(p for p in pages if 0 < p <= MAX_PAGE)


def _sections(body: str) -> list[str]:
    """Sections or topics a citation names, in order, without page references."""
    marker = SECTIONS.search(body)
    text = body[marker.end():] if marker else body
    text = _regulations().sub(";", PAGES.sub(";", OF_PAGES.sub("", _PART_OF_MTUS.sub("", text))))
    text = _EMPTIED_BRACKETS.sub(";", text)
    out: list[str] = []
    for piece in _split_topics(_break_at_dates(text)):
        topic = piece.strip(" ,.:;")
        if (name := ODG_NAME.match(topic)) and name.end() < len(topic):  # "ODG Physical Therapy Guidelines"
            topic = topic[name.end():]
        previous = None
        while topic != previous:
            previous, topic = topic, _NOISE.sub("", topic).strip(" ,.:;")
            if _BRACKETED.fullmatch(topic):  # a page's label in brackets: "67-68 (NSAIDs)"
                topic = topic[1:-1]
        topic = sentence_case(topic)
        if (re.search(r"[A-Za-z]{2}", topic) and not _CONNECTIVE.fullmatch(topic) and not ODG_NAME.fullmatch(topic)
                and topic not in out):
            out.append(topic)
    return out


def _break_at_dates(text: str) -> str:
    """A date outside brackets ends a topic: ODG's chapter and its update date written before the topic
    without a comma ("Low Back (Acute & Chronic) 12/20/2016 MRI"). A date in brackets stays in its topic."""
    out: list[str] = []
    last = 0
    for m in DATE.finditer(text):
        if text.count("(", 0, m.start()) == text.count(")", 0, m.start()):
            out += [text[last:m.start()], ";"]
            last = m.end()
    return "".join(out) + text[last:]


def _split_topics(text: str) -> list[str]:
    """Split at ';', '. ' and ', X' (X capitalised), but never inside parentheses, a date ('Low Back
    Chapter (updated December 20, 2016)') or a section's known title ('NSAIDs, GI symptoms & cardiovascular
    risk')."""
    whole = (*DATE.finditer(text), *load().section_names.finditer(text))
    unsplit = {i for m in whole for i in range(*m.span())}
    pieces: list[str] = []
    depth, last = 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth <= 0 and ch in ";.," and i not in unsplit and _TOPIC_BREAK.match(text, i):
            pieces.append(text[last:i])
            last = i + 1
            depth = 0
    pieces.append(text[last:])
    return pieces
