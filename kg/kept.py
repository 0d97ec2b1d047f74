"""Rows of the per-letter named queries, kept per letter at build time.

Some named queries return rows about one letter each, ordered by letter first: the two tables of
`kg table` (decisions, cases), guideline-disagreements, time-injury-to-review, and
decisions-for-medication. Their headers say `# per-letter: yes`. Over the whole store they join
every decision (minutes at 100k letters); over one letter's quads, when the letter is parsed, they
take a millisecond or two. The store keeps each letter's rows of each such query in the manifest
(under a predicate of that query's own, so that reading one query's rows reads nothing else),
replaced and removed with the letter, and answers these queries by concatenating them in letter
order: the same rows, in the same order, as the query over the store gives. A query whose one
parameter binds a column it selects (decisions-for-medication) is kept without it, for every
value, and answered with the rows whose column holds the value (`by_value`).

A row is a JSON list of cells: a plain string literal is its string, an IRI is [iri], any other
literal is [lexical, datatype IRI] or [lexical, "@" + language], and an unbound cell is null.

Reading 100k letters' rows one by one takes seconds (a RocksDB lookup each), so the store also keeps
indexes (`Indexes`), brought up to date at the end of every write: all letters' rows of a query in
letter order, as JSON, as CSV lines (what `kg table` prints) and as SPARQL 1.1 Query Results JSON
bindings (what `kg query -f json` prints), or, by value, one literal per value. An index holds the
letter ids, the lengths of their blocks of text, and the blocks, so that a write replaces the blocks
of the letters it changed and copies the others in runs. The index of all letters is cut into chunks
of consecutive letters (a directory lists each chunk's first letter id), so that a write rewrites
only the chunks of the letters it changed: at 100k letters the indexes hold ~690 MB (320 of them SPARQL
JSON bindings)."""

from __future__ import annotations

import gc
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, wraps
from itertools import accumulate
from json.encoder import encode_basestring_ascii as _quote  # json.dumps's own (C)
from typing import Any, ParamSpec, TypeVar

import pyoxigraph as ox

from kg import iris
from kg.namespaces import XSD_STRING
from kg.queries import NamedQuery, SelectResult, Term, TooManyRows, all_queries, select_result

ENCODING = "kept rows 2: a JSON list of cells per row, under a predicate per query"  # change with the encoding
Kept = Iterable[tuple[str, str]]  # (letter id, that letter's encoded rows of one query), in any order
FORMS = ("json", "csv", "srj")  # the forms of a query's index (see `block`)
CHUNK_LETTERS = 250  # letters per chunk of an index of all letters when it is made; split at twice that


@cache
def kept_queries() -> dict[str, NamedQuery]:
    """The per-letter named queries, by name: those without parameters, and those whose one
    parameter is a column they select (their rows are kept for every value: see `by_value`)."""
    return {q.name: q for q in all_queries() if q.per_letter and (not q.parameters or _bound_column(q))}


def _bound_column(query: NamedQuery) -> str | None:
    """The column that the query's one parameter binds, if the query selects it."""
    names = [p.name for p in query.parameters]
    return names[0] if len(names) == 1 and names[0] in _columns(query.sparql) else None


def whole(query: NamedQuery, params: dict[str, str] | None) -> bool:
    """Whether the query is a kept query without parameters (and is asked without any): every
    letter's rows answer it."""
    return kept_queries().get(query.name) == query and not query.parameters and not params


def by_value(name: str) -> str | None:
    """The column a kept query's parameter binds (its rows are indexed by that column's value), or
    None for a query without parameters. Binding the parameter selects the rows whose column holds
    the value, in the same order, so the rows of every value are kept and looked up by value."""
    query = kept_queries()[name]
    return query.parameters[0].name if query.parameters else None


def values_containing(keys: Iterable[str], words: str) -> list[ox.NamedNode | ox.Literal]:
    """The values (of a `by_value` query's index keys) whose text contains `words` lowercased, as
    `FILTER (CONTAINS(?value, LCASE(?words)))` finds them."""
    needle = words.lower()
    found = (term(json.loads(key)) for key in keys)
    return [v for v in found if isinstance(v, ox.Literal) and needle in v.value]


P = ParamSpec("P")
R = TypeVar("R")


def _without_gc(make: Callable[P, R]) -> Callable[P, R]:
    """Run `make` with the cyclic garbage collector paused. Decoding kept rows makes millions of
    lists and terms, all kept, in no cycle: the collector walked them again and again (the whole
    `decisions` table at 100k as terms: 5.8 s, 2.0 s without it)."""
    @wraps(make)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return make(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()
    return paused


@_without_gc
def rows_with_words(query: NamedQuery, words: ox.NamedNode | ox.Literal, tables: Iterable[Table],
                    max_rows: int | None = None) -> tuple[list[str], list[list[Any]]]:
    """The columns and encoded rows of a `words-in` query (cases-by-diagnosis) from the kept rows
    of its source query (cases-with-diagnosis) for each value that holds the words: its
    parameter's column is the words, the other columns the source's of the same name, in the
    query's ORDER BY. The values are a letter's distinct labels of its items (a label is its words
    as written, lowercased), so one row of the query is one row of the source."""
    names, source = _columns(query.sparql), columns(query.words_in)
    at = {c: source.index(c) for c in names if c != query.parameters[0].name}
    order = [source.index(c) for c in _order(query.sparql)]
    rows = sorted((row for t in tables for row in t.rows()), key=lambda r: [_lexical(r[i]) for i in order])
    if max_rows is not None and len(rows) > max_rows:
        raise TooManyRows(max_rows)
    word = _encoded(words)
    return names, [[row[at[c]] if c in at else word for c in names] for row in rows]


@_without_gc
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


def value_key(value: Term) -> str:
    """How a value of a `by_value` column is written in its index's IRI."""
    return json.dumps(_encoded(value), separators=(",", ":"))


def predicate(name: str) -> ox.NamedNode:
    """The manifest predicate under which a letter keeps its rows of query `name`."""
    return iris.kept_rows(name)


def definitions() -> dict[str, str]:
    """What makes kept rows: the queries, and how their rows are encoded."""
    return {"encoding": ENCODING} | {name: q.sparql for name, q in kept_queries().items()}


def columns(name: str) -> list[str]:
    """The variables the query selects."""
    return _columns(kept_queries()[name].sparql)


@cache
def _columns(sparql: str) -> list[str]:
    return [v.value for v in ox.Store().query(sparql).variables]  # type: ignore[union-attr]


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


def letter_rows(store: ox.Store) -> dict[str, str]:
    """Query name -> one letter's rows, encoded, from a store of that letter's quads alone."""
    rows = {}
    for name, query in kept_queries().items():
        result = select_result(query, store.query(query.sparql, use_default_graph_as_union=True))  # type: ignore[arg-type]
        rows[name] = json.dumps([[_encoded(t) for t in row] for row in result.rows], separators=(",", ":"))
    return rows


def block(name: str, rows: str, form: str) -> str:
    """A letter's encoded rows of query `name` as its block of an index of `form`: its rows each
    followed by a comma (json), as CSV lines (csv), or its rows' SPARQL JSON bindings each followed
    by a comma (srj)."""
    if form == "json":
        return rows[1:-1] + "," if len(rows) > 2 else ""
    if form == "srj":
        return binding_text(columns(name), json.loads(rows))
    from kg.results import csv_lines

    return csv_lines(cells_of(json.loads(rows)))


def binding_text(names: list[str], rows: Iterable[list[Any]]) -> str:
    """Encoded rows as SPARQL 1.1 Query Results JSON bindings, each followed by a comma (an unbound
    cell is left out of its row's binding): what `json.dumps` writes, ASCII, no spaces. Written
    from strings: 4x faster than `json.dumps` of a dict per row (0.11 s for 32,701 rows)."""
    keys = [_quote(n) + ":" for n in names]
    return "".join("{" + ",".join(k + _json_cell(c) for k, c in zip(keys, row, strict=True) if c is not None) + "},"
                   for row in rows)


def _json_cell(cell: Any) -> str:
    """An encoded cell as a SPARQL JSON term: what `kg.queries.json_term` makes of the term."""
    if isinstance(cell, str):
        return '{"type":"literal","value":' + _quote(cell) + "}"
    value = _quote(cell[0])
    if len(cell) == 1:
        return '{"type":"uri","value":' + value + "}"
    if cell[1] == "_":
        return '{"type":"bnode","value":' + value + "}"
    if cell[1].startswith("@"):
        return '{"type":"literal","value":' + value + ',"xml:lang":' + _quote(cell[1][1:]) + "}"
    return '{"type":"literal","value":' + value + ',"datatype":' + _quote(cell[1]) + "}"


def value_blocks(name: str, rows: str) -> dict[str, str]:
    """A letter's encoded rows of a `by_value` query, as a json block per value key."""
    at = columns(name).index(by_value(name) or "")
    grouped: dict[str, list[Any]] = {}
    for row in json.loads(rows):
        grouped.setdefault(json.dumps(row[at], separators=(",", ":")), []).append(row)
    return {key: block(name, json.dumps(found, separators=(",", ":")), "json") for key, found in grouped.items()}


def join_blocks(blocks: dict[str, str]) -> str:
    """An index: the letter ids in order (a JSON list), their blocks' lengths (another), each on a
    line, then the blocks."""
    ids = sorted(blocks)
    return _index(ids, [len(blocks[i]) for i in ids], [blocks[i] for i in ids])


def _index(ids: list[str], lengths: list[int], pieces: list[str]) -> str:
    header = [json.dumps(ids, separators=(",", ":")), "\n", json.dumps(lengths, separators=(",", ":")), "\n"]
    return "".join(header + pieces)


def _letter_count(index: str) -> int:
    return len(json.loads(index[:index.index("\n")]))


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


def split_index(index: str, size: int) -> list[tuple[str, str]]:
    """The index cut into indexes of at most `size` letters each, with each one's first letter id
    (an index of no letters stays one, with first id "")."""
    lengths_at, start = _body_start(index)
    ids, lengths = json.loads(index[:lengths_at]), json.loads(index[lengths_at:start])
    if not ids:
        return [("", index)]
    offsets = list(accumulate(lengths, initial=start))
    return [(ids[i], _index(ids[i:i + size], lengths[i:i + size], [index[offsets[i]:offsets[min(i + size, len(ids))]]]))
            for i in range(0, len(ids), size)]


def cells_of(rows: Iterable[list[Any]]) -> Iterator[list[str]]:
    """Encoded rows as table cells (lexical values; empty when unbound)."""
    for row in rows:
        yield ["" if c is None else c if isinstance(c, str) else c[0] for c in row]


@dataclass(frozen=True)
class Table:
    """The rows of per-letter query `name` that every letter kept, in letter order. `runs` reads
    them in runs of consecutive letters (an index's chunks, one at a time): in each run, each row's
    JSON followed by a comma."""

    name: str
    runs: Callable[[], Iterable[str]]

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

    @_without_gc
    def rows(self) -> list[list[Any]]:
        """The rows, encoded."""
        return [row for batch in self.batches() for row in batch]

    def cells(self) -> Iterator[list[str]]:
        """The rows as table cells (lexical values; empty when unbound)."""
        return cells_of(row for batch in self.batches() for row in batch)

    def more_than(self, n: int) -> bool:
        """Whether there are more than `n` rows (reading no further than the run that shows it)."""
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
        from kg.results import csv_lines

        return csv_lines(self.cells())

    @_without_gc
    def solutions(self, max_rows: int | None = None) -> SelectResult:
        """The rows as typed terms (TooManyRows if there are more than `max_rows`, before any term
        is made, as soon as the runs read hold more)."""
        rows: list[list[Any]] = []
        for batch in self.batches():
            rows += batch
            if max_rows is not None and len(rows) > max_rows:
                raise TooManyRows(max_rows)
        return solutions_of(columns(self.name), rows)


Rows = dict[str, str]  # query name -> one letter's encoded rows of it


class Indexes:
    """The indexes of a store's kept rows, brought up to date at the end of each write with the
    letters it changed. A query without parameters has one index per form; a `by_value` one has an
    index per value (the rows of every letter with that value) and a directory of its values. Each
    index is kept in chunks of at most 2 x `chunk_letters` consecutive letters.

    Indexes are read through `get` and written through `put` (None: drop), by IRI; `letters(name,
    ids)` reads those letters' rows of a query from the store (all letters' for None: ~25 s at 100k
    letters, for an index made from scratch because there is none yet or the last write was
    interrupted). What a write changed is remembered by letter id only (a first build changes
    every letter), with the values its letters had for the `by_value` queries."""

    def __init__(self, get: Callable[[ox.NamedNode], str | None], put: Callable[[ox.NamedNode, str | None], None],
                 letters: Callable[[str, Iterable[str] | None], dict[str, str]], chunk_letters: int = CHUNK_LETTERS
                 ) -> None:
        self._get, self._put, self._letters = get, put, letters
        self._chunk_letters = chunk_letters
        self._present: dict[str, bool] = {}  # letter id -> in the store after the write
        self._old_keys: dict[str, dict[str, set[str]]] = {}  # letter id -> query -> its value keys before
        self._without: set[str] = set()  # queries that a written letter has no rows of

    def whole(self, name: str, form: str) -> str | None:
        """Every letter's block of the index of query `name` in `form`, in letter order (None when
        there is no such index)."""
        return self._read((name, form))

    def runs(self, name: str, form: str) -> Iterator[str] | None:
        """`whole(name, form)` read a chunk at a time, as it is iterated."""
        return self._runs((name, form))

    def values(self, name: str) -> list[str] | None:
        """The keys of the values of a `by_value` query that have an index (None: no indexes)."""
        listed = self._get(iris.kept_index(name, "values"))
        return None if listed is None else json.loads(listed)  # type: ignore[no-any-return]

    def of_value(self, name: str, key: str) -> str | None:
        """The blocks of the index of a `by_value` query's rows whose column has the value of `key`
        (see `value_key`): "" for a value no letter has; None when there are no value indexes."""
        if self._get(iris.kept_index(name, "values")) is None:
            return None
        return self._read((name, "value", key)) or ""

    def changed(self, letter_id: str, before: Rows | None, after: Rows | None) -> None:
        """Record that a letter's rows went from `before` to `after` (None: it was not, or is no
        longer, in the store)."""
        if letter_id not in self._old_keys:
            self._old_keys[letter_id] = {name: set(value_blocks(name, before[name])) for name in kept_queries()
                                         if by_value(name) and before and name in before}
        self._present[letter_id] = after is not None
        if after is not None:
            self._without |= kept_queries().keys() - after.keys()

    def save(self) -> None:
        for name in kept_queries():
            if by_value(name):
                self._save_by_value(name)
            else:
                self._save_whole(name)
        self._forget()

    def drop(self) -> None:
        """Drop every index (their letters' rows are no longer known to be up to date)."""
        for name in kept_queries():
            if by_value(name):
                self._drop_values(name)
                self._put(iris.kept_index(name, "values"), None)
            else:
                for form in FORMS:
                    self._drop_chunked((name, form))
        self._forget()

    def _forget(self) -> None:
        self._present, self._old_keys, self._without = {}, {}, set()

    def _new_rows(self, name: str) -> dict[str, str | None]:
        """letter id -> its rows of the query after the write (None: removed)."""
        rows = self._letters(name, [i for i, present in self._present.items() if present])
        return {letter_id: rows[letter_id] if present else None for letter_id, present in self._present.items()}

    def _save_whole(self, name: str) -> None:
        rows: dict[str, str | None] | None = None
        letters: dict[str, str] | None = None
        for form in FORMS:
            directory = None if name in self._without else self._get(iris.kept_index(name, form, "chunks"))
            if directory is not None and not self._present:
                continue  # no letter changed
            if directory is None:
                letters = self._letters(name, None) if letters is None else letters
                self._drop_chunked((name, form))
                self._put_chunks((name, form), [], split_index(join_blocks({
                    letter_id: block(name, text, form) for letter_id, text in letters.items()}), self._chunk_letters))
            else:
                rows = self._new_rows(name) if rows is None else rows
                self._update_chunks((name, form), json.loads(directory), {
                    letter_id: None if text is None else block(name, text, form) for letter_id, text in rows.items()})

    def _save_by_value(self, name: str) -> None:
        directory = iris.kept_index(name, "values")
        listed = None if name in self._without else self._get(directory)
        if listed is not None and not self._present:
            return  # no letter changed
        if listed is None:
            self._drop_values(name)
            by_key: dict[str, dict[str, str]] = {}
            for letter_id, text in self._letters(name, None).items():
                for key, found in value_blocks(name, text).items():
                    by_key.setdefault(key, {})[letter_id] = found
            for key, blocks in by_key.items():
                self._put_chunks((name, "value", key), [], split_index(join_blocks(blocks), self._chunk_letters))
            self._put(directory, json.dumps(sorted(by_key), separators=(",", ":")))
            return
        keys = set(json.loads(listed))
        for key, changes in self._value_changes(name).items():
            chunks = self._get(iris.kept_index(name, "value", key, "chunks")) if key in keys else None
            if self._update_chunks((name, "value", key), json.loads(chunks or '[["", 0]]'), changes):
                keys.add(key)
            else:  # no letter has the value any more
                self._drop_chunked((name, "value", key))
                keys.discard(key)
        self._put(directory, json.dumps(sorted(keys), separators=(",", ":")))

    def _drop_values(self, name: str) -> None:
        for key in json.loads(self._get(iris.kept_index(name, "values")) or "[]"):
            self._drop_chunked((name, "value", key))

    # An index in chunks, under the IRIs of kept_index(*parts, ...): a directory ("chunks": the first
    # letter id and number of each chunk, in order) and the chunks (their numbers).

    def _read(self, parts: tuple[str, ...]) -> str | None:
        runs = self._runs(parts)
        return None if runs is None else "".join(runs)

    def _runs(self, parts: tuple[str, ...]) -> Iterator[str] | None:
        directory = self._get(iris.kept_index(*parts, "chunks"))
        if directory is None:
            return None
        return (body(self._get(iris.kept_index(*parts, str(n))) or join_blocks({})) for _, n in json.loads(directory))

    def _update_chunks(self, parts: tuple[str, ...], chunks: list[tuple[str, int]],
                       changes: dict[str, str | None]) -> bool:
        """Replace the changed letters' blocks in the chunks that hold them (a letter goes to the last
        chunk whose first letter id is not after its own: the first chunk's is ""); split a chunk
        grown past twice the size, drop one left without letters. Return whether any letter is left
        (if none, the index is one chunk of none)."""
        firsts = [first for first, _ in chunks]
        by_chunk: dict[int, dict[str, str | None]] = {}
        for letter_id, text in changes.items():
            by_chunk.setdefault(bisect_right(firsts, letter_id) - 1, {})[letter_id] = text
        kept_chunks: list[tuple[str, int]] = []
        made: list[tuple[str, str]] = []
        for k, (first, n) in enumerate(chunks):
            if k not in by_chunk:
                kept_chunks.append((first, n))
                continue
            index = replace_blocks(self._get(iris.kept_index(*parts, str(n))) or join_blocks({}), by_chunk[k])
            letters = _letter_count(index)
            pieces = split_index(index, self._chunk_letters) if letters > 2 * self._chunk_letters \
                else [(first, index)] if letters else []
            self._put(iris.kept_index(*parts, str(n)), None)
            made += [(first if i == 0 else piece_first, piece) for i, (piece_first, piece) in enumerate(pieces)]
        left = bool(kept_chunks or made)
        self._put_chunks(parts, kept_chunks, made if left else [("", join_blocks({}))])
        return left

    def _put_chunks(self, parts: tuple[str, ...], kept_chunks: list[tuple[str, int]],
                    made: list[tuple[str, str]]) -> None:
        """Write the `made` chunks (first letter id, index) under new numbers, and the directory of
        them and the `kept_chunks` (first letter id, number)."""
        n = max((number for _, number in kept_chunks), default=-1) + 1
        for first, index in made:
            self._put(iris.kept_index(*parts, str(n)), index)
            kept_chunks.append((first, n))
            n += 1
        chunks = sorted(kept_chunks)
        chunks[0] = ("", chunks[0][1])  # the first chunk also takes the letters before its first one
        self._put(iris.kept_index(*parts, "chunks"), json.dumps(chunks, separators=(",", ":")))

    def _drop_chunked(self, parts: tuple[str, ...]) -> None:
        for _, n in json.loads(self._get(iris.kept_index(*parts, "chunks")) or "[]"):
            self._put(iris.kept_index(*parts, str(n)), None)
        self._put(iris.kept_index(*parts, "chunks"), None)
        self._put(iris.kept_index(*parts), None)  # an index from before chunks

    def _value_changes(self, name: str) -> dict[str, dict[str, str | None]]:
        """value key -> letter id -> the letter's new block of that value's index (None: none)."""
        out: dict[str, dict[str, str | None]] = {}
        for letter_id, text in self._new_rows(name).items():
            new = value_blocks(name, text) if text is not None else {}
            for key in self._old_keys[letter_id].get(name, set()) | new.keys():
                out.setdefault(key, {})[letter_id] = new.get(key)
        return out
