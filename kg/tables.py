"""The two tables of `kg table` (decisions, cases), kept per letter at build time.

Both tables have rows about one letter each, ordered by letter. Run over the whole store, their
queries join every decision (minutes at 100k letters); run over one letter's quads when the letter
is parsed, they take a millisecond or two. The store keeps each letter's rows in the manifest
beside its tallies, replaced and removed with the letter, and `kg table` concatenates them in
letter order: the same rows, in the same order, as the query over the store gives."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache

import pyoxigraph as ox

from kg.queries import NamedQuery, cell, named_query, select_result

TABLES = ("decisions", "cases")  # each is the named query of the same name, ordered by ?letter first


@cache
def table_query(name: str) -> NamedQuery:
    return named_query(name)


def table_queries() -> dict[str, str]:
    return {name: table_query(name).sparql for name in TABLES}


@cache
def columns(name: str) -> list[str]:
    """The table's header: the variables its query selects."""
    return select_result(table_query(name), ox.Store().query(table_query(name).sparql)).columns  # type: ignore[arg-type]


def letter_rows(store: ox.Store) -> str:
    """One letter's rows of every table, encoded, from a store of that letter's quads alone."""
    rows = {}
    for name in TABLES:
        solutions = store.query(table_query(name).sparql, use_default_graph_as_union=True)
        rows[name] = [[cell(t) for t in row] for row in select_result(table_query(name), solutions).rows]  # type: ignore[arg-type]
    return json.dumps(rows, separators=(",", ":"))


def rows_in_letter_order(encoded: Iterable[tuple[str, str]], name: str) -> Iterator[list[str]]:
    """The rows of table `name`, from (letter id, encoded rows) pairs in any order."""
    for _, text in sorted(encoded):
        yield from json.loads(text).get(name, [])
