"""Rows of the per-letter named queries, kept per letter at build time.

Some named queries return rows about one letter each, ordered by letter first: the two tables of
`kg table` (decisions, cases), guideline-disagreements, time-injury-to-review. Their headers say
`# per-letter: yes`. Over the whole store they join every decision (minutes at 100k letters); over
one letter's quads, when the letter is parsed, they take a millisecond or two. The store keeps
each letter's rows of each such query in the manifest (under a predicate of that query's own, so
that reading one query's rows reads nothing else), replaced and removed with the letter, and
answers these queries (without parameters) by concatenating them in letter order: the same rows,
in the same order, as the query over the store gives.

A row is a JSON list of cells: a plain string literal is its string, an IRI is [iri], any other
literal is [lexical, datatype IRI] or [lexical, "@" + language], and an unbound cell is null.

Reading 100k letters' rows one by one takes seconds (a RocksDB lookup each), so the store also keeps
an index per query, rewritten at the end of every write: all letters' rows in letter order in one
literal, as JSON and as CSV lines (what `kg table` prints). An index holds the letter ids, the
lengths of their blocks of text, and the blocks, so that a write replaces the blocks of the letters
it changed and copies the others in runs."""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

import pyoxigraph as ox

from kg import iris
from kg.namespaces import XSD_STRING
from kg.queries import NamedQuery, SelectResult, Term, TooManyRows, all_queries, select_result

ENCODING = "kept rows 2: a JSON list of cells per row, under a predicate per query"  # change with the encoding
Kept = Iterable[tuple[str, str]]  # (letter id, that letter's encoded rows of one query), in any order
FORMS = ("json", "csv")  # the forms of a query's index (see Table)


@cache
def kept_queries() -> dict[str, NamedQuery]:
    """The per-letter named queries (without parameters), by name."""
    return {q.name: q for q in all_queries() if q.per_letter and not q.parameters}


def predicate(name: str) -> ox.NamedNode:
    """The manifest predicate under which a letter keeps its rows of query `name`."""
    return iris.kept_rows(name)


def definitions() -> dict[str, str]:
    """What makes kept rows: the queries, and how their rows are encoded."""
    return {"encoding": ENCODING} | {name: q.sparql for name, q in kept_queries().items()}


@cache
def columns(name: str) -> list[str]:
    """The variables the query selects."""
    query = kept_queries()[name]
    return select_result(query, ox.Store().query(query.sparql)).columns  # type: ignore[arg-type]


def _encoded(term: Term) -> Any:
    if term is None or isinstance(term, ox.Triple):
        return None if term is None else str(term)
    if isinstance(term, ox.NamedNode):
        return [term.value]
    if isinstance(term, ox.BlankNode):
        return [term.value, "_"]
    if term.language:
        return [term.value, "@" + term.language]
    return term.value if term.datatype.value == XSD_STRING else [term.value, term.datatype.value]


def letter_rows(store: ox.Store) -> dict[str, str]:
    """Query name -> one letter's rows, encoded, from a store of that letter's quads alone."""
    rows = {}
    for name, query in kept_queries().items():
        result = select_result(query, store.query(query.sparql, use_default_graph_as_union=True))  # type: ignore[arg-type]
        rows[name] = json.dumps([[_encoded(t) for t in row] for row in result.rows], separators=(",", ":"))
    return rows


def block(rows: str, form: str) -> str:
    """A letter's encoded rows as its block of an index of `form`: its rows each followed by a
    comma (json), or as CSV lines (csv)."""
    if form == "json":
        return rows[1:-1] + "," if len(rows) > 2 else ""
    from kg.results import csv_lines

    return csv_lines(_cells(json.loads(rows)))


def join_blocks(blocks: dict[str, str]) -> str:
    """An index: the letter ids in order (a JSON list), their blocks' lengths (another), each on a
    line, then the blocks."""
    ids = sorted(blocks)
    return _index(ids, [len(blocks[i]) for i in ids], [blocks[i] for i in ids])


def _index(ids: list[str], lengths: list[int], pieces: list[str]) -> str:
    header = [json.dumps(ids, separators=(",", ":")), "\n", json.dumps(lengths, separators=(",", ":")), "\n"]
    return "".join(header + pieces)


def _body_start(index: str) -> tuple[int, int]:
    """Where the lengths line and the blocks start."""
    lengths = index.index("\n") + 1
    return lengths, index.index("\n", lengths) + 1


def replace_blocks(index: str, changes: dict[str, str | None]) -> str:
    """The index with the blocks of the letters in `changes` replaced (None: removed). The letters
    between two changed ones are copied as one run of text (and ids, and lengths): a rebuild that
    changes 100 letters of 100k copies ~100 runs."""
    lengths_at, start = _body_start(index)
    ids, lengths = json.loads(index[:lengths_at]), json.loads(index[lengths_at:start])
    offsets = list(accumulate(lengths, initial=start))
    new_ids: list[str] = []
    new_lengths: list[int] = []
    pieces: list[str] = []
    done = 0  # ids[:done] are copied or replaced
    for letter_id in sorted(changes):
        at = bisect_left(ids, letter_id, lo=done)
        new_ids += ids[done:at]
        new_lengths += lengths[done:at]
        pieces.append(index[offsets[done]:offsets[at]])
        if (block := changes[letter_id]) is not None:
            new_ids.append(letter_id)
            new_lengths.append(len(block))
            pieces.append(block)
        done = at + 1 if at < len(ids) and ids[at] == letter_id else at
    pieces.append(index[offsets[done]:])
    return _index(new_ids + ids[done:], new_lengths + lengths[done:], pieces)


def body(index: str) -> str:
    """Every letter's block of an index, in letter order."""
    return index[_body_start(index)[1]:]


def _cells(rows: Iterable[list[Any]]) -> Iterator[list[str]]:
    for row in rows:
        yield ["" if c is None else c if isinstance(c, str) else c[0] for c in row]


@dataclass(frozen=True)
class Table:
    """The rows of per-letter query `name` that every letter kept, in letter order: each row's JSON
    followed by a comma."""

    name: str
    json_rows: str

    @classmethod
    def of_letters(cls, name: str, kept: Kept) -> Table:
        """The table from each letter's rows (in any order)."""
        return cls(name, "".join(block(text, "json") for _, text in sorted(kept)))

    def rows(self) -> list[list[Any]]:
        """The rows, encoded (parsed at once: one json.loads of every letter's rows)."""
        return json.loads("[" + self.json_rows[:-1] + "]")  # type: ignore[no-any-return]

    def cells(self) -> Iterator[list[str]]:
        """The rows as table cells (lexical values; empty when unbound)."""
        return _cells(self.rows())

    def csv(self) -> str:
        """The rows as CSV lines (no header), as `kg table` prints them."""
        from kg.results import csv_lines

        return csv_lines(self.cells())

    def solutions(self, max_rows: int | None = None) -> SelectResult:
        """The rows as typed terms (TooManyRows if there are more than `max_rows`, before any term
        is made)."""
        rows = self.rows()
        if max_rows is not None and len(rows) > max_rows:
            raise TooManyRows(max_rows)
        datatypes: dict[str, ox.NamedNode] = {}

        def term(c: Any) -> Term:
            if c is None or isinstance(c, str):
                return None if c is None else ox.Literal(c)
            if len(c) == 1:
                return ox.NamedNode(c[0])
            if c[1] == "_":
                return ox.BlankNode(c[0])
            if c[1].startswith("@"):
                return ox.Literal(c[0], language=c[1][1:])
            datatype = datatypes.get(c[1]) or datatypes.setdefault(c[1], ox.NamedNode(c[1]))
            return ox.Literal(c[0], datatype=datatype)

        return SelectResult(columns(self.name), [[term(c) for c in row] for row in rows])
