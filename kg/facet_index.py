"""The values GraphQL's filters compare, per decision and per letter, kept in the text index's SQLite file
(kg.text_index) beside the texts, so that a filtered list is counted and paged (in letter order, then
each decision's sequence) by SQLite instead of by Oxigraph.

Oxigraph joins a filter of the decision with a filter of its letter in the order the patterns are
written, with no statistics to choose another: at 100k letters it counted the Upheld decisions of
female workers (154,788) in 12-21 s, and no one order suits every pair (the letter's filter first:
4.9 s for that pair, but 2.0 s instead of 0.3 for acupuncture with reviewers licensed in CA).
SQLite's planner has indexes on (facet, value) here.

Each facet is read from the store with the same path as the GraphQL filter of its name
(kg.server.filtered); a value is kept as the filter compares it: an age as an integer, a decision date
as its ISO text.
The tables follow the texts: replaced with a letter, made whole with the index."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kg.namespaces import SPARQL_PREFIXES

SCHEMA = """
CREATE TABLE IF NOT EXISTS fletters(letter TEXT PRIMARY KEY, first INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fdecisions(id INTEGER PRIMARY KEY, letter TEXT NOT NULL, seq INTEGER NOT NULL,
                                      decision TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fdecisions_in_order ON fdecisions(letter, seq);
CREATE TABLE IF NOT EXISTS fvalues(name TEXT NOT NULL, value NOT NULL, decision INTEGER NOT NULL,
                                   PRIMARY KEY(decision, name, value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fvalues_by_value ON fvalues(name, value, decision);
CREATE TABLE IF NOT EXISTS lvalues(name TEXT NOT NULL, value NOT NULL, letter TEXT NOT NULL,
                                   PRIMARY KEY(letter, name, value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lvalues_by_value ON lvalues(name, value, letter);
"""

# The path from a decision (?d) or a letter (?l) to each facet's values (?v), as the filter of that name
# follows it. Kept for the filters that match many decisions; a filter of the request itself (medication,
# service type, guideline section) leaves few, which SPARQL counts fast from them (0.3 s for acupuncture
# with reviewers licensed in CA at 100k letters), and is not kept: reading each facet of 500 letters from a
# 100k store takes 0.02-0.18 s (the sections 0.18).
DECISION_FACETS = {
    # exactly one a decision: its rows list the letter's decisions, with their sequence (?seq)
    "outcome": "?d imr:outcome ?v ; imr:sequence ?seq .",
    "drug_class": "?d imr:decides/(imr:medication/imr:drugClass|imr:requestedDrugClass)/skos:prefLabel ?v .",
    "guideline": "?d imr:citation/imr:guideline/skos:notation ?v .",
}
LETTER_FACETS = {
    "specialty": "?l imr:reviewedBy/(imr:specialty|imr:subspecialty)/skos:prefLabel ?v .",
    "state": "?l imr:reviewedBy/imr:licensedIn/skos:notation ?v .",
    "decided": "?l imr:aboutCase/imr:decisionDate ?v . FILTER(DATATYPE(?v) = xsd:date)",
    "diagnosis": "?l imr:aboutCase/imr:diagnosis/imr:label ?v .",
    "body_region": "?l imr:aboutCase/(imr:diagnosis|imr:injury)/imr:bodyRegion/skos:prefLabel ?v .",
    "sex": "?l imr:aboutCase/imr:injuredWorker/imr:sex ?v .",
    "age": "?l imr:aboutCase/imr:injuredWorker/imr:age ?v . FILTER(DATATYPE(?v) = xsd:integer)",
}
_INTEGER = frozenset({"age"})


def kept_value(facet: str, lexical: str) -> str | int:
    """A facet's value as the index keeps it (see the module's docstring)."""
    return int(lexical) if facet in _INTEGER else lexical


@dataclass
class LetterFacets:
    """One letter's decisions (IRIs) and the facets' values of each and of the letter."""

    decisions: list[tuple[str, int]] = field(default_factory=list)  # (IRI, sequence), each once
    decision_values: set[tuple[str, str, str | int]] = field(default_factory=set)  # (decision, facet, value)
    letter_values: set[tuple[str, str | int]] = field(default_factory=set)  # (facet, value)


def drop(db: sqlite3.Connection, letter_id: str) -> None:
    """Remove a letter's rows."""
    held = db.execute("SELECT first, count FROM fletters WHERE letter = ?", (letter_id,)).fetchone()
    if held is None:
        return
    first, count = held
    db.execute("DELETE FROM fvalues WHERE decision >= ? AND decision < ?", (first, first + count))
    db.execute("DELETE FROM fdecisions WHERE id >= ? AND id < ?", (first, first + count))
    db.execute("DELETE FROM lvalues WHERE letter = ?", (letter_id,))
    db.execute("DELETE FROM fletters WHERE letter = ?", (letter_id,))


def add(db: sqlite3.Connection, letter_id: str, facets: LetterFacets | None) -> None:
    """Add a letter's rows (none: a letter the store no longer holds), its decisions numbered on from
    the last."""
    if facets is None:
        return
    row = db.execute("SELECT id FROM fdecisions ORDER BY id DESC LIMIT 1").fetchone()
    first = (row[0] if row else 0) + 1
    ids = {iri: first + n for n, (iri, _) in enumerate(facets.decisions)}
    db.executemany("INSERT INTO fdecisions VALUES (?, ?, ?, ?)",
                   ((ids[iri], letter_id, seq, iri) for iri, seq in facets.decisions))
    db.executemany("INSERT INTO fvalues VALUES (?, ?, ?)",
                   ((name, value, ids[d]) for d, name, value in facets.decision_values if d in ids))
    db.executemany("INSERT INTO lvalues VALUES (?, ?, ?)", ((name, value, letter_id) for name, value in
                                                            facets.letter_values))
    db.execute("INSERT INTO fletters VALUES (?, ?, ?)", (letter_id, first, len(ids)))


# A GraphQL filter's name -> its facet and how it compares (kg.server.filtered's _FILTERS): "=" a value,
# ">=" / "<=" a bound, "contains" words of the value
_COMPARED = {
    "outcome": ("outcome", "="), "drug_class": ("drug_class", "="), "guideline": ("guideline", "="),
    "specialty": ("specialty", "="), "state": ("state", "="), "sex": ("sex", "="),
    "body_region": ("body_region", "="), "diagnosis": ("diagnosis", "contains"),
    "decided_from": ("decided", ">="), "decided_to": ("decided", "<="),
    "age_from": ("age", ">="), "age_to": ("age", "<="),
}
COUNTED = frozenset(_COMPARED) | {"text"}  # the filters the index counts

# How each filter's value is compared, as kg.server.filtered's pattern of that name does
_AS_COMPARED = {"guideline": str.upper, "state": str.upper, "sex": str.lower, "body_region": str.lower,
                "diagnosis": str.lower}


def _value(name: str, value: Any) -> str | int:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return value
    return _AS_COMPARED.get(name, lambda v: v)(str(value))


def _where(given: dict[str, Any], of: str) -> tuple[str, list[Any]] | None:
    """The FROM and WHERE clauses that keep the decisions (`of` "decisions", table d) or letters ("letters",
    table f) every given filter matches, and their parameters; None if a filter cannot be counted here
    (one whose values are not kept, or a decision's filter for letters). The text filter's value is its
    FTS5 query (kg.text_index.phrase)."""
    conditions: list[str] = []
    params: list[Any] = []
    key = "d.letter" if of == "decisions" else "f.letter"
    for name, value in given.items():
        if name == "text":
            conditions.append("d.decision IN (SELECT decision FROM texts WHERE texts MATCH ?)")
            params.append(value)
        elif name in _COMPARED:
            facet, op = _COMPARED[name]
            table, column = ("fvalues", "d.id") if facet in DECISION_FACETS else ("lvalues", key)
            test = "instr(value, ?) > 0" if op == "contains" else f"value {op} ?"
            target = "decision" if table == "fvalues" else "letter"
            conditions.append(f"{column} IN (SELECT {target} FROM {table} WHERE name = ? AND {test})")
            params += [facet, _value(name, value)]
        else:
            return None
    if of == "letters" and any(c.startswith("d.") for c in conditions):
        return None  # the letters listing takes the letter's filters only
    table = "fdecisions d" if of == "decisions" else "fletters f"
    return f"FROM {table}" + (" WHERE " + " AND ".join(conditions) if conditions else ""), params


def count_sql(given: dict[str, Any], of: str) -> tuple[str, list[Any]] | None:
    """The SQL that counts the decisions (`of` "decisions") or letters ("letters") every given filter
    matches, and its parameters (see _where)."""
    where = _where(given, of)
    return None if where is None else (f"SELECT count(*) {where[0]}", where[1])


def page_sql(given: dict[str, Any], of: str, offset: int, limit: int) -> tuple[str, list[Any]] | None:
    """The SQL of a page of the decisions (decision IRI, letter id, sequence; in letter order, then
    sequence) or the letters (letter id, in order) every given filter matches (see _where)."""
    where = _where(given, of)
    if where is None:
        return None
    columns, order = ("d.decision, d.letter, d.seq", "d.letter, d.seq") if of == "decisions" else ("f.letter",
                                                                                                 "f.letter")
    return f"SELECT {columns} {where[0]} ORDER BY {order} LIMIT ? OFFSET ?", [*where[1], limit, offset]


def read_queries(letters: str) -> list[tuple[str, str]]:
    """(facet, SPARQL) of each facet's values of the letters (IRIs, as SPARQL terms), each query selecting
    ?l, ?d, ?v and ?seq (?d unbound for a letter's facet; ?seq bound for the outcome only)."""
    head = f"{SPARQL_PREFIXES}SELECT ?l ?d ?v ?seq WHERE {{ VALUES ?l {{ {letters} }} "
    queries = [(facet, f"{head}?l imr:hasDecision ?d . {path} }}") for facet, path in DECISION_FACETS.items()]
    queries += [(facet, f"{head}{path} }}") for facet, path in LETTER_FACETS.items()]
    return queries


def facet_rows(rows: Iterable[tuple[str, str, str, str, str]]) -> dict[str, LetterFacets]:
    """(letter id, facet, decision IRI or "", value, sequence or "") rows, by letter; a decision's outcome
    lists it."""
    out: dict[str, LetterFacets] = {}
    for letter_id, facet, decision, value, seq in rows:
        held = out.setdefault(letter_id, LetterFacets())
        if facet == "outcome":
            held.decisions.append((decision, int(seq)))
        if facet in DECISION_FACETS:
            held.decision_values.add((decision, facet, kept_value(facet, value)))
        else:
            held.letter_values.add((facet, kept_value(facet, value)))
    return out
