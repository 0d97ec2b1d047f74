"""Rows of the per-letter named queries, kept per letter at build time.

Some named queries return rows about one letter each, ordered by letter first: the two tables of
`kg table` (decisions, cases), guideline-disagreements, time-injury-to-review. Their headers say
`# per-letter: yes`. Over the whole store they join every decision (minutes at 100k letters); over
one letter's quads, when the letter is parsed, they take a millisecond or two. The store keeps
each letter's rows in the manifest beside its tallies, replaced and removed with the letter, and
answers these queries (without parameters) by concatenating them in letter order: the same rows,
in the same order, as the query over the store gives.

A letter's rows are kept as SPARQL JSON results bindings, so that the concatenation is parsed back
into typed terms by pyoxigraph, and a table's cells are the bindings' values."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache

import pyoxigraph as ox

from kg.queries import NamedQuery, SelectResult, all_queries, json_term, select_result

Kept = Iterable[tuple[str, str]]  # (letter id, that letter's encoded rows), in any order


@cache
def kept_queries() -> dict[str, NamedQuery]:
    """The per-letter named queries (without parameters), by name."""
    return {q.name: q for q in all_queries() if q.per_letter and not q.parameters}


def definitions() -> dict[str, str]:
    return {name: q.sparql for name, q in kept_queries().items()}


@cache
def columns(name: str) -> list[str]:
    """The variables the query selects."""
    query = kept_queries()[name]
    return select_result(query, ox.Store().query(query.sparql)).columns  # type: ignore[arg-type]


def letter_rows(store: ox.Store) -> str:
    """One letter's rows of every kept query, encoded, from a store of that letter's quads alone."""
    rows = {}
    for name, query in kept_queries().items():
        result = select_result(query, store.query(query.sparql, use_default_graph_as_union=True))  # type: ignore[arg-type]
        rows[name] = [{c: json_term(t) for c, t in zip(result.columns, row, strict=True) if t is not None}
                      for row in result.rows]
    return json.dumps(rows, separators=(",", ":"))


def _bindings(kept: Kept, name: str) -> Iterator[dict[str, dict[str, str]]]:
    for _, text in sorted(kept):
        yield from json.loads(text).get(name, [])


def cells(kept: Kept, name: str) -> Iterator[list[str]]:
    """The rows of query `name` as table cells (lexical values; empty when unbound)."""
    names = columns(name)
    for binding in _bindings(kept, name):
        yield [binding[c]["value"] if c in binding else "" for c in names]


def solutions(kept: Kept, name: str) -> SelectResult:
    """The rows of query `name` as typed terms (parsed by pyoxigraph as one SPARQL JSON result)."""
    names = columns(name)
    document = json.dumps({"head": {"vars": names}, "results": {"bindings": list(_bindings(kept, name))}})
    parsed = ox.parse_query_results(document, format=ox.QueryResultsFormat.JSON)
    return SelectResult(names, [[s[c] for c in names] for s in parsed])  # type: ignore[union-attr]
