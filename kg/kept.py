"""Rows of the per-letter named queries, kept per letter at build time: which queries, and how a
letter's rows are encoded. What this module writes is part of the extractor (kg.extractor
fingerprints it): a change here re-extracts every letter.

Some named queries return rows about one letter each, ordered by letter first: the two tables of
`kg table` (decisions, cases), guideline-disagreements, time-injury-to-review, and
decisions-for-medication. Their headers say `# per-letter: yes`. Over the whole store they join
every decision (minutes at 100k letters); over one letter's quads, when the letter is parsed, they
take a millisecond or two. The store keeps each letter's rows of each such query in the manifest
(under a predicate of that query's own, so that reading one query's rows reads nothing else),
replaced and removed with the letter, and answers these queries by concatenating them in letter
order (kg.kept_tables): the same rows, in the same order, as the query over the store gives. A
query whose one parameter binds a column it selects (decisions-for-medication) is kept without it,
for every value, and answered with the rows whose column holds the value (`by_value`). The store
also keeps indexes of every letter's rows (kg.kept_index), made from these.

A row is a JSON list of cells: a plain string literal is its string, an IRI is [iri], any other
literal is [lexical, datatype IRI] or [lexical, "@" + language], and an unbound cell is null."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import pyoxigraph as ox

from kg import iris
from kg.namespaces import XSD_STRING
from kg.queries import NamedQuery, Term, all_queries, select_result, without_header

ENCODING = "kept rows 2: a JSON list of cells per row, under a predicate per query"  # change with the encoding
Kept = Iterable[tuple[str, str]]  # (letter id, that letter's encoded rows of one query), in any order
Rows = dict[str, str]  # query name -> one letter's encoded rows of it


@cache
def kept_queries() -> dict[str, NamedQuery]:
    """The per-letter named queries, by name: those without parameters, and those whose one
    parameter is a column they select (their rows are kept for every value: see `by_value`)."""
    return {q.name: q for q in all_queries() if q.per_letter and (not q.parameters or _bound_column(q))}


def _bound_column(query: NamedQuery) -> str | None:
    """The column that the query's one parameter binds, if the query selects it."""
    names = [p.name for p in query.parameters]
    return names[0] if len(names) == 1 and names[0] in sparql_columns(query.sparql) else None



def by_value(name: str) -> str | None:
    """The column a kept query's parameter binds (its rows are indexed by that column's value), or
    None for a query without parameters. Binding the parameter selects the rows whose column holds
    the value, in the same order, so the rows of every value are kept and looked up by value."""
    query = kept_queries()[name]
    return query.parameters[0].name if query.parameters else None



def value_key(value: Term) -> str:
    """How a value of a `by_value` column is written in its index's IRI."""
    return json.dumps(encoded(value), separators=(",", ":"))


@cache
def predicate(name: str) -> ox.NamedNode:
    """The manifest predicate under which a letter keeps its rows of query `name`."""
    return iris.kept_rows(name)


def definitions() -> dict[str, str]:
    """What makes kept rows: the queries (not their documentation: a new word in a header does not
    make every store's rows stale), and how their rows are encoded."""
    return {"encoding": ENCODING} | {name: without_header(q.sparql) for name, q in kept_queries().items()}


def columns(name: str) -> list[str]:
    """The variables the query selects."""
    return sparql_columns(kept_queries()[name].sparql)


@cache
def sparql_columns(sparql: str) -> list[str]:
    return [v.value for v in ox.Store().query(sparql).variables]  # type: ignore[union-attr]


def encoded(term: Term) -> Any:
    if term is None or isinstance(term, ox.Triple):
        return None if term is None else str(term)
    if isinstance(term, ox.NamedNode):
        return [term.value]
    if isinstance(term, ox.BlankNode):
        return [term.value, "_"]
    if term.language:
        return [term.value, "@" + term.language]
    return term.value if term.datatype.value == XSD_STRING else [term.value, term.datatype.value]


def term(cell: Any) -> Term:
    """An encoded cell as the term it was."""
    if cell is None or isinstance(cell, str):
        return None if cell is None else ox.Literal(cell)
    if len(cell) == 1:
        return ox.NamedNode(cell[0])
    if cell[1] == "_":
        return ox.BlankNode(cell[0])
    if cell[1].startswith("@"):
        return ox.Literal(cell[0], language=cell[1][1:])
    return ox.Literal(cell[0], datatype=_datatype(cell[1]))


@cache
def _datatype(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def rows_by_letter(store: ox.Store, letter_ids: Iterable[str]) -> dict[str, Rows]:
    """Letter id -> query name -> that letter's rows, encoded, from a store of the quads of these
    letters (see kg.summaries): each query's rows split by their ?letter column, which every
    per-letter query selects."""
    found: dict[str, dict[str, list[list[Any]]]] = {letter_id: {} for letter_id in letter_ids}
    for name, query in kept_queries().items():
        result = select_result(query, store.query(query.sparql, use_default_graph_as_union=True))  # type: ignore[arg-type]
        at = result.columns.index("letter")
        for row in result.rows:
            found[row[at].value].setdefault(name, []).append([encoded(t) for t in row])  # type: ignore[union-attr]
    return {letter_id: {name: json.dumps(rows.get(name, []), separators=(",", ":")) for name in kept_queries()}
            for letter_id, rows in found.items()}
