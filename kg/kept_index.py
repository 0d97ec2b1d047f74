"""Indexes of the rows every letter keeps (kg.kept), brought up to date at the end of each write.

Reading 100k letters' rows one by one takes seconds (a RocksDB lookup each), so the store also keeps
all letters' rows of a query in letter order, as JSON, as CSV lines (what `kg table` prints) and as
SPARQL 1.1 Query Results JSON bindings (what `kg query -f json` prints), or, by value, one index per
value. An index holds the letter ids, the lengths of their blocks of text, and the blocks, so that
a write replaces the blocks of the letters it changed and copies the others in runs. The index of
all letters is cut into chunks of consecutive letters (a directory lists each chunk's first letter
id), so that a write rewrites only the chunks of the letters it changed: at 100k letters the
indexes hold ~690 MB (320 of them SPARQL JSON bindings).

Indexes are made from the kept rows, so they are not part of the extractor: the store records the
`index_format()` they were written in (a digest of the code that writes them), and a store whose
indexes are in another format is read without them, and has them made again by its next write,
without reading any letter again."""

from __future__ import annotations

import csv
import io
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import accumulate, count
from json.encoder import encode_basestring_ascii as _quote  # json.dumps's own (C)
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from kg import iris
from kg.extractor import source_digest
from kg.kept import ENCODING, Rows, by_value, columns, kept_queries

FORMS = ("json", "csv", "srj")  # the forms of a query's index (see `block`)
CHUNK_LETTERS = 250  # letters per chunk of an index of all letters when it is made; split at twice that


# The format indexes are written in: a digest of the code that writes them (this module, read as
# it is imported: a process that outlives an upgrade goes on writing the format of its own code)
# and of the kept rows' encoding.
_FORMAT = source_digest([Path(__file__).resolve()], f"kept indexes from {ENCODING}")


def index_format() -> str:
    """The format of the indexes this code writes and reads (see `_FORMAT`)."""
    return _FORMAT


def csv_lines(rows: Iterable[list[str]], delimiter: str = ",") -> str:
    """Rows as CSV (or TSV) lines, each ended by a newline: the csv form of an index, and every CSV
    answer."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue()


def block(name: str, rows: str, form: str) -> str:
    """A letter's encoded rows of query `name` as its block of an index of `form`: its rows each
    followed by a comma (json), as CSV lines (csv), or its rows' SPARQL JSON bindings each followed
    by a comma (srj)."""
    if form == "json":
        return rows[1:-1] + "," if len(rows) > 2 else ""
    if form == "srj":
        return binding_text(columns(name), json.loads(rows))
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



Entry = tuple[Any, ...]  # a chunk in its index's directory: first letter id, number[, rows]


def _entry(parts: tuple[str, ...], first: str, number: int, index: str) -> Entry:
    """A chunk's directory entry; the json index of a whole query also counts its rows (so that a
    capped answer knows it is too large without reading the index)."""
    if parts[1:] != ("json",):
        return first, number
    rows = body(index)
    return first, number, len(json.loads("[" + rows[:-1] + "]")) if rows else 0


class Indexes:
    """The indexes of a store's kept rows, brought up to date at the end of each write with the
    letters it changed. A query without parameters has one index per form; a `by_value` one has an
    index per value (the rows of every letter with that value) and a directory of its values. Each
    index is kept in chunks of at most 2 x `chunk_letters` consecutive letters.

    Indexes are read through `get` and written through `put` (None: drop), by IRI; `letters(name,
    ids)` reads those letters' rows of a query from the store, and `every()` every letter's rows of
    all queries, a letter at a time in letter id order (~30 s at 100k letters), for the indexes
    made from scratch because there are none yet, the last write was interrupted or they are in
    another format. What a write changed is remembered by letter id only (a first build changes
    every letter), with the values its letters had for the `by_value` queries."""

    def __init__(self, get: Callable[[ox.NamedNode], str | None], put: Callable[[ox.NamedNode, str | None], None],
                 letters: Callable[[str, Iterable[str]], dict[str, str]],
                 every: Callable[[], Iterable[tuple[str, Rows]]], chunk_letters: int = CHUNK_LETTERS) -> None:
        self._get, self._put, self._letters, self._every = get, put, letters, every
        self._chunk_letters = chunk_letters
        self._present: dict[str, bool] = {}  # letter id -> in the store after the write
        self._old_keys: dict[str, dict[str, set[str]]] = {}  # letter id -> query -> its value keys before
        self._without: set[str] = set()  # queries that a written letter has no rows of

    def whole(self, name: str, form: str) -> str | None:
        """Every letter's block of the index of query `name` in `form`, in letter order (None when
        there is no such index, or it is in another format)."""
        return self._read((name, form)) if self.current() else None

    def runs(self, name: str, form: str) -> Iterator[str] | None:
        """`whole(name, form)` read a chunk at a time, as it is iterated."""
        return self._runs((name, form)) if self.current() else None

    def values(self, name: str) -> list[str] | None:
        """The keys of the values of a `by_value` query that have an index (None: no indexes)."""
        listed = self._get(iris.kept_index(name, "values")) if self.current() else None
        return None if listed is None else json.loads(listed)  # type: ignore[no-any-return]

    def of_value(self, name: str, key: str) -> str | None:
        """The blocks of the index of a `by_value` query's rows whose column has the value of `key`
        (see `kg.kept.value_key`): "" for a value no letter has; None when there are no value
        indexes."""
        if not self.current() or self._get(iris.kept_index(name, "values")) is None:
            return None
        return self._read((name, "value", key)) or ""

    def current(self) -> bool:
        """Whether the indexes are in this code's format (a store's first indexes, or those of an
        older kg, are not)."""
        return self._get(iris.KEPT_INDEX_FORMAT) == index_format()

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
        """Bring the indexes up to date with the letters this write changed; make them all again
        from every letter's rows if they are in another format."""
        if not self.current():
            self._drop_indexes()
        missing = [name for name in kept_queries() if self._missing(name)]
        if missing:
            self._make(missing)
        for name in [name for name in kept_queries() if name not in missing]:
            if by_value(name):
                self._save_by_value(name)
            else:
                self._save_whole(name)
        self._put(iris.KEPT_INDEX_FORMAT, index_format())
        self._forget()

    def drop(self) -> None:
        """Drop every index (their letters' rows are no longer known to be up to date)."""
        self._drop_indexes()
        self._put(iris.KEPT_INDEX_FORMAT, None)
        self._forget()

    def _drop_indexes(self) -> None:
        for name in kept_queries():
            if by_value(name):
                self._drop_values(name)
                self._put(iris.kept_index(name, "values"), None)
            else:
                for form in FORMS:
                    self._drop_chunked((name, form))

    def _forget(self) -> None:
        self._present, self._old_keys, self._without = {}, {}, set()

    def _new_rows(self, name: str) -> dict[str, str | None]:
        """letter id -> its rows of the query after the write (None: removed)."""
        rows = self._letters(name, [i for i, present in self._present.items() if present])
        return {letter_id: rows[letter_id] if present else None for letter_id, present in self._present.items()}

    def _missing(self, name: str) -> bool:
        """Whether the indexes of query `name` are to be made from scratch: one is missing, or a
        letter this write changed has no rows of the query (its rows were written by an older kg)."""
        if name in self._without:
            return True
        if by_value(name):
            return self._get(iris.kept_index(name, "values")) is None
        return any(self._get(iris.kept_index(name, form, "chunks")) is None for form in FORMS)

    def _make(self, names: list[str]) -> None:
        """Make every index of queries `names` from scratch, in one pass over every letter's rows in
        letter order, writing each chunk once it has its letters: memory holds a chunk per index,
        not a query's rows of every letter (the six queries' rows are 264 MB of text at 100k
        letters, and grow with the corpus)."""
        for name in names:
            if by_value(name):
                self._drop_values(name)
            else:
                for form in FORMS:
                    self._drop_chunked((name, form))
        whole = {(name, form): _Chunks(self, (name, form)) for name in names if not by_value(name) for form in FORMS}
        values: dict[str, dict[str, _Chunks]] = {name: {} for name in names if by_value(name)}
        for letter_id, rows in self._every():
            for (name, form), chunks in whole.items():
                if name in rows:
                    chunks.add(letter_id, block(name, rows[name], form))
            for name, by_key in values.items():
                for key, found in (value_blocks(name, rows[name]) if name in rows else {}).items():
                    if key not in by_key:
                        by_key[key] = _Chunks(self, (name, "value", key))
                    by_key[key].add(letter_id, found)
        for chunks in whole.values():
            chunks.close()
        for name, by_key in values.items():
            for chunks in by_key.values():
                chunks.close()
            self._put(iris.kept_index(name, "values"), json.dumps(sorted(by_key), separators=(",", ":")))

    def _save_whole(self, name: str) -> None:
        if not self._present:
            return  # no letter changed
        rows = self._new_rows(name)
        for form in FORMS:
            directory = self._get(iris.kept_index(name, form, "chunks")) or "[]"
            self._update_chunks((name, form), json.loads(directory), rows, partial(block, name, form=form))

    def _save_by_value(self, name: str) -> None:
        if not self._present:
            return  # no letter changed
        directory = iris.kept_index(name, "values")
        keys = set(json.loads(self._get(directory) or "[]"))
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
    # letter id and number of each chunk, in order, and for the json index of a whole query its
    # number of rows) and the chunks (their numbers).

    def rows(self, name: str) -> int | None:
        """The number of rows in the index of all letters' rows of query `name` (None: no index)."""
        directory = self._get(iris.kept_index(name, "json", "chunks")) if self.current() else None
        return None if directory is None else sum(entry[2] for entry in json.loads(directory))

    def _read(self, parts: tuple[str, ...]) -> str | None:
        runs = self._runs(parts)
        return None if runs is None else "".join(runs)

    def _runs(self, parts: tuple[str, ...]) -> Iterator[str] | None:
        directory = self._get(iris.kept_index(*parts, "chunks"))
        if directory is None:
            return None
        return (body(self._get(iris.kept_index(*parts, str(entry[1]))) or join_blocks({}))
                for entry in json.loads(directory))

    def _update_chunks(self, parts: tuple[str, ...], chunks: list[Entry], changes: dict[str, str | None],
                       make: Callable[[str], str] = str) -> bool:
        """Replace the changed letters' blocks (`make(text)`; None: removed) in the chunks that hold
        them, a chunk at a time (a letter goes to the last chunk whose first letter id is not after
        its own: the first chunk's is ""); split a chunk grown past twice the size, drop one left
        without letters. Return whether any letter is left (if none, the index is one chunk of none)."""
        firsts = [entry[0] for entry in chunks]
        by_chunk: dict[int, dict[str, str | None]] = {}
        for letter_id, text in changes.items():
            by_chunk.setdefault(bisect_right(firsts, letter_id) - 1, {})[letter_id] = text
        spare = count(max((entry[1] for entry in chunks), default=-1) + 1)  # numbers for the pieces of a split
        kept_chunks: list[Entry] = []
        for k, listed in enumerate(chunks):
            entry = tuple(listed)  # a list, as read from the directory
            first, n = entry[0], entry[1]
            if k not in by_chunk:
                kept_chunks.append(entry)
                continue
            blocks = {letter_id: None if text is None else make(text) for letter_id, text in by_chunk.pop(k).items()}
            index = replace_blocks(self._get(iris.kept_index(*parts, str(n))) or join_blocks({}), blocks)
            letters = _letter_count(index)
            pieces = split_index(index, self._chunk_letters) if letters > 2 * self._chunk_letters \
                else [(first, index)] if letters else []
            if not pieces:
                self._put(iris.kept_index(*parts, str(n)), None)
            for i, (piece_first, piece) in enumerate(pieces):  # the first piece keeps the chunk's number
                number = n if i == 0 else next(spare)
                self._put(iris.kept_index(*parts, str(number)), piece)
                kept_chunks.append(_entry(parts, first if i == 0 else piece_first, number, piece))
        left = bool(kept_chunks)
        self._put_chunks(parts, kept_chunks, [] if left else [("", join_blocks({}))])
        return left

    def _put_chunks(self, parts: tuple[str, ...], kept_chunks: list[Entry], made: Iterable[tuple[str, str]]) -> None:
        """Write the `made` chunks (first letter id, index) under new numbers, one at a time as they
        are made, and the directory of them and the `kept_chunks`."""
        n = max((entry[1] for entry in kept_chunks), default=-1) + 1
        for first, index in made:
            self._put(iris.kept_index(*parts, str(n)), index)
            kept_chunks.append(_entry(parts, first, n, index))
            n += 1
        chunks = sorted(kept_chunks)
        chunks[0] = ("", *chunks[0][1:])  # the first chunk also takes the letters before its first one
        self._put(iris.kept_index(*parts, "chunks"), json.dumps(chunks, separators=(",", ":")))

    def _drop_chunked(self, parts: tuple[str, ...]) -> None:
        for entry in json.loads(self._get(iris.kept_index(*parts, "chunks")) or "[]"):
            self._put(iris.kept_index(*parts, str(entry[1])), None)
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


class _Chunks:
    """An index being made from scratch as its letters' blocks come, in letter id order: each chunk
    is written once it has `chunk_letters` letters, and the directory when the index is closed."""

    def __init__(self, indexes: Indexes, parts: tuple[str, ...]) -> None:
        self._indexes, self._parts = indexes, parts
        self._blocks: dict[str, str] = {}
        self._entries: list[Entry] = []

    def add(self, letter_id: str, text: str) -> None:
        self._blocks[letter_id] = text
        if len(self._blocks) == self._indexes._chunk_letters:
            self._write()

    def close(self) -> None:
        if self._blocks or not self._entries:  # an index of no letters is one chunk of none
            self._write()
        self._indexes._put_chunks(self._parts, self._entries, [])

    def _write(self) -> None:
        first, n, index = next(iter(self._blocks), ""), len(self._entries), join_blocks(self._blocks)
        self._indexes._put(iris.kept_index(*self._parts, str(n)), index)
        self._entries.append(_entry(self._parts, first, n, index))
        self._blocks = {}
