"""kg search: the decisions whose item text or rationale holds some words (any case, as a substring),
in letter order, each with the words in context. The text index (kg.text_index) names the decisions
where it can; otherwise (a remote store, words under three characters, a phrase held by very many
decisions) SPARQL's CONTAINS reads every text, as GraphQL's `text` filter does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyoxigraph as ox

from kg import iris
from kg.namespaces import SPARQL_PREFIXES
from kg.queries import SelectResult
from kg.store import Store
from kg.text_index import MOST_DECISIONS

if TYPE_CHECKING:
    from kg.remote import RemoteStore

COLUMNS = ["letter", "decision", "outcome", "item", "excerpt"]
CONTEXT = 70  # characters of text either side of the words in an excerpt
WALK_CHUNK = 800  # letters whose decisions one query tests, walking through words that very many decisions hold

_DETAILS = """?l imr:hasDecision ?d ; dcterms:identifier ?letter .
?d imr:sequence ?seq ; imr:outcome ?outcome ; imr:decides/imr:itemText ?item .
OPTIONAL { ?d imr:rationale ?rationale }"""


@dataclass(frozen=True)
class Found:
    result: SelectResult
    total: int | None  # how many decisions hold the words, when the text index said


def search(store: Store | RemoteStore, words: str, limit: int) -> Found:
    """The first `limit` decisions holding `words` (spaces between words made single)."""
    words = " ".join(words.split())
    if not words:
        raise ValueError("no words to look for")
    named = store.decisions_with_words(words, MOST_DECISIONS)
    if isinstance(named, list):
        page = _first(store, f"VALUES ?d {{ {' '.join(str(ox.NamedNode(d)) for d in named)} }}", limit)
    elif isinstance(named, int) and isinstance(store, Store) and store.tallies_complete():
        # many: the first letters hold the first page (the tallies' counts list every letter)
        page = _walked(store, words, limit)
    else:
        page = _first(store, f"{{ SELECT DISTINCT ?d WHERE {{ {holding(words)} }} }}", limit)
    # their texts read for the page alone: sorting every match with its texts took 50 s at 100k letters
    details = (f"{SPARQL_PREFIXES}SELECT ?letter ?seq ?outcome ?item ?rationale WHERE {{ VALUES ?d {{ "
               f"{' '.join(map(str, page))} }}\n{_DETAILS} }} ORDER BY ?letter ?seq")
    rows = [_row(s, words) for s in store.query(details)] if page else []  # type: ignore[union-attr]
    return Found(SelectResult(COLUMNS, rows), len(named) if isinstance(named, list) else named)


def holding(words: str, from_decision: bool = False) -> str:
    """The pattern of a decision ?d whose item text or rationale holds `words` (any case), as SPARQL's
    CONTAINS finds it where there is no text index (here and in GraphQL's `text` filter): from every item
    text, to scan the store (at 100k letters 2.3 s, against 31 s through ?d's path with an OPTIONAL
    rationale and one FILTER of both), or from ?d when ?d is found first (a walk's chunk of letters
    tested from every item text took minutes)."""
    phrase = f"LCASE({ox.Literal(words)})"
    test = f"FILTER(CONTAINS(LCASE(?ftext), {phrase}))"
    item = (f"?d imr:decides/imr:itemText ?ftext . {test}" if from_decision else
            f"?ftextof imr:itemText ?ftext . {test} ?d imr:decides ?ftextof")
    return f"{{ {item} }} UNION {{ ?d imr:rationale ?frat . FILTER(CONTAINS(LCASE(?frat), {phrase})) }}"


def _first(store: Store | RemoteStore, decisions: str, limit: int) -> list[ox.NamedNode]:
    """The first `limit` of these decisions in letter order."""
    sparql = (f"{SPARQL_PREFIXES}SELECT ?d WHERE {{ {decisions}\n?l imr:hasDecision ?d ; dcterms:identifier ?letter . "
              f"?d imr:sequence ?seq }} ORDER BY ?letter ?seq LIMIT {int(limit)}")
    return [s["d"] for s in store.query(sparql)]  # type: ignore[union-attr,index,misc]


def _walked(store: Store, words: str, limit: int) -> list[ox.NamedNode]:
    """The first `limit` decisions holding words that very many do, found a chunk of letters at a time in
    letter order (sorting them all took 32 s at 100k letters)."""
    ids = sorted(store.letter_decision_counts())
    page: list[ox.NamedNode] = []
    for start in range(0, len(ids), WALK_CHUNK):
        letters = " ".join(str(iris.letter(i)) for i in ids[start:start + WALK_CHUNK])
        sparql = (f"{SPARQL_PREFIXES}SELECT DISTINCT ?d ?letter ?seq WHERE {{ VALUES ?l {{ {letters} }} "
                  f"?l imr:hasDecision ?d ; dcterms:identifier ?letter . ?d imr:sequence ?seq . "
                  f"{holding(words, from_decision=True)} }} ORDER BY ?letter ?seq LIMIT {limit - len(page)}")
        page += [s["d"] for s in store.query(sparql)]  # type: ignore[union-attr,index,misc]
        if len(page) >= limit:
            break
    return page


def _row(solution: ox.QuerySolution, words: str) -> list[ox.Literal | None]:
    item, rationale = solution["item"].value, solution["rationale"].value if solution["rationale"] else ""
    return [solution["letter"], solution["seq"], solution["outcome"], solution["item"],  # type: ignore[list-item]
            ox.Literal(excerpt(rationale, words) or excerpt(item, words))]


def excerpt(text: str, words: str) -> str:
    """The words in `text` with up to CONTEXT characters either side, spaces made single ('' if absent)."""
    flat = " ".join(text.split())
    at = flat.lower().find(words.lower())
    if at < 0:
        return ""
    start, end = max(0, at - CONTEXT), min(len(flat), at + len(words) + CONTEXT)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")
