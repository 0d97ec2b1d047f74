"""Answering the per-letter named queries from the rows every letter keeps (kg.kept): whole tables
read from their indexes (kg.kept_index) a chunk at a time, the rows of one value, the rows that hold
some words, as encoded rows or as terms. Query-time code only: nothing here is written to a store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyoxigraph as ox

from kg.kept import Kept, columns, encoded, kept_queries, sparql_columns, term
from kg.kept_index import binding_text, block, cells_of, csv_lines
from kg.memory import without_gc
from kg.queries import NamedQuery, SelectResult, TooManyRows


def whole(query: NamedQuery, params: dict[str, str] | None) -> bool:
    """Whether the query is a kept query without parameters (and is asked without any): every
    letter's rows answer it."""
    return kept_queries().get(query.name) == query and not query.parameters and not params



def values_containing(keys: Iterable[str], words: str) -> list[ox.NamedNode | ox.Literal]:
    """The values (of a `by_value` query's index keys) whose text contains `words` lowercased, as
    `FILTER (CONTAINS(?value, LCASE(?words)))` finds them."""
    needle = words.lower()
    found = (term(json.loads(key)) for key in keys)
    return [v for v in found if isinstance(v, ox.Literal) and needle in v.value]


@without_gc
def rows_with_words(query: NamedQuery, words: ox.NamedNode | ox.Literal, tables: Iterable[Table],
                    max_rows: int | None = None) -> tuple[list[str], list[list[Any]]]:
    """The columns and encoded rows of a `words-in` query (cases-by-diagnosis) from the kept rows
    of its source query (cases-with-diagnosis) for each value that holds the words: its
    parameter's column is the words, the other columns the source's of the same name, in the
    query's ORDER BY. The values are a letter's distinct labels of its items (a label is its words
    as written, lowercased), so one row of the query is one row of the source."""
    names, source = sparql_columns(query.sparql), columns(query.words_in)
    at = {c: source.index(c) for c in names if c != query.parameters[0].name}
    order = [source.index(c) for c in _order(query.sparql)]
    rows = sorted((row for t in tables for row in t.rows()), key=lambda r: [_lexical(r[i]) for i in order])
    if max_rows is not None and len(rows) > max_rows:
        raise TooManyRows(max_rows)
    word = encoded(words)
    return names, [[row[at[c]] if c in at else word for c in names] for row in rows]


@without_gc
def solutions_of(names: list[str], rows: Iterable[list[Any]]) -> SelectResult:
    """Encoded rows as typed terms."""
    return SelectResult(names, [[term(c) for c in row] for row in rows])


@cache
def _order(sparql: str) -> list[str]:
    """The variables of a query's last line, `ORDER BY ?a ?b`."""
    last = sparql.strip().splitlines()[-1].split()
    if last[:2] != ["ORDER", "BY"] or not all(v.startswith("?") for v in last[2:]):
        raise ValueError(f"a words-in query ends with ORDER BY and variables, not {' '.join(last)!r}")
    return [v[1:] for v in last[2:]]


def _lexical(cell: Any) -> str:
    return "" if cell is None else cell if isinstance(cell, str) else cell[0]



@dataclass(frozen=True)
class Table:
    """The rows of per-letter query `name` that every letter kept, in letter order. `runs` reads
    them in runs of consecutive letters (an index's chunks, one at a time): in each run, each row's
    JSON followed by a comma. `count` is their number, when the index knows it."""

    name: str
    runs: Callable[[], Iterable[str]]
    count: int | None = None

    @classmethod
    def of_text(cls, name: str, json_rows: str) -> Table:
        return cls(name, lambda: (json_rows,))

    @classmethod
    def of_letters(cls, name: str, kept: Kept) -> Table:
        """The table from each letter's rows (in any order)."""
        return cls.of_text(name, "".join(block(name, text, "json") for _, text in sorted(kept)))

    @property
    def json_rows(self) -> str:
        return "".join(self.runs())

    def batches(self) -> Iterator[list[list[Any]]]:
        """The rows, encoded, a run at a time (one json.loads each)."""
        for run in self.runs():
            if run:
                yield json.loads("[" + run[:-1] + "]")

    @without_gc
    def rows(self) -> list[list[Any]]:
        """The rows, encoded."""
        return [row for batch in self.batches() for row in batch]

    def cells(self) -> Iterator[list[str]]:
        """The rows as table cells (lexical values; empty when unbound)."""
        return cells_of(row for batch in self.batches() for row in batch)

    def more_than(self, n: int) -> bool:
        """Whether there are more than `n` rows (from the count, or reading no further than the run
        that shows it)."""
        if self.count is not None:
            return self.count > n
        for batch in self.batches():
            n -= len(batch)
            if n < 0:
                return True
        return False

    def bindings(self) -> Iterator[str]:
        """The rows as SPARQL JSON bindings, each followed by a comma, a run at a time."""
        names = columns(self.name)
        return (binding_text(names, batch) for batch in self.batches())

    def csv(self) -> str:
        """The rows as CSV lines (no header), as `kg table` prints them."""
        return csv_lines(self.cells())

    @without_gc
    def solutions(self, max_rows: int | None = None) -> SelectResult:
        """The rows as typed terms (TooManyRows if there are more than `max_rows`, before any term
        is made, as soon as the count or the runs read show it)."""
        if max_rows is not None and self.count is not None and self.count > max_rows:
            raise TooManyRows(max_rows)
        rows: list[list[Any]] = []
        for batch in self.batches():
            rows += batch
            if max_rows is not None and len(rows) > max_rows:
                raise TooManyRows(max_rows)
        return solutions_of(columns(self.name), rows)


