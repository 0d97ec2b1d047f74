"""The clinical case summary: the worker's age and sex, the injury, diagnoses and the UR decision."""

from __future__ import annotations

import datetime as dt
import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kg.parser.dates import DATE, DATE_TEXT, date_from_match
from kg.parser.lexicon import TENS
from kg.parser.text import CleanText
from kg.record import Diagnosis, Fact, UtilizationReview
from kg.vocab import load

_AGE_WORDS = (r"(?:[-\s]?(?:years?|yrs?\.?)[-\s]?old\b|\s?(?:y/o|y\.o\.|yo)(?:(?<=\.)[mf]\.?)?(?![a-z])"
              r"|\s+years?\s+of\s+age\b)")  # "45 yr. old", "45 y.o.m."
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
# an age in words: "a forty-five year old male"
_AGE_IN_WORDS = rf"(?:{'|'.join(TENS)})(?:[-\s](?:{'|'.join(_UNITS)}))?|{'|'.join(_TEENS)}"
AGE = re.compile(rf"\b(?:(?P<v>\d{{1,3}})|(?P<w>{_AGE_IN_WORDS})){_AGE_WORDS}", re.I)
# "The patient, age 53, ..." (only after a word for the worker: "surgery at age 16" is no age)
AGE_OF_WORKER = re.compile(r"\b(?:patient|worker|claimant|applicant|employee|male|female|man|woman),?\s+"
                           r"aged?\s*:?\s*(?P<v>\d{2})\b(?!\s*(?:%|/))"
                           r"|\b(?-i:Age)\s*:\s*(?P<v2>\d{2})\b(?!\s*(?:%|/))", re.I)  # a note's "Age: 44"
# Up to four words may describe the worker between age and sex: "a 45-year-old right-handed female",
# "a 59-year-old, right hand dominant, male"; a verb or a clause ends the phrase.
_DESCRIBER = r"(?!(?:who|with|and|was|is|has|had|who's)\b)[A-Za-z][\w-]*"
SEX = re.compile(rf"\b(?:an?|the|this)\s+(?:now\s+)?(?:(?:\d{{1,3}}|{_AGE_IN_WORDS}){_AGE_WORDS},?\s+"
                 rf"(?:\([^()]{{1,20}}\),?\s+)?"  # "a 45-year-old (45 yo) female"
                 rf"(?:{_DESCRIBER},?\s+){{0,4}}?)?(?P<v>female|male|woman|man|gentleman|lady)\b", re.I)
# "a 45 yo M", "45 YO male" (no article), "a 45 y.o.m."
SEX_LETTER = re.compile(rf"\b\d{{1,3}}(?i:{_AGE_WORDS})[,\s]+(?P<v>[MF]|(?i:female|male))\b"
                        r"|\b\d{1,3}\s?(?i:y\.o\.)(?P<g>[mfMF])\b")
# A note's field ("Sex: Female", "Gender: M") or a title ("Mr. X is a 45-year-old")
SEX_FIELD = re.compile(r"\b(?:Sex|Gender)\s*:\s*(?P<v>(?i:female|male)|[MF])\b|\b(?P<t>Mr|Mrs|Ms)\.?\s+(?=[A-Z])")
PRONOUN = re.compile(r"\b(?:(?P<he>he|his|him|himself)|she|her|hers|herself)\b", re.I)
_SEX_VALUES = {"female": "female", "woman": "female", "lady": "female", "f": "female",
               "male": "male", "man": "male", "gentleman": "male", "m": "male", "mr": "male", "mrs": "female",
               "ms": "female"}

_D = DATE_TEXT
INJURY_DATE = re.compile(
    rf"(?:date\s+of\s+injury|injury\s+date|\bDOI\b|injur(?:y|ies|ed)|occupational\s+claim|claim|\bhurt|"
    rf"accident|\bfell|\bfall|tripped|slipped|(?:cumulative|continuous)\s+trauma)\b"
    rf"[^.;]{{0,40}}?(?P<v>{_D})", re.I)
INJURY_REGIONS = re.compile(r"injur(?:y|ies|ed)\s+(?:to|of)\s+(?:the\s+|his\s+|her\s+)?(?P<v>[^.;]+)", re.I)

# Sentences that introduce a list of diagnoses; the list runs to the end of the sentence.
_END = r"(?=\.\s|\.$|\.\)|\)|$)"
_DIAGNOSES = r"(?:diagnos(?:es|is)|diagnostic\s+impressions?)"  # "The diagnostic impression is X"
# An aside before the list: "include (but are not limited to) X", "diagnosed with (in part) X"
_ASIDE = r"(?:\((?=[a-z]{2})[^()]{1,40}\)\s*)?"  # words in lower case, never a list's "(1)" or "(A)"
# The list itself: brackets in it are its own ("Cervicalgia (M54.2), Low back pain (M54.5)"); a closing one
# that opened before it ends it ("(diagnoses include X, Y)")
_LIST = r"(?P<v>(?:[^()]|\([^()]*\))+?)"
DIAGNOSIS_LISTS = (
    re.compile(r"diagnos[ie]s\s*\((?P<v>[^)]+)\)", re.I),
    re.compile(_DIAGNOSES + r"(?:\s+(?:at\s+th(?:at|e|is)\s+(?:time|visit)|on\s+th(?:at|is)\s+(?:date|day|visit)|"
               r"then|(?:per|according\s+to|by|as\s+of)\s+[^.;:]{1,60}?|listed|documented|noted|reported))?"
               r"\s+(?:that\s+)?"
               r"(?:was|were|is|are|include[sd]?|included|ha(?:ve|s)\s+included|ha(?:ve|s)\s+been|"
               r"consist(?:s|ed)?\s+of)"
               r"(?:,\s*but\s+(?:are|is)\s+not\s+limited\s+to,?\s*|\s*:\s*|\s+)"  # "include, but are not limited to, X"
               r"(?:(?:noted|documented|listed|reported)\s+(?:to\s+(?:be|include)\s+)?)?"
               r"(?:as\s+follows\s*:?\s*)?(?:as\s+)?(?:having\s+)?:?\s*" + _ASIDE + _LIST + _END, re.I | re.S),
    re.compile(r"\b(?:" + _DIAGNOSES + r"|Dx)\s*:\s*" + _LIST + _END, re.I | re.S),  # "Current diagnoses: X, Y."
    re.compile(r"\b(?:has|have|had|carries|carried|with|indicate[sd]?|document(?:s|ed)?|note[sd]?|list(?:s|ed)?|"
               r"reflect(?:s|ed)?|given|received)\s+(?:an?\s+|the\s+)?" + _DIAGNOSES + r"\s+of\s+" + _LIST
               + _END, re.I | re.S),  # "The injured worker has a diagnosis of X", "was given diagnoses of X"
    # a progress note's "Assessment: 1. X 2. Y", "Impression: X; Y"
    re.compile(r"\b(?:Assessments?|(?:Clinical\s+)?Impressions?)\s*:\s*" + _LIST + _END, re.S),
    re.compile(r"diagnosed\s+(?:(?:him|her|the\s+(?:patient|claimant|(?:injured\s+)?worker))\s+)?(?:as\s+having|with)\s+"
               + _ASIDE + _LIST + _END, re.I | re.S),  # "The provider diagnosed her with X"
    re.compile(r"(?:undergoing|being|ha(?:s|ve|d)\s+been)\s+treat(?:ment|ments|ed)\s+for\s+(?:the\s+diagnosis\s+of\s+)?"
               r"(?!\d|about\b|approximately\b|over\b|several\b|many\b|the\s+past\b)"  # not "treated for 3 years"
               + _LIST + _END, re.I | re.S),
    # "has submitted / filed a claim for X(,) (reportedly) associated with an industrial injury"; not "for an injury"
    re.compile(r"(?:submitted|filed)\s+a\s+claim\s+for\s+(?!(?:an?\s+)?(?:[\w-]+\s+)?injur)" + _LIST
               + r"(?=,?\s+(?:reportedly\s+)?associated\s+with|" + _END[3:], re.I | re.S),
)

# The claims administrator's own words for its UR decision ("the claims administrator denied ...", "the
# claims administrator's utilization reviewer denied ...").
_CA_ACTION = (r"claims\s+administrator(?:'s\s+utilization\s+reviewer)?\s+(?:denied|non-?certified|modified|"
              r"partially\s+(?:approved|certified)|failed\s+to\s+approve)")
UR_MENTION = re.compile(
    rf"(?:utilization\s+review|\bUR\b|prior\s+(?:peer\s+)?(?:determination|review)|previous\s+review|peer\s+review|"
    rf"adverse\s+determination|non-?certification\s+(?:letter|notice|determination)|denial\s+(?:letter\s+)?dated)"
    rf"[^.;]{{0,80}}?(?P<v>{_D})"
    rf"|(?:partially\s+)?(?:denied|non-?certified|modified|certified)\s+(?:the\s+requests?\s+)?"
    rf"(?:in\s+an?\s+(?:decision|determination)(?:\s+letter)?\s+)?(?:on|dated)\s+(?P<v2>{_D})"
    # a date first: "12/12/2014 UR", and "On 12/12/2014, the request for Norco was denied by the utilization
    # reviewer" (one alternative: every position of a summary is tried as a date's start)
    rf"|(?P<v3>{_D})(?:[^.;]{{0,12}}(?:utilization\s+review|\bUR\b)|,?\s+the\s+requests?\b[^.;]{{0,80}}?\b"
    rf"(?:was|were)\s+(?:denied|non-?certified|modified|partially\s+certified)\s+(?:by|in|at)\s+(?:the\s+)?"
    rf"(?:utilization\s+review|UR\b))"
    # "The request was previously reviewed on 12/02/2016. The requested TENS unit ... were previously denied"
    rf"|requests?\s+(?:was|were)\s+previously\s+reviewed\s+(?:on|dated)\s+(?P<v7>{_D})", re.I)
CA_MENTION = re.compile(  # searched only in a summary that names the claims administrator: a date starts it
    rf"{_CA_ACTION}[^.;]{{0,80}}?\b(?:on|dated)\s+(?P<v4>{_D})|(?P<v5>{_D}),?\s+the\s+{_CA_ACTION}", re.I)
_CLAIMS_ADMINISTRATOR = re.compile(r"claims\s+administrator", re.I)
_ACTIONS = (r"partially\s+certified|partially\s+approved|conditionally\s+non-?certified|non-?certified|"
            r"noncertified|failed\s+to\s+approve|denied|modified|certified|not\s+medically\s+necessary|"
            r"not\s+(?:certified|approved)|did\s+not\s+(?:certify|approve)|denial|non-?certification|modification|"
            r"approved")
_ADVERSE = ("denied", "non-certified", "modified")
UR_ACTION = re.compile(rf"\b(?P<v>{_ACTIONS})\b", re.I)
PREVIOUS_ACTION = re.compile(rf"\bpreviously\s+(?P<v>{_ACTIONS})\b", re.I)  # the sentence after the mention


@dataclass(frozen=True)
class Summary:
    age: Fact[int] | None
    sex: Fact[str] | None
    injury_date: Fact[dt.date] | None
    body_regions: tuple[Fact[str], ...]
    diagnoses: tuple[Diagnosis, ...]
    utilization_review: UtilizationReview


def parse_summary(clean: CleanText, start: int, end: int) -> Summary:
    """Every field of the clinical case summary in clean text [start, end)."""
    return Summary(
        age=_age(clean, start, end),
        sex=_sex(clean, start, end),
        injury_date=_injury_date(clean, start, end),
        body_regions=_injury_regions(clean, start, end),
        diagnoses=tuple(_diagnoses(clean, start, end)),
        utilization_review=_utilization_review(clean, start, end),
    )


def _age(clean: CleanText, start: int, end: int) -> Fact[int] | None:
    m = AGE.search(clean.text, start, end) or AGE_OF_WORKER.search(clean.text, start, end)
    if not m:
        return None
    for group in ("v", "v2"):
        if m.groupdict().get(group):
            return clean.fact(int(m.group(group)), *m.span(group))
    words = re.split(r"[-\s]+", m.group("w").lower())
    return clean.fact(sum(TENS.get(w, 0) + _UNITS.get(w, 0) + _TEENS.get(w, 0) for w in words), *m.span("w"))


def _sex(clean: CleanText, start: int, end: int) -> Fact[str] | None:
    m = SEX.search(clean.text, start, end) or SEX_LETTER.search(clean.text, start, end)
    if m:
        group = "v" if m.group("v") else "g"
        return clean.fact(_SEX_VALUES[m.group(group).lower()], *m.span(group))
    field = SEX_FIELD.search(clean.text, start, end)
    if field:
        group = "v" if field.group("v") else "t"
        return clean.fact(_SEX_VALUES[field.group(group).lower()], *field.span(group))
    return _sex_from_pronouns(clean, start, end)


def _sex_from_pronouns(clean: CleanText, start: int, end: int) -> Fact[str] | None:
    """A summary that never names the worker's sex ("The applicant is a represented 45-year-old former
    warehouse worker") but speaks of the worker as 'he' or 'she' throughout: two pronouns or more, all
    of one sex. The first is the evidence."""
    found = list(PRONOUN.finditer(clean.text, start, end))
    sexes = {"male" if m.group("he") else "female" for m in found}
    if len(found) < 2 or len(sexes) != 1:
        return None
    return clean.fact(sexes.pop(), *found[0].span())


def _date_in(clean: CleanText, m: re.Match[str], group: str) -> Fact[dt.date] | None:
    inner = DATE.search(clean.text, *m.span(group))
    value = date_from_match(inner) if inner else None
    return clean.fact(value, *m.span(group)) if value else None


def _injury_date(clean: CleanText, start: int, end: int) -> Fact[dt.date] | None:
    for m in INJURY_DATE.finditer(clean.text, start, end):
        fact = _date_in(clean, m, "v")
        if fact:
            return fact
    return None


def regions_of(text: str) -> tuple[str, ...]:
    """Body regions a phrase names (cervical -> neck, lumbar -> low back, ...)."""
    return tuple(region for region, pattern in load().body_region_rules if pattern.search(text))


def _injury_regions(clean: CleanText, start: int, end: int) -> tuple[Fact[str], ...]:
    m = INJURY_REGIONS.search(clean.text, start, end)
    if not m:
        return ()
    out: list[Fact[str]] = []
    for region, pattern in load().body_region_rules:
        hit = pattern.search(clean.text, *m.span("v"))
        if hit:
            out.append(clean.fact(region, *hit.span()))
    return tuple(out)


def _diagnoses(clean: CleanText, start: int, end: int) -> list[Diagnosis]:
    seen: set[str] = set()
    out: list[Diagnosis] = []
    for pattern in DIAGNOSIS_LISTS:
        for m in pattern.finditer(clean.text, start, end):
            for s, e in _list_items(clean.text, m, end):
                written = clean.flat(s, e)
                label = " ".join(ICD_CODE.sub("", written).lower().split())  # the code is kept in its words
                if label in seen or len(label) < 3:
                    continue
                seen.add(label)
                out.append(Diagnosis(clean.fact(written, s, e), label, regions_of(label)))
    return out


def _list_items(text: str, m: re.Match[str], end: int) -> list[tuple[int, int]]:
    """The items of the list a diagnosis pattern found: marked ('1. X 2. Y', 'a) X b) Y', '- X'), one a
    line after a label that ends its line ('Diagnoses:' / 'Lumbar radiculopathy' / 'Cervical strain'),
    or written as a sentence."""
    v_start = m.start("v")
    mark = _LIST_MARK.match(text, v_start)
    if mark and _label(mark) == _nth_label(_label(mark), 0):
        return _numbered_items(text, v_start, end)
    label = text[m.start():v_start]
    if label.rstrip(" \t").endswith(":\n"):
        lines = _unmarked_lines(text, v_start, end)
        if lines:
            return lines
    items = _split_list(text, *m.span("v"))
    return items + _more_sentences(text, m.end("v"), end) if ":" in label else items


# "Diagnoses: Lumbar radiculopathy. Cervical strain. Depression.": a sentence after a label's list that is
# one short diagnosis
_NEXT_SENTENCE = re.compile(r"\.[ \t\n]+(?P<s>[A-Z][^.]{1,80}?)(?=\.(?:\s|$))")
_MAX_SENTENCE_WORDS = 6


def _more_sentences(text: str, at: int, end: int) -> list[tuple[int, int]]:
    """The sentences from `at` (the end of a label's list) on that are each a diagnosis: a few words, no
    clause, naming a body region or a condition ('Follow up in 4 weeks' names neither)."""
    spans: list[tuple[int, int]] = []
    while m := _NEXT_SENTENCE.match(text, at, end):
        sentence = m.group("s")
        if (_PROSE.search(sentence) or "," in sentence or len(sentence.split()) > _MAX_SENTENCE_WORDS
                or not regions_of(sentence.lower())):
            break
        spans.append(m.span("s"))
        at = m.end("s")
    return spans


# A verb after the list's last 'and' starts a clause, not a diagnosis: "diagnosed with X and underwent surgery"
_CLAUSE_VERBS = (r"underwent|was|were|is|are|has|had|have|received|continues|continued|reports|reported|complains|"
                 r"complained|presented|returned|developed|states|stated|denies|denied")
_CLAUSE_AFTER = re.compile(rf"(?:{_CLAUSE_VERBS}|subsequently|then)\b", re.I)
_LEADING_AND = re.compile(r"^\s*(?:and|or|as\s+well\s+as|an?|the)\s+", re.I)
_LAST_AND = re.compile(r"\s+and\s+")


def _split_list(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a written list into item ranges: on ';' when the list uses it, else on ',' and the
    final 'and'; never inside the words of one diagnosis ('muscle, fascia and tendon')."""
    separator = ";" if ";" in text[start:end] else ","
    whole = [m.span() for m in _ONE_DIAGNOSIS.finditer(text, start, end)]
    cuts = sorted([i for i in range(start, end) if text[i] == separator and not _inside(i, whole)]
                  + [m.start() for m in _RULE_OUT.finditer(text, start, end)])
    parts = list(zip([start, *(c + 1 for c in cuts)], [*cuts, end], strict=True))
    if len(parts) > 1 and all(_PLACES.fullmatch(text[s:e].strip(" .")) for s, e in parts[1:]):
        return [_trim(text, start, end)]  # "sprains of the neck, shoulders and elbows"
    ranges: list[tuple[int, int]] = []
    for i, (s, e) in enumerate(parts):
        lead = _LEADING_AND.match(text[s:e])
        if lead:
            s += lead.end()
        s, e = _without_final_and(text, s, e)  # "left foot pain and" before "rule out CRPS"
        if i == len(parts) - 1:
            for m in _LAST_AND.finditer(text, s, e):  # "pain in the left arm and sprain of the left wrist"
                if m.start() > s and not _inside(m.start(), whole) and _ICD_HEAD.match(text, m.end(), e):
                    ranges.append((s, m.start()))
                    s = m.end()
            last_and = [m for m in _LAST_AND.finditer(text, s, e) if not _inside(m.start(), whole)]
            if last_and and _CLAUSE_AFTER.match(text, last_and[-1].end(), e):  # "X and underwent surgery"
                e = last_and[-1].start()
            elif last_and and (_ICD_QUALIFIER.fullmatch(text, *_trim(text, s, last_and[-1].start()))
                               or _two_diagnoses(text[s:last_and[-1].start()], text[last_and[-1].end():e])):
                ranges.append((s, last_and[-1].start()))
                s = last_and[-1].end()
        ranges.append((s, e))
    out: list[tuple[int, int]] = []
    for s, e in (_trim(text, s, e) for s, e in ranges):
        if out and _ICD_QUALIFIER.fullmatch(text, s, e):  # "radiculopathy, lumbar region" is one
            out[-1] = (out[-1][0], e)
        elif e > s:
            out.append((s, e))
    return out


# How an ICD-10 description begins: a condition of a place ("Pain in left arm", "Sprain of ligaments of
# lumbar spine", "Other tear of medial meniscus"): after 'and', a diagnosis of its own
_ICD_HEAD = re.compile(r"(?:(?:other|unspecified)\s+)?(?:pain|sprain|strain|contusion|fracture|tear|laceration|"
                       r"dislocation|derangement|disorder|injury|crushing\s+injury)\s+(?:of|in|at)\b", re.I)


# "numbness and weakness rule out carpal tunnel syndrome rule out cervical radiculopathy": each 'rule out'
# starts a diagnosis of its own, with or without a comma before it
_RULE_OUT = re.compile(r"(?<=[A-Za-z)])\s(?=\s*(?:rule\s+out|r/o)\b)", re.I)


def _inside(at: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= at < e for s, e in spans)


# Words of one diagnosis that a list's separators would split (ICD-10's "Strain of muscle, fascia and
# tendon of lower back"; "wrist strain and sprain with underlying carpal tunnel syndrome")
_ONE_DIAGNOSIS = re.compile(r"muscles?,\s+fascia\s+and\s+tendons?|\b(?:strains?\s+and\s+sprains?|sprains?\s+and\s+"
                            r"strains?)\b", re.I)


# A diagnosis's code in brackets after it: "Cervicalgia (M54.2)", "(ICD-10: M51.36)", ICD-9's "(722.10)"
ICD_CODE = re.compile(r"\s*\((?:ICD(?:[- ]?(?:9|10)(?:-CM)?)?\s*(?:code)?\s*:?\s*)?"
                      r"(?:[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?|V?\d{3}(?:\.\d{1,2})?)\)", re.I)
# What ICD-10's descriptions put after a comma: "Radiculopathy, lumbar region", "Sprain of ligaments of
# lumbar spine, initial encounter", "Carpal tunnel syndrome, bilateral upper limbs"
_ICD_QUALIFIER = re.compile(
    r"(?:(?:cervical|cervicothoracic|thoracic|thoracolumbar|lumbar|lumbosacral|sacral(?:\s+and\s+sacrococcygeal)?|"
    r"occipito-atlanto-axial|site\s+unspecified)\s+region|multiple\s+sites(?:\s+in\s+spine)?|"
    r"(?:initial|subsequent)\s+encounter(?:\s+for\s+\w+(?:\s+\w+)?)?|sequela|unspecified(?:\s+(?:site|side))?|"
    r"not\s+elsewhere\s+classified|(?:right|left|bilateral|unspecified)\s+(?:side|upper\s+limbs?|lower\s+limbs?|"
    r"upper\s+arms?|forearms?|thighs?|lower\s+legs?|shoulders?|elbows?|wrists?|hands?|hips?|knees?|ankles?(?:\s+and\s+toes)?|"
    r"feet|foot))(?:" + ICD_CODE.pattern + ")?", re.I)


# "1. X 2. Y", "1) X, 2) Y", "(1) X (2) Y", "a. X b. Y", "- X - Y", "• X • Y", or one a line: a number or
# letter not glued to a word or a decimal point, or a bullet.
_LIST_MARK = re.compile(r"(?<![\w.-])(?:\((?=(?:\d{1,2}|[a-hA-H])\)))?(?P<n>\d{1,2}|[a-hA-H])[.)][ \t\n]+"
                        r"|(?<!\S)(?P<b>[-•*·▪])[ \t]+")


def _label(mark: re.Match[str]) -> str:
    return mark.group("n") or mark.group("b")


def _nth_label(first: str, n: int) -> str:
    """The n-th (from 0) label of a list whose first is `first`: 1, 2, 3; a, b, c; a bullet each time."""
    if first.isdigit():
        return str(n + 1)
    if first.isalpha():
        return chr(ord("a" if first.islower() else "A") + n)
    return first


# A line of a list without marks: a capital first, a few words, no clause ("Treatment has included PT"), not
# cut off mid-phrase (a wrapped sentence: "Lumbar radiculopathy, cervical strain and").
_PROSE = re.compile(rf"[;:]|[,\s](?:and|or|of|with|to|the)?$|\b(?:{_CLAUSE_VERBS}|included|includes|noted|requested|"
                    r"recommended|will|should)\b", re.I)
_MAX_LINE_WORDS = 14  # ICD-10's "Strain of muscle, fascia and tendon of lower back, initial encounter"


def _unmarked_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """One item a line from `start`, up to the first line that is prose; a line that goes on in lower
    case is its item's own. Nothing if the first line is no item (the list is a sentence after all)."""
    spans: list[tuple[int, int]] = []
    at = start
    while at < end:
        stop = _item_lines_end(text, at, end)
        line = text[at:stop].strip()
        if not line[:1].isupper() or _PROSE.search(line) or len(line.split()) > _MAX_LINE_WORDS:
            break
        spans.append(_trim(text, at, stop))
        at = stop + 1
    return spans


_SENTENCE_BREAK = re.compile(r"\.(?:\s+|$)")
_PROSE_AFTER = re.compile(r"\.\s+(?=[A-Z][a-z])")  # a sentence after an item ends the list


def _numbered_items(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The items of a marked list from its first mark (at `start`) on. If the marks begin lines, each
    item is its line and the list ends at a line without the next mark; else each item runs to the
    next mark, and the list ends at a sentence's end that the next mark does not follow."""
    mark = _LIST_MARK.match(text, start, end)
    if mark is None:
        return []
    first = _label(mark)
    first_line_end = text.find("\n", start, end)
    inline_two = any(_label(m) == _nth_label(first, 1) for m in _LIST_MARK.finditer(  # "1. X 2. Y" on one line,
        text, mark.end(), first_line_end + 1 if first_line_end >= 0 else end))  # its "2." perhaps at the line's end
    one_a_line = (start == 0 or text[start - 1] == "\n") and not inline_two
    spans: list[tuple[int, int]] = []
    while mark:
        following = _nth_label(first, len(spans) + 1)
        if one_a_line:
            stop = _item_lines_end(text, mark.end(), end)
            nxt = _LIST_MARK.match(text, stop + 1, end) if stop < end else None
            prose = _PROSE_AFTER.search(text, mark.end(), stop)  # "1. anxiety. Treatment to date ..."
            if prose:
                stop, nxt = prose.start(), None
        else:
            nxt = next((m for m in _LIST_MARK.finditer(text, mark.end(), end) if _label(m) == following), None)
            sentence = _SENTENCE_BREAK.search(text, mark.end(), nxt.start() if nxt else end)
            if sentence and sentence.end() != (nxt.start() if nxt else -1):
                nxt, stop = None, sentence.start()
            else:
                stop = nxt.start() if nxt else end
        spans.append((mark.end(), stop))
        mark = nxt if nxt and _label(nxt) == following else None
    return [(s, e) for s, e in (_trim(text, *_without_final_and(text, s, e)) for s, e in spans) if e > s]


def _item_lines_end(text: str, start: int, end: int) -> int:
    """Where an item of a one-a-line list ends: its line's end, or a wrapped line's (one that goes
    on in lower case: "2. Cervical radiculopathy with" / "radiating pain to the arm")."""
    stop = text.find("\n", start, end)
    while 0 <= stop < end - 1 and text[stop + 1].islower():
        stop = text.find("\n", stop + 1, end)
    return stop if stop >= 0 else end


def _without_final_and(text: str, s: int, e: int) -> tuple[int, int]:
    """'lumbar strain, and' (before '3) insomnia') -> 'lumbar strain'."""
    m = re.search(r",?\s+and\s*$", text[s:e])
    return (s, s + m.start()) if m else (s, e)


# A word that names where, never what: 'cervical and lumbar strain' is one diagnosis of two places
_PLACE_WORD = re.compile(r"(?:cervical|thoracic|lumbar|lumbosacral|neck|back|upper|lower|left|right|bilateral|"
                         r"shoulders?|knees?|wrists?|hands?|elbows?|hips?|ankles?|feet|foot)", re.I)


# Words of a list of places alone, which the list's first item's condition is of
_PLACES = re.compile(rf"(?:(?:{_PLACE_WORD.pattern}|spine|extremit(?:y|ies)|arms?|legs?|and|the|both)\b\s*)+", re.I)


def _two_diagnoses(left: str, right: str) -> bool:
    """'anxiety and depression' are two; 'thoracic sprain and strain' is one (the qualifier is shared);
    'lumbar radiculopathy and depression' are two (the last word is a condition the rest does not name);
    'cervical and lumbar strain' and 'neck and low back pain' are one (the condition is shared)."""
    words = right.split()
    if _PLACE_WORD.fullmatch(left.strip()) and len(words) > 1 and not _PLACE_WORD.fullmatch(words[-1]):
        return False
    if len(words) > 1 or len(left.split()) == 1:
        return True
    own = set(regions_of(right.lower()))
    return bool(own) and own <= _CONDITIONS and not own & set(regions_of(left.lower()))


# Regions that a word names as a condition of its own (depression, GERD), not as a body part that
# shares the words before it ('pain in the left arm and wrist').
_CONDITIONS = {"mental health", "digestive system"}


# When the diagnosis was made, after its words: "cervical strain in 2014", "... since 2012"
_WHEN_AFTER = re.compile(r"\s+(?:in|since)\s+(?:19|20)\d\d$", re.I)


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] in " \n,.:;":
        s += 1
    while e > s and text[e - 1] in " \n,.:;":
        e -= 1
    if when := _WHEN_AFTER.search(text, s, e):
        e = when.start()
    return s, e


def _utilization_review(clean: CleanText, start: int, end: int) -> UtilizationReview:
    """The UR decision the IMR reviews: the first mention with an adverse action (denied, non-certified,
    modified); else the first mention. An earlier UR that certified something else is not it."""
    found: Iterable[re.Match[str]] = UR_MENTION.finditer(clean.text, start, end)
    if _CLAIMS_ADMINISTRATOR.search(clean.text, start, end):
        found = heapq.merge(found, CA_MENTION.finditer(clean.text, start, end), key=lambda f: f.start())
    chosen: tuple[re.Match[str], str | None, re.Match[str] | None] | None = None
    for m in found:  # lazily: the first mention is most often the one, and finding the others costs
        action = _ur_action(clean.text, m, start, end)
        value = _action_value(action.group("v")) if action else None
        if value in _ADVERSE:
            chosen = (m, value, action)
            break
        chosen = chosen or (m, value, action)
    if chosen is None:
        return UtilizationReview()
    m, value, action = chosen
    group = next(g for g, v in m.groupdict().items() if v)
    return UtilizationReview(date=_date_in(clean, m, group),
                             action=clean.fact(value, *action.span("v")) if action and value else None)


def _ur_action(text: str, mention: re.Match[str], start: int, end: int) -> re.Match[str] | None:
    """The action named from the mention to its sentence's end; else the nearest before it in its sentence
    ("was modified by UR on"); else "previously denied" in the next sentence."""
    before = text.rfind(". ", max(start, mention.start() - 200), mention.start())
    after = text.find(". ", mention.end(), end)
    found = UR_ACTION.search(text, mention.start(), min(after if after > 0 else end, mention.end() + 200))
    found = found or next(reversed(list(UR_ACTION.finditer(
        text, before + 2 if before >= 0 else max(start, mention.start() - 200), mention.start()))), None)
    if found or after < 0:
        return found
    next_end = text.find(". ", after + 2, end)
    return PREVIOUS_ACTION.search(text, after, next_end if next_end > 0 else end)


def _action_value(word: str) -> str:
    word = " ".join(word.lower().split())
    if "partially" in word or word.startswith("modifi"):
        return "modified"
    if "non" in word or word.startswith(("not ", "did not ")) or word == "failed to approve":
        return "non-certified"
    return {"denial": "denied", "approved": "certified"}.get(word, word)
