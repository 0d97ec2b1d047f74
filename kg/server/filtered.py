"""A page of the decisions or letters that some filters match, and how many match, found in SPARQL
shaped for Oxigraph's planner: each filter's pattern, the letter index that pages are walked
through, and the counts kept for a filter's next pages. The GraphQL layer (kg.server.graphql)
says which filters a user gave; this module says how to find their page."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import accumulate
from math import ceil
from typing import Any

from kg import facet_index
from kg.search import holding
from kg.server.runner import QueryRunner
from kg.server.selects import letter_values, select, term, values

# A request's drug classes: its medications' classes, or the class it names instead of a drug
DRUG_CLASS = "(imr:medication/imr:drugClass|imr:requestedDrugClass)/skos:prefLabel"


# Each filter's graph pattern for its value (a typed term, never pasted text), joined to the decision ?d
# and its letter ?l only, so that a count needs nothing else. Oxigraph plans joins mostly in the order
# written: the filters come first in every query, and a compared value's triple comes first in its
# filter, the path to the letter after it (the count of decisions of workers aged 70 or more took 0.78 s
# at 10k letters through the path from the letter, 0.02 s so). It evaluates a FILTER EXISTS's pattern
# whole for every row it tests (a diagnosis filter over 10k letters ran past 300 s), so a letter-level
# condition with many matches per letter is a subquery of the letters that meet it.
_CASE_OF_LETTER = "?l imr:aboutCase ?fcase ."
_WORKER_OF_LETTER = f"?fcase imr:injuredWorker ?fworker . {_CASE_OF_LETTER}"
_FILTERS: dict[str, Callable[[Any], str]] = {
    # every generic a name stands for ('Norco': hydrocodone and acetaminophen)
    "medication": lambda v: " ".join(f"?d imr:decides/imr:medication/skos:prefLabel {term(g)} ." for g in v),
    "drug_class": lambda v: f"?d imr:decides/{DRUG_CLASS} {term(v)} .",
    "service_type": lambda v: f"?d imr:decides/imr:serviceType/skos:prefLabel {term(v.lower())} .",
    "outcome": lambda v: f"?d imr:outcome {term(v)} .",
    # the sections named so first (a few thousand labels), then their citations: at 100k letters the count and a
    # page take 1.6 s, against 54 s comparing the label of every citation's section
    "guideline_section": lambda v: f"{{ SELECT ?fsection WHERE {{ ?fsection a imr:GuidelineSection ; "
                                   f"skos:prefLabel ?fsec . FILTER(LCASE(?fsec) = LCASE({term(v)})) }} }} "
                                   f"?d imr:citation/imr:section ?fsection .",
    "guideline": lambda v: f"?d imr:citation/imr:guideline/skos:notation {term(v.upper())} .",
    "specialty": lambda v: f"?l imr:reviewedBy/(imr:specialty|imr:subspecialty)/skos:prefLabel {term(v)} .",
    "state": lambda v: f"?l imr:reviewedBy/imr:licensedIn/skos:notation {term(v.upper())} .",
    "decided_from": lambda v: f"?fcase imr:decisionDate ?ffrom . FILTER(?ffrom >= {term(v)}) {_CASE_OF_LETTER}",
    "decided_to": lambda v: f"?fcase imr:decisionDate ?fto . FILTER(?fto <= {term(v)}) {_CASE_OF_LETTER}",
    "diagnosis": lambda v: f"{{ SELECT DISTINCT ?l WHERE {{ ?l imr:aboutCase/imr:diagnosis/imr:label ?fdx . "
                           f"FILTER(CONTAINS(?fdx, LCASE({term(v)}))) }} }}",
    "body_region": lambda v: f"{{ SELECT DISTINCT ?l WHERE {{ ?l imr:aboutCase/(imr:diagnosis|imr:injury)/"
                             f"imr:bodyRegion/skos:prefLabel {term(v.lower())} }} }}",
    "sex": lambda v: f"?l imr:aboutCase/imr:injuredWorker/imr:sex {term(v.lower())} .",
    "age_from": lambda v: f"?fworker imr:age ?fage_from . FILTER(?fage_from >= {term(v)}) {_WORKER_OF_LETTER}",
    "age_to": lambda v: f"?fworker imr:age ?fage_to . FILTER(?fage_to <= {term(v)}) {_WORKER_OF_LETTER}",
    # every item text and rationale read once; _text_of_decisions where ?l or ?d is bound already
    "text": lambda v: f"{{ SELECT DISTINCT ?d WHERE {{ {holding(v)} }} }}",
}


FILTER_NAMES = tuple(_FILTERS)  # the names filter_patterns takes


def _text_of_decisions(words: str) -> str:
    """The text filter for a query whose letters or decisions are found first: a few decisions of
    one medication (0.15 s at 100k letters against 2.5 s reading every text), a walk's chunk."""
    return f"?l imr:hasDecision ?d . {holding(words, from_decision=True)}"


# Filters that leave few decisions (a value of the request itself), so that others are best tested on them
_NARROWING = frozenset({"medication", "service_type", "guideline_section"})


def _reads_every_text(given: dict[str, Any]) -> bool:
    """Whether the filters look for words in every item text and rationale (nothing narrows them)."""
    return "text" in given and _NARROWING.isdisjoint(given)


def filter_patterns(given: dict[str, Any], diagnosis_labels: list[str] | None = None,
                    letters_bound: bool = False, text_decisions: list[str] | None = None) -> str:
    """The patterns of the filters given (by _FILTERS's names; a medication as a tuple of generic
    names, all of which a decision must name); a diagnosis's words as the labels that hold them,
    and the text's as the decisions that hold them (kg.text_index), when those are known."""

    def pattern(name: str, value: Any) -> str:
        if name == "diagnosis" and diagnosis_labels is not None:
            return _diagnosis_with_labels(diagnosis_labels, letters_bound)
        if name == "text" and (letters_bound or not _reads_every_text(given)):
            return _text_of_decisions(value)
        return _FILTERS[name](value)

    names = [n for n in _FILTERS if given.get(n) not in (None, "")]
    # a walk's chunk of letters tests their decisions' texts instead (0.09 s a next page of 'mri' at 100k
    # letters, 0.58 s with its 11,847 decisions named)
    if "text" in names and text_decisions is not None and not letters_bound:
        return _from_decisions(text_decisions, "\n".join(pattern(n, given[n]) for n in names if n != "text"))
    return "\n".join(pattern(name, given[name]) for name in names)


def _from_decisions(decisions: list[str], others: str) -> str:
    """Patterns that start from these decisions (a VALUES block) and test the other filters on each:
    Oxigraph joins a VALUES block after any pattern with a constant (the Upheld decisions counted among
    1,754 named at 100k letters: 14.3 s), but evaluates a LATERAL's patterns for each row before it
    (0.11 s)."""
    if not decisions:
        return "FILTER(false)"
    start = f"{values('d', decisions)} ?l imr:hasDecision ?d ."
    return f"{start} LATERAL {{ {others} }}" if others else start


def _diagnosis_with_labels(labels: list[str], letters_bound: bool) -> str:
    """Letters with a diagnosis of one of these labels: found from the labels (an index lookup each),
    or, in a query that names its letters, their diagnoses' labels compared with them. Counting at 10k
    letters: 0.1 s, or 0.16 s comparing the labels, against 0.54 s looking for the words in every
    diagnosis's label; a walk's query of 34 letters: 0.008 s, or 0.3 s from the labels."""
    terms = [term(label) for label in labels]
    if letters_bound:
        return (f"?l imr:aboutCase ?fcase . ?fcase imr:diagnosis ?fdiagnosis . ?fdiagnosis imr:label ?fdx . "
                f"FILTER(?fdx IN ({', '.join(terms)}))" if terms else "FILTER(false)")
    return (f"VALUES ?fdx {{ {' '.join(terms)} }} ?fdiagnosis imr:label ?fdx . ?fcase imr:diagnosis ?fdiagnosis . "
            f"{_CASE_OF_LETTER}")


@dataclass(frozen=True)
class Patterns:
    """The filters' patterns for a query that starts from them, and for one that names its letters."""

    first: str
    in_letters: str
    # list the matches first (sorted here when few): the filters read every text, so that counting them
    # costs what listing them does, or start from the few decisions the text index names
    list_first: bool = False
    joined: bool = False  # `first` joins the decisions to their letters (see DECISION_JOIN)
    total: int | None = None  # the decisions that match, when known without a count (the text index's)
    # the filters as the store's index of their values counts them (kg.facet_index), JSON's types only
    given: dict[str, Any] | None = None


async def patterns(runner: QueryRunner, given: dict[str, Any]) -> Patterns:
    """The filters' patterns, a diagnosis's words looked up among the distinct labels first where the
    store keeps them (kg.kept)."""
    labels = decisions = None
    if given.get("diagnosis"):
        answer = await runner.ask({"kind": "diagnosis-labels", "words": given["diagnosis"]})
        labels = json.loads(answer.content()) if answer.status == 200 else None
    if given.get("text"):
        answer = await runner.ask({"kind": "text-decisions", "words": given["text"]})
        found = json.loads(answer.content()) if answer.status == 200 else None
        decisions = found if isinstance(found, list) else None
        others = {n: v for n, v in given.items() if v not in (None, "") and n != "text"}
        if isinstance(found, int) and (not others or _reads_every_text(given)):
            # too many to name: the words alone match that many, or the index of the filters' values counts
            # them with the others (kg.facet_index); a page is walked to through the letters, their
            # decisions' texts tested
            return Patterns(filter_patterns(given, labels), filter_patterns(given, labels, letters_bound=True),
                            total=None if others else found, given=_as_json(given))
    return Patterns(filter_patterns(given, labels, text_decisions=decisions),
                    filter_patterns(given, labels, letters_bound=True, text_decisions=decisions),
                    decisions is not None or _reads_every_text(given), joined=decisions is not None,
                    given=_as_json(given))


def _as_json(given: dict[str, Any]) -> dict[str, Any]:
    """The filters in JSON's types, for a request to the query processes: a date as ISO text, the
    generics of a medication as a list."""
    return {name: v.isoformat() if isinstance(v, dt.date) else list(v) if isinstance(v, tuple) else v
            for name, v in given.items()}


# seconds to build the letter index (0.7 s at 100k letters from the kept decision counts; ~10 s without them)
INDEX_TIMEOUT = 300.0


@dataclass
class LetterIndex:
    """Letter ids in order with their decision counts (from the tallies): a page of letters or of
    decisions is found by position, instead of sorting every letter or decision of the store."""

    ids: list[str]
    starts: list[int]  # decisions before each letter
    total_decisions: int

    @classmethod
    def of(cls, counts: list[tuple[str, int]]) -> LetterIndex:
        starts = [0, *accumulate(n for _, n in counts)]
        return cls([i for i, _ in counts], starts[:-1], starts[-1])

    def letters_covering(self, offset: int, limit: int) -> tuple[list[str], int]:
        """The letters holding decisions offset .. offset+limit-1, and how many decisions come
        before the first of them."""
        first = max(bisect_right(self.starts, offset) - 1, 0)
        last = bisect_left(self.starts, offset + limit, lo=first)
        return self.ids[first:last], self.starts[first] if self.ids else 0


async def load_letter_index(runner: QueryRunner) -> LetterIndex | None:
    answer = await runner.ask({"kind": "letter-index"}, timeout=INDEX_TIMEOUT)
    if answer.status != 200:
        raise ValueError(answer.content().decode(errors="replace").strip())
    counts = json.loads(answer.content())
    return None if counts is None else LetterIndex.of([(i, n) for i, n in counts])


# What orders a page of decisions: its letter's id and its place in the letter.
DECISION_KEYS = "?l imr:hasDecision ?d ; dcterms:identifier ?letter . ?d imr:sequence ?seq ."

# A filtered page is found by walking the letters in id order, a chunk at a time, when the matches are
# dense enough that a few thousand letters hold it: sorting every match instead takes ~0.5 s per 10k
# letters for a filter half the decisions meet, and grows with the store.
WALK_MAX_LETTERS = 8_000  # letters a walk may read
WALK_CHUNK = 800  # letters named in one query: with a larger VALUES block Oxigraph plans the join from the
# filter's side (at 100k letters 1,000 letters took 0.14-0.2 s, 1,500 took 4.9-17 s, 3,090 took 11-34 s)
WALK_MAX_ROWS = 2_000  # how deep (offset + limit) a page found by walking may be
# A filter that reads every text with at most this many matches is answered by one query of them all,
# sorted here: 651 matches among 100k letters in 2.6 s, reading every text once instead of twice (to
# count, to sort). Not for other filters: their counts read indexes, and the first 2,001 keys cost
# more than a count (0.04-0.07 s against 0.01 s for the Overturned decisions of 10k letters).
FEW_MATCHES = 2_000


@dataclass(frozen=True)
class Listing:
    """The SPARQL of a filtered list: its count, its rows among some letters (LETTERS: their VALUES)
    and its rows among all; FILTERS stands for the filters' patterns. `order` names the variables
    that order a page, each with the Python type that sorts its values as SPARQL does."""

    count: str
    in_letters: str
    every: str
    order: tuple[tuple[str, type[str] | type[int]], ...]
    count_in_letters: str
    of: str  # what is listed: "decisions" or "letters"
    columns: tuple[str, ...]  # a row's columns as the index of the filters' values gives them (kg.facet_index)

    @property
    def letter(self) -> str:
        """The column of a row's letter id: the first that orders a page."""
        return self.order[0][0]

    @property
    def order_by(self) -> str:
        return "ORDER BY " + " ".join(f"?{name}" for name, _ in self.order)

    def sort(self, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return sorted(rows, key=lambda row: tuple(kind(row[name]) for name, kind in self.order))


# JOIN: the decisions' letters, unless the filters start from the decisions and join them already (a
# second join after a LATERAL made Oxigraph read every decision: 5 s instead of 0.03-0.12 at 100k letters)
DECISION_JOIN = "?l imr:hasDecision ?d ."
DECISIONS = Listing(
    count="SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE { FILTERS JOIN }",
    in_letters=f"SELECT DISTINCT ?d ?letter ?seq WHERE {{ LETTERS {DECISION_KEYS} FILTERS }}",
    # the matches' keys only: joining ?l imr:hasDecision ?d again takes 0.56 s instead of 0.02 s
    every="SELECT ?d ?letter ?seq WHERE { { SELECT DISTINCT ?l ?d WHERE { FILTERS JOIN } } "
          "?l dcterms:identifier ?letter . ?d imr:sequence ?seq . }",
    order=(("letter", str), ("seq", int)),
    count_in_letters=f"SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE {{ LETTERS {DECISION_KEYS} FILTERS }}",
    of="decisions", columns=("d", "letter", "seq"))
LETTERS = Listing(
    count="SELECT (COUNT(DISTINCT ?l) AS ?n) WHERE { FILTERS }",
    in_letters="SELECT DISTINCT ?id WHERE { LETTERS ?l dcterms:identifier ?id . FILTERS }",
    every="SELECT ?id WHERE { { SELECT DISTINCT ?l WHERE { FILTERS } } ?l dcterms:identifier ?id }",
    order=(("id", str),),
    count_in_letters="SELECT (COUNT(DISTINCT ?l) AS ?n) WHERE { LETTERS ?l dcterms:identifier ?id . FILTERS }",
    of="letters", columns=("id",))


@dataclass
class Counted:
    """How many rows some filters match, and where among the letters: `marks[p]` matches lie in the
    index's first p letters, as walks found them, so that a next page walks on from the last mark
    before it instead of from the first letter."""

    total: int
    marks: dict[int, int] = field(default_factory=lambda: {0: 0})


MAX_MARKS = 10_000  # marks kept for one filter (walks and skips add them a chunk at a time)


class Matched:
    """What filters matched lately, per store generation: their count and marks, or every row when
    they are few, so the next page of the same filters is not counted again (most of ODG's 1.8 s at
    100k letters) and is walked to from near it. Holds at most `size` answers for at most `seconds`
    each (a remote store changed by another process keeps its generation), the least recently used
    dropped first."""

    def __init__(self, size: int = 64, seconds: float = 120.0) -> None:
        self._found: OrderedDict[tuple[int, int, bytes], tuple[float, Counted | list[dict[str, str]]]] = OrderedDict()
        self._size, self._seconds = size, seconds

    def get(self, key: tuple[int, int, bytes]) -> Counted | list[dict[str, str]] | None:
        at, found = self._found.get(key, (0.0, None))
        if found is None or time.monotonic() - at > self._seconds:
            return None
        self._found.move_to_end(key)
        return found

    def put(self, key: tuple[int, int, bytes], found: Counted | list[dict[str, str]]) -> None:
        self._found[key] = (time.monotonic(), found)
        self._found.move_to_end(key)
        while len(self._found) > self._size:
            self._found.popitem(last=False)


_SLOT = re.compile(r"\b(?:FILTERS|LETTERS|JOIN)\b")


def fill(template: str, **parts: str) -> str:
    """The template with each slot replaced once: the text put in (a user's words, a letter's id) is
    not looked at again."""
    return _SLOT.sub(lambda m: parts[m.group(0)], template)


async def filtered_page(runner: QueryRunner, index: LetterIndex | None, listing: Listing, filters: Patterns,
                        offset: int, limit: int, matched: Matched) -> tuple[int, list[dict[str, str]]]:
    """How many rows match, and a page of them: counted (or known from an earlier page), then walked
    through the letter index when they are dense enough (see walk), else sorted from every match;
    filters that read every text or start from the text index list their matches first, and sort them
    here when they are few. Filters whose values the store's index keeps are counted and paged by SQLite
    instead (kg.facet_index)."""
    join = "" if filters.joined else DECISION_JOIN
    every = fill(listing.every, FILTERS=filters.first, JOIN=join)
    count = fill(listing.count, FILTERS=filters.first, JOIN=join)
    # the count's digest: a diagnosis's labels can make a query of many kilobytes
    key = (id(runner), runner.generation, hashlib.sha256(count.encode()).digest())
    known = matched.get(key)
    if known is None and filters.total is not None:
        known = Counted(filters.total)
        matched.put(key, known)
    if isinstance(known, list):
        return len(known), known[offset:offset + limit]
    paged = await _facet_page(runner, filters, listing, offset, limit, matched, key)
    if paged is not None:  # counted and paged by SQLite
        return paged
    if known is None and filters.list_first:
        few = min(FEW_MATCHES, runner.max_rows - 1)
        first = await select(runner, f"{every} LIMIT {few + 1}")  # unordered: ends at the limit
        if len(first) <= few:
            rows = listing.sort(first)
            matched.put(key, rows)
            return len(rows), rows[offset:offset + limit]
    if known is None:
        known = Counted(int((await select(runner, count))[0]["n"]))
        matched.put(key, known)
    total = known.total
    if offset >= total:
        return total, []

    async def in_letters(ids: list[str], n: int) -> list[dict[str, str]]:
        query = fill(listing.in_letters, LETTERS=letter_values(ids), FILTERS=filters.in_letters)
        return await select(runner, f"{query} {listing.order_by} LIMIT {n}")

    async def count_in(ids: list[str]) -> int:
        query = fill(listing.count_in_letters, LETTERS=letter_values(ids), FILTERS=filters.in_letters)
        return int((await select(runner, query))[0]["n"])

    await skip(index, total, offset, limit, count_in, known.marks)
    walked = await walk(index, total, offset, limit, in_letters, known.marks, listing.letter)
    if walked is not None:
        return total, walked
    return total, await select(runner, f"{every} {listing.order_by} LIMIT {limit} OFFSET {offset}")


async def _facet_page(runner: QueryRunner, filters: Patterns, listing: Listing, offset: int, limit: int,
                      matched: Matched, key: tuple[int, int, bytes]) -> tuple[int, list[dict[str, str]]] | None:
    """How many decisions or letters the filters match (kept for their next pages) and a page of them,
    from the store's index of their values (kg.facet_index; the Upheld decisions of female workers at
    100k letters: a first page with its count in 0.59 s, against 12-21 s counting in SPARQL); None where
    there is no such index (a remote store) or it cannot tell for these filters."""
    if filters.given is None or not facet_index.COUNTED.issuperset(filters.given):
        return None
    known = matched.get(key)
    total = known.total if isinstance(known, Counted) else filters.total
    answer = await runner.ask({"kind": "facet-page", "given": filters.given, "of": listing.of, "offset": offset,
                               "limit": limit, "count": total is None})
    found = json.loads(answer.content()) if answer.status == 200 else None
    if not isinstance(found, list):
        return None
    counted, rows = found
    if total is None:
        total = counted
        matched.put(key, Counted(total))
    return total, [dict(zip(listing.columns, map(str, row), strict=True)) for row in rows]


def _last_mark(marks: dict[int, int], offset: int) -> tuple[int, int]:
    """The furthest letter position with at most `offset` matches before it, and their number."""
    return max(((p, n) for p, n in marks.items() if n <= offset), default=(0, 0))


async def skip(index: LetterIndex | None, matches: int, offset: int, limit: int,
               count_in: Callable[[list[str]], Awaitable[int]], marks: dict[int, int]) -> None:
    """Marks nearer a page too far from the last mark before it for a walk (more than WALK_MAX_ROWS
    rows): the matches of the next chunks of letters counted, a count a chunk and no rows, halving
    the chunk that holds the page's first row, until the page is near enough; only when the matches'
    share says that takes at most WALK_MAX_LETTERS letters (a sparse filter's page is sorted from its
    few matches instead)."""
    if index is None or not matches:
        return
    at, before = _last_mark(marks, offset)
    if offset + limit - before <= WALK_MAX_ROWS or (offset - before) * len(index.ids) / matches > WALK_MAX_LETTERS:
        return
    start, size = at, WALK_CHUNK
    while offset + limit - before > WALK_MAX_ROWS and at < len(index.ids) and at - start < WALK_MAX_LETTERS:
        end = min(at + size, len(index.ids))
        counted = await count_in(index.ids[at:end])
        if before + counted > offset:  # the page begins in this chunk: its first half counted next
            if size == 1:
                return
            size //= 2
            continue
        at, before = end, before + counted
        if len(marks) < MAX_MARKS:
            marks[at] = before


async def walk(index: LetterIndex | None, matches: int, offset: int, limit: int,
               in_letters: Callable[[list[str], int], Awaitable[list[dict[str, str]]]],
               marks: dict[int, int], letter: str) -> list[dict[str, str]] | None:
    """The `limit` matches from `offset` in letter order, read from the letters of the index a chunk
    at a time from the last of the `marks` before them (which the walk adds to: how many matches lie
    before the end of each chunk it reads whole, and before the letter of the last row it reads; a
    row's letter id is its column `letter`). None (the matches are sorted then) when the
    walk would read more letters than there are matches to sort (0.1 s against 0.03 s for 351
    matches among 10k letters), or than WALK_MAX_LETTERS, or than twice the letters expected to hold
    the page (the matches lie further on than their share said: later letters, say, for a filter on
    the decision date)."""
    if index is None or not matches:
        return None
    start, before = _last_mark(marks, offset)
    wanted = offset + limit - before  # rows to read from the mark on
    if wanted > WALK_MAX_ROWS:
        return None
    expected = ceil(1.5 * wanted * len(index.ids) / matches) + 8  # letters to hold the page, and a margin
    if min(expected, len(index.ids) - start) > min(WALK_MAX_LETTERS, matches):
        return None
    rows: list[dict[str, str]] = []
    at, size = start, min(expected, WALK_CHUNK)
    while len(rows) < wanted and at < len(index.ids):
        if at - start >= 2 * expected:
            return None
        asked = wanted - len(rows)
        found = await in_letters(index.ids[at:at + size], asked)
        rows += found
        at = min(at + size, len(index.ids))
        if len(found) < asked and len(marks) < MAX_MARKS:  # every match of the chunk read: a mark at its end
            marks[at] = before + len(rows)
        size = min(2 * size, WALK_CHUNK)
    if rows and len(marks) < MAX_MARKS:  # the rows before the last row's letter are all its matches before it
        last = rows[-1][letter]
        marks[bisect_left(index.ids, last)] = before + next(i for i, row in enumerate(rows) if row[letter] == last)
    return rows[offset - before:]
