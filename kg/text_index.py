"""A substring index of every decision's item text and rationale, kept in the embedded store's folder
as an SQLite FTS5 table with the trigram tokenizer, for the GraphQL `text` filter.

Without it, finding the decisions whose words hold a phrase reads every text of the store (2.7-3.7 s
at 100k letters, so ~30 s at a million). SQLite's trigram index finds a phrase of three characters
or more as a case-insensitive substring, as `CONTAINS(LCASE(?text), LCASE(?words))` does, from the
postings of its trigrams.

The index is made from the store, never from the parser: at the end of a write, the letters it
wrote or removed have their rows replaced by their texts as the store now holds them. The index and
the store's manifest each keep a stamp, a new one at each update; a write drops the store's first,
so they agree only when the index holds the texts of the store's letters, and a reader uses the index
only then. A write that finds them apart (a first write, an interrupted one, an index of another
FORMAT) makes the index whole from every letter of the store.

The same file keeps the values GraphQL's other filters compare (kg.facet_index), replaced with the
texts, so that SQLite counts and pages a filtered list, the text filter with the others."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from kg import facet_index

FILE = "kg-text-index.sqlite"  # in the store's folder: RocksDB leaves files it does not name alone
# What the index holds; an index of another format is made whole again by the next write
FORMAT = "texts, and the filters' values (kg.facet_index) 3"
MIN_CHARS = 3  # the trigram tokenizer finds nothing shorter
LETTERS_A_READ = 500  # letters whose texts are read from the store with one query
# The most decisions a lookup names for its callers (GraphQL's text filter, kg search); a phrase held by
# more is looked for in every text instead. At 100k letters, 'mri' (11,847 decisions): a first GraphQL
# page from the index 0.75 s (1.5 s with sex female), 4.3 s reading every text; the queries grow with
# the decisions they name.
MOST_DECISIONS = 20_000

# (decision IRI, item text, rationale) of one letter's decisions
Texts = list[tuple[str, str, str]]
ReadTexts = Callable[[list[str]], dict[str, Texts]]  # letter ids -> each one's texts
ReadFacets = Callable[[list[str]], dict[str, facet_index.LetterFacets]]  # letter ids -> each one's facets

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS letters(letter TEXT PRIMARY KEY, first INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(decision UNINDEXED, item, rationale, tokenize='trigram');
"""


@cache
def available() -> bool:
    """Whether this Python's SQLite has FTS5 with the trigram tokenizer (SQLite 3.34 on): without it
    there is no index, and the text filter reads every text."""
    try:
        with closing(sqlite3.connect(":memory:")) as db:
            db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
        return True
    except sqlite3.OperationalError:
        return False


def phrase(words: str) -> str | None:
    """The FTS5 query for `words` as one substring, spaces and all (None if too short to look up)."""
    return f'"{words.replace(chr(34), chr(34) * 2)}"' if len(words) >= MIN_CHARS else None


class TextIndex:
    """The index file of the store in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.path = (folder / FILE).absolute()  # read through a file: URI, which a relative path has none of

    def update(self, letter_ids: Iterable[str], read: ReadTexts, read_facets: ReadFacets, *,
               whole: bool = False) -> str | None:
        """Replace the rows of these letters by the texts `read` and the filters' values `read_facets`
        find for them (none: a letter the store no longer holds), or, if `whole`, make the index of
        these letters only; return the index's new stamp (None: no index can be made here, see
        `available`)."""
        if not available():
            return None
        # a whole index is made aside and moved in at the end, so readers are never locked out of it
        path = self.path.with_name(FILE + ".new") if whole else self.path
        if whole:
            path.unlink(missing_ok=True)  # left by an interrupted write
        with _writable(path) as db:
            ids = sorted(set(letter_ids))
            row = db.execute("SELECT rowid FROM texts ORDER BY rowid DESC LIMIT 1").fetchone()
            rowid = (row[0] if row else 0) + 1
            for start in range(0, len(ids), LETTERS_A_READ):
                chunk = ids[start:start + LETTERS_A_READ]
                texts, facets = read(chunk), read_facets(chunk)
                for letter_id in chunk:
                    self._drop(db, letter_id)
                    rowid = self._add(db, letter_id, texts.get(letter_id, []), rowid)
                    facet_index.drop(db, letter_id)
                    facet_index.add(db, letter_id, facets.get(letter_id))
            new_stamp = secrets.token_hex(16)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (new_stamp,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
        if whole:
            os.replace(path, self.path)
        return new_stamp

    @staticmethod
    def _drop(db: sqlite3.Connection, letter_id: str) -> None:
        held = db.execute("SELECT first, count FROM letters WHERE letter = ?", (letter_id,)).fetchone()
        if held is None:
            return
        first, count = held
        db.execute("DELETE FROM texts WHERE rowid >= ? AND rowid < ?", (first, first + count))
        db.execute("DELETE FROM letters WHERE letter = ?", (letter_id,))

    @staticmethod
    def _add(db: sqlite3.Connection, letter_id: str, texts: Texts, first: int) -> int:
        """Add a letter's texts from rowid `first` on; return the rowid after them."""
        if not texts:
            return first
        db.executemany("INSERT INTO texts(rowid, decision, item, rationale) VALUES (?, ?, ?, ?)",
                       ((first + n, *row) for n, row in enumerate(texts)))
        db.execute("INSERT INTO letters VALUES (?, ?, ?)", (letter_id, first, len(texts)))
        return first + len(texts)

    def stamp(self) -> str | None:
        """The stamp the index was last brought to (None: no index, or one of another format)."""
        if not self.path.exists():
            return None
        try:
            with closing(self._readable()) as db:
                row = db.execute("SELECT value FROM meta WHERE name = 'stamp'").fetchone()
                kind = db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        except sqlite3.Error:  # not yet written, or damaged: the next write makes it whole
            return None
        return row[0] if row and kind and kind[0] == FORMAT else None  # another format: made whole again

    def decisions(self, words: str, cap: int) -> list[str] | int | None:
        """The decisions whose item text or rationale holds `words` (case aside), sorted, or, when more
        than `cap` hold them, how many do (0.19 s for 308,572 at 100k letters); None if the words are
        too short to look up."""
        query = phrase(words)
        if query is None:
            return None
        try:
            with closing(self._readable()) as db:
                found = [d for (d,) in db.execute("SELECT decision FROM texts WHERE texts MATCH ? LIMIT ?",
                                                   (query, cap + 1))]
                if len(found) > cap:
                    return int(db.execute("SELECT count(*) FROM texts WHERE texts MATCH ?", (query,)).fetchone()[0])
        except sqlite3.Error:  # replaced or damaged meanwhile: the caller reads every text
            return None
        return sorted(found)

    def page_matching(self, given: dict[str, Any], of: str, offset: int, limit: int,
                      count: bool = True) -> tuple[int | None, list[list[Any]]] | None:
        """How many decisions (`of` "decisions") or letters ("letters") the GraphQL filters `given` match
        (kg.facet_index), as the store's SPARQL counts them (if `count`), and a page of them in letter
        order: [decision IRI, letter id, sequence] or [letter id]. None if the index cannot tell (a filter
        whose values it does not keep, words too short to look up)."""
        if "text" in given:
            words = phrase(given["text"])
            if words is None:
                return None
            given = {**given, "text": words}
        counting, paging = facet_index.count_sql(given, of), facet_index.page_sql(given, of, offset, limit)
        if counting is None or paging is None:
            return None
        try:
            with closing(self._readable()) as db:
                total = int(db.execute(*counting).fetchone()[0]) if count else None
                return total, [list(row) for row in db.execute(*paging)]
        except sqlite3.Error:  # replaced or damaged meanwhile: the caller counts with SPARQL
            return None

    def _readable(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=5)


@contextmanager
def _writable(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the index file at `path` in one transaction, committed on success."""
    with closing(sqlite3.connect(path, timeout=30)) as db:
        db.executescript(_SCHEMA + facet_index.SCHEMA)
        with db:
            yield db


def letters_texts(rows: Iterable[tuple[str, str, str, str]]) -> dict[str, Texts]:
    """(letter id, decision IRI, item text, rationale) rows, by letter."""
    texts: dict[str, Texts] = {}
    for letter_id, decision, item, rationale in rows:
        texts.setdefault(letter_id, []).append((decision, item, rationale))
    return texts
