"""The embedded on-disk store (pyoxigraph/RocksDB): atomic per-letter graphs, queries, dumps."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import pyoxigraph as ox

from kg import facet_index, iris, kept, kept_index, kept_tables, memory, tally, text_index
from kg.namespaces import DATA, IMR, PREFIXES, RDF_TYPE, RDFS_LABEL, imr
from kg.resources import data_dir

if TYPE_CHECKING:
    from kg.remote import RemoteStore

DUMP_FORMATS: dict[str, ox.RdfFormat] = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
}
QUAD_FORMATS = {"nq", "trig"}


def in_dump(graph: ox.NamedNode | ox.DefaultGraph) -> bool:
    """Whether a graph's triples are in a dump as triples (Turtle, N-Triples, JSON-LD): the
    ontology, the shared vocabulary and every letter's graph, as one graph. The store's bookkeeping
    is left out. A triple two letters' graphs share (their common case's type) is written once for
    each."""
    return graph in (iris.ONTOLOGY_GRAPH, iris.VOCABULARY_GRAPH) or (
        isinstance(graph, ox.NamedNode) and iris.letter_graph_id(graph) is not None)


T = TypeVar("T")
LETTER_GRAPH = imr("LetterGraph")
REJECTED_FILE = imr("RejectedFile")
SHA256 = imr("sha256")
IMR_HAS_DECISION, IMR_DECIDES = imr("hasDecision"), imr("decides")
IMR_ITEM_TEXT, IMR_RATIONALE = imr("itemText"), imr("rationale")
GRAPH_SHA256 = imr("graphSha256")  # in the manifest: the digest of the letter's graph (see `graph_digest`)
EXTRACTION_KEY = imr("extractionKey")
FILE_NAME = imr("fileName")
REJECTION_REASON = imr("rejectionReason")
TALLIES = imr("tallies")
BUILD_IN_PROGRESS = imr("buildInProgress")
MANIFEST_LABEL = ox.Literal("letter graphs written whole")
# Letters written between flushes of RocksDB's memtables. The manifest updates are transactional
# writes, held in memory until a flush: re-extracting 10k letters without one grew the writer
# linearly to 710 MB (100k: 3.0 GB); flushing every 2,000 it stays at ~480 MB.
FLUSH_EVERY = 2000
# Index text written since the last flush likewise: making the indexes of 100k letters from scratch
# writes ~690 MB, and the writer peaked at 601-676 MB without a flush, 473 MB flushing every 32 MB
# (every 8 MB: 439 MB, but 1.5x the time).
FLUSH_INDEX_BYTES = 32_000_000
# At each of those flushes a write also closes RocksDB and opens it again (`release_memory`).

# An index longer than this is saved as numbered parts, each a literal of its own: RDF parsers
# bound one term's size (pyoxigraph's N-Quads parser at 16 MiB), and at 100k letters the files'
# hashes alone were 16.8 MB, so `kg dump -f nq` wrote a file that Oxigraph could not load. A part
# of 1M characters stays under 16 MiB however its characters are escaped.
INDEX_PART_CHARS = 1_000_000
INDEX_PART = imr("indexPart")  # the datatype of a part: "NUMBER/COUNT:" and its characters


@dataclass(frozen=True)
class LetterGraph:
    """One letter's quads, ready to replace whatever the store holds for that letter."""

    letter_id: str
    sha256: str
    nquads: bytes  # the letter's quads serialized as N-Quads
    extraction_key: str | None = None  # see kg.extractor
    tallies: str = "[]"  # its contributions to the decision counts, encoded (see kg.tally)
    rows: dict[str, str] = field(default_factory=dict)  # query name -> its rows of that per-letter query (kg.kept)
    graph_sha256: str = ""  # `graph_digest(nquads)`, made where the letter is parsed

    @property
    def quad_count(self) -> int:
        return self.nquads.count(b"\n")


@dataclass(frozen=True)
class RejectedFile:
    """File contents the extractor rejected: remembered by extraction key, so that a rebuild reports
    the file again without reading it."""

    extraction_key: str
    file_name: str
    reason: str


@dataclass
class Batch:
    """What one writer step commits."""

    letters: list[LetterGraph] = field(default_factory=list)  # new or changed: their graphs are replaced
    relisted: list[LetterGraph] = field(default_factory=list)  # same graph, new extraction key: the key is
    rejected: list[RejectedFile] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.letters) + len(self.relisted) + len(self.rejected)


def index_parts(value: str, size: int | None = None) -> list[ox.Literal]:
    """`value` as one plain literal, or as parts of at most `size` characters if it is longer."""
    size = size or INDEX_PART_CHARS
    if len(value) <= size:
        return [ox.Literal(value)]
    count = -(-len(value) // size)
    return [ox.Literal(f"{n}/{count}:{value[n * size:(n + 1) * size]}", datatype=INDEX_PART)
            for n in range(count)]


def joined_parts(parts: list[str]) -> str | None:
    """The value that `index_parts` split, or None if any part is missing or foreign."""
    found: dict[int, str] = {}
    counts: set[str] = set()
    for part in parts:
        head, sep, body = part.partition(":")
        number, _, count = head.partition("/")
        if not (sep and number.isdigit() and count.isdigit()):
            return None
        found[int(number)] = body
        counts.add(count)
    if len(counts) != 1 or sorted(found) != list(range(int(counts.pop()))):
        return None
    return "".join(found[n] for n in sorted(found))


def graph_digest(nquads: bytes) -> str:
    """The SHA-256 of a letter's N-Quads lines in sorted order: what a rebuild compares to know whether
    a letter's graph changed (the same text read by an upgraded extractor can make another graph)."""
    return hashlib.sha256(b"".join(sorted(nquads.splitlines(keepends=True)))).hexdigest()


def manifest_entry(graph: ox.NamedNode) -> ox.Quad:
    """The manifest quad saying that letter graph `graph` is written whole."""
    return ox.Quad(graph, RDF_TYPE, LETTER_GRAPH, iris.MANIFEST_GRAPH)


def manifest_entries(letter: LetterGraph) -> list[ox.Quad]:
    """A letter's manifest quads: its graph is whole, and the hashes a rebuild compares (kept here
    too so that a rebuild reads them from one small graph: 13 s per hash at 100k letters otherwise)."""
    node = iris.letter(letter.letter_id)
    quads = [manifest_entry(iris.letter_graph(letter.letter_id)),
             ox.Quad(node, SHA256, ox.Literal(letter.sha256), iris.MANIFEST_GRAPH)]
    if letter.graph_sha256:
        quads.append(ox.Quad(node, GRAPH_SHA256, ox.Literal(letter.graph_sha256), iris.MANIFEST_GRAPH))
    return quads + relisting_entries(letter)


def relisting_entries(letter: LetterGraph) -> list[ox.Quad]:  # the quads of RELISTED
    """The manifest quads that an extractor upgrade may change without changing the letter's graph."""
    node = iris.letter(letter.letter_id)
    quads = [ox.Quad(node, TALLIES, ox.Literal(letter.tallies), iris.MANIFEST_GRAPH),
             ox.Quad(node, TALLY_DEFINITIONS, ox.Literal(tally.definitions()), iris.MANIFEST_GRAPH)]
    quads += [ox.Quad(node, kept.predicate(name), ox.Literal(rows), iris.MANIFEST_GRAPH)
              for name, rows in letter.rows.items()]
    if letter.extraction_key:
        quads.append(ox.Quad(node, EXTRACTION_KEY, ox.Literal(letter.extraction_key), iris.MANIFEST_GRAPH))
    return quads


def quad_data(verb: str, quads: Iterable[ox.Quad]) -> list[str]:
    """`INSERT DATA` or `DELETE DATA` of quads, as one SPARQL Update operation (none for no quads)."""
    by_graph: dict[str, list[str]] = {}
    for q in quads:
        by_graph.setdefault(str(q.graph_name), []).append(f"{q.subject} {q.predicate} {q.object} .")
    if not by_graph:
        return []
    blocks = "\n".join(f"GRAPH {g} {{\n" + "\n".join(lines) + "\n}" for g, lines in by_graph.items())
    return [f"{verb} DATA {{\n{blocks}\n}}"]


def rejection_entries(rejected: RejectedFile) -> list[ox.Quad]:
    node, graph = iris.rejected_file(rejected.extraction_key), iris.MANIFEST_GRAPH
    return [ox.Quad(node, RDF_TYPE, REJECTED_FILE, graph),
            ox.Quad(node, EXTRACTION_KEY, ox.Literal(rejected.extraction_key), graph),
            ox.Quad(node, FILE_NAME, ox.Literal(rejected.file_name), graph),
            ox.Quad(node, REJECTION_REASON, ox.Literal(rejected.reason), graph)]


MANIFEST_HEADER = ox.Quad(iris.MANIFEST_GRAPH, RDFS_LABEL, MANIFEST_LABEL, iris.MANIFEST_GRAPH)
WRITING_MARK = ox.Quad(iris.MANIFEST_GRAPH, BUILD_IN_PROGRESS, ox.Literal(True), iris.MANIFEST_GRAPH)
TALLIES_COMPLETE = imr("talliesComplete")
KEY_INDEX = imr("extractionKeyIndex")
TEXT_INDEX_STAMP = imr("textIndexStamp")  # the stamp of kg.text_index the store agrees with
FILE_HASHES = imr("fileHashes")
DECISION_COUNTS = imr("decisionCountIndex")
TALLY_DEFINITIONS = imr("tallyDefinitions")
# what an extractor upgrade changes for an unchanged letter
RELISTED = (EXTRACTION_KEY, TALLIES, *(kept.predicate(name) for name in kept.kept_queries()), TALLY_DEFINITIONS)


def tallies_complete_mark() -> ox.Quad:
    """Every listed letter's decisions are in the tallies, counted by the current tally queries (not
    so in a store written before tallies existed, nor during the rebuild after they changed)."""
    return ox.Quad(iris.MANIFEST_GRAPH, TALLIES_COMPLETE, ox.Literal(tally.definitions()), iris.MANIFEST_GRAPH)


def untallied_letter_query() -> str:
    """ASK whether a listed letter's contributions were not counted by the current tally queries."""
    return (f"ASK {{ GRAPH {iris.MANIFEST_GRAPH} {{ ?l {SHA256} ?h "
            f"FILTER NOT EXISTS {{ ?l {TALLY_DEFINITIONS} {ox.Literal(tally.definitions())} }} }} }}")


class Store:
    """A kg store in directory `path`."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._writers = 0  # nested `writing()` blocks
        self._kept_indexes = kept_index.Indexes(self._index, self._put_index, self.kept_rows,
                                                  self.every_letter_rows)
        self._counts: dict[str, int | None] = {}  # letter id -> its decisions after this write (None: gone)
        self._unflushed = 0  # letters written since the last flush
        self._unflushed_bytes = 0  # index text written since the last flush
        self._text_index = text_index.TextIndex(self.path)
        self._text_index_agreed = False  # when this write began
        self._written: set[str] = set()  # letters this write replaced or removed
        if read_only and not self.path.exists():
            raise FileNotFoundError(f"no kg store at {self.path} (run `kg build` first)")
        self._store = self._open()

    def _open(self) -> ox.Store:
        return ox.Store.read_only(str(self.path)) if self.read_only else ox.Store(str(self.path))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush and release the RocksDB handle (pyoxigraph closes a store when it is dropped)."""
        if hasattr(self, "_store"):
            if not self.read_only:
                self._store.flush()
            del self._store
            memory.release()

    def _manifest(self, subject: ox.NamedNode | None, predicate: ox.NamedNode) -> Iterator[ox.Quad]:
        if subject is not None:
            return self._store.quads_for_pattern(subject, predicate, None, iris.MANIFEST_GRAPH)
        # quads_for_pattern walks the whole manifest graph when only the predicate is given (2 s for
        # the 1k rejected files of 100k letters, minutes for a kept-rows predicate); the same pattern
        # in SPARQL reads the predicate's index (0.02 s, 5 s)
        solutions = self._store.query(f"SELECT ?s ?o WHERE {{ GRAPH {iris.MANIFEST_GRAPH} {{ ?s {predicate} ?o }} }}")
        return (ox.Quad(s["s"], predicate, s["o"], iris.MANIFEST_GRAPH) for s in solutions)  # type: ignore[union-attr,arg-type,index]

    def letter_hashes(self, letter_ids: Iterable[str] | None = None) -> dict[str, str]:
        """letter id -> SHA-256 of the text of every letter committed to the store (or of those of
        `letter_ids` that are), as the manifest lists them."""
        if not self._store.contains_named_graph(iris.MANIFEST_GRAPH) and not self.read_only:
            self.repair()
        if letter_ids is not None:
            quads = (q for i in letter_ids for q in self._manifest(iris.letter(i), SHA256))
        else:
            quads = self._manifest(None, SHA256)
        return _by_letter(quads, str)

    def graph_digests(self, letter_ids: Iterable[str]) -> dict[str, str]:
        """letter id -> the digest of the graph the store holds (`graph_digest`), for those of
        `letter_ids` whose manifest entry has one (none in a store written before it was kept)."""
        return _by_letter((q for i in letter_ids for q in self._manifest(iris.letter(i), GRAPH_SHA256)), str)

    def extraction_keys(self) -> dict[str, str]:
        """letter id -> the extraction key (kg.extractor) its graph was made under: from the key
        index the last build left, or (slower: ~4 s at 100k letters) from the manifest entries."""
        index = self._index(KEY_INDEX)
        if index is not None:
            return json.loads(index)  # type: ignore[no-any-return]
        return _by_letter(self._manifest(None, EXTRACTION_KEY), str)

    def save_key_index(self, keys: dict[str, str]) -> None:
        """Keep every letter's extraction key in one literal for the next build to read at once; any
        later write drops it (see `writing`), so it is never stale."""
        self._save_index(KEY_INDEX, json.dumps(keys, separators=(",", ":")))

    def file_hashes(self) -> str | None:
        """The letter files' hashes the last build kept (kg.sources.KnownHashes, encoded)."""
        return self._index(FILE_HASHES)

    def save_file_hashes(self, encoded: str) -> None:
        self._save_index(FILE_HASHES, encoded)

    def _index(self, predicate: ox.NamedNode) -> str | None:
        """The value of a manifest literal that holds an index (one value for the whole store),
        joined from its parts if it was saved in parts; None if it is absent or a part is missing
        (every index is a cache that the store can do without)."""
        quads = list(self._manifest(iris.MANIFEST_GRAPH, predicate))
        if len(quads) == 1 and quads[0].object.datatype != INDEX_PART:  # type: ignore[union-attr]
            return quads[0].object.value
        return joined_parts([q.object.value for q in quads])

    def _save_index(self, predicate: ox.NamedNode, value: str) -> None:
        self._drop_index(predicate)
        self._store.extend(ox.Quad(iris.MANIFEST_GRAPH, predicate, part, iris.MANIFEST_GRAPH)
                           for part in index_parts(value))
        self._unflushed_bytes += len(value)
        if self._unflushed_bytes >= FLUSH_INDEX_BYTES:
            self.release_memory()
            self._unflushed_bytes = 0

    def _put_index(self, predicate: ox.NamedNode, value: str | None) -> None:
        if value is None:
            self._drop_index(predicate)
        else:
            self._save_index(predicate, value)

    def _drop_index(self, predicate: ox.NamedNode) -> None:
        for q in list(self._manifest(iris.MANIFEST_GRAPH, predicate)):
            self._store.remove(q)

    def rejections(self) -> dict[str, str]:
        """extraction key -> reason, for the file contents the extractor rejected."""
        return {key: q.object.value for q in self._manifest(None, REJECTION_REASON)
                if (key := iris.rejected_file_key(q.subject))}  # type: ignore[arg-type]

    def replace_letters(self, letters: Iterable[LetterGraph], extra: Iterable[ox.Quad] = ()) -> None:
        """Write letters so that each is whole or absent (see `write`)."""
        self.write(Batch(list(letters)), extra)

    def write(self, batch: Batch, extra: Iterable[ox.Quad] = ()) -> None:
        """`_write` in a `writing` block of its own, unless one is open."""
        with self.writing():
            self._write(batch, extra)

    def _write(self, batch: Batch, extra: Iterable[ox.Quad] = ()) -> None:
        """Commit a batch: replace its letters' graphs, update the keys of its relisted letters and
        remember its rejected files.

        The quads go in through RocksDB's bulk loader (~2.5x the transactional `load` on our
        letters), which is not atomic; atomicity comes from the manifest graph instead: a letter
        graph is listed there, in one transaction, only after all its quads are written, and one
        that is not listed is incomplete and is dropped by `repair()` at the next build. A changed
        letter is first unlisted, then cleared, so a crash at any point leaves whole letters only
        (as far as the manifest says)."""
        if not self._store.contains_named_graph(iris.MANIFEST_GRAPH):
            self.repair()
        graphs = [iris.letter_graph(letter.letter_id) for letter in batch.letters]
        stale = [g for g in graphs if self._store.contains_named_graph(g)]
        if stale:
            self._unlist(stale)
            for graph in stale:
                self._store.remove_graph(graph)
        letters = batch.letters
        self._written.update(letter.letter_id for letter in letters)
        data = b"".join(letter.nquads for letter in letters) + ox.serialize(list(extra), format=ox.RdfFormat.N_QUADS)
        if data:  # serialized by pyoxigraph from valid terms: not checked again (lenient: 5-15% faster)
            self._store.bulk_load(data, format=ox.RdfFormat.N_QUADS, lenient=True)
        old = [q for letter in batch.relisted for prop in RELISTED
               for q in self._manifest(iris.letter(letter.letter_id), prop)]
        before = _kept_rows_of(old)
        for letter in [*letters, *batch.relisted]:
            self._kept_indexes.changed(letter.letter_id, before.get(letter.letter_id), letter.rows)
            self._counts[letter.letter_id] = tally.decisions_in(letter.tallies)
        added = [tally.decode(letter.tallies) for letter in [*letters, *batch.relisted]]
        removed = [tally.decode(q.object.value) for q in old if q.predicate == TALLIES]
        uncounted, counted = tally.applied(tally.change(added, removed), self._tally_counts)
        self._update(quad_data("DELETE", [*old, *uncounted]) + quad_data("INSERT", [
            *(q for letter in letters for q in manifest_entries(letter)),
            *(q for letter in batch.relisted for q in relisting_entries(letter)),
            *(q for r in batch.rejected for q in rejection_entries(r)), *counted]))
        self._unflushed += len(letters) + len(batch.relisted)
        if self._unflushed >= FLUSH_EVERY:
            self.release_memory()
            self._unflushed = 0

    def _tally_counts(self, nodes: list[ox.NamedNode]) -> dict[ox.NamedNode, int]:
        """The counts of these tallies (read with one query: a pattern per tally costs 4x)."""
        if not nodes:
            return {}
        sparql = (f"SELECT ?t ?n WHERE {{ VALUES ?t {{ {' '.join(map(str, nodes))} }} "
                  f"?t {imr('decisionCount')}|{imr('letterCount')} ?n }}")
        found = self._store.query(sparql, default_graph=iris.TALLY_GRAPH)
        return {s["t"]: int(s["n"].value) for s in found}  # type: ignore[union-attr,index]

    def _update(self, operations: list[str]) -> None:
        """Apply update operations in one transaction."""
        if operations:
            self._store.update(" ;\n".join(operations))

    def forget_rejections(self, keys: Iterable[str]) -> None:
        """Drop the rejected-file entries of these extraction keys."""
        for key in keys:
            for q in list(self._store.quads_for_pattern(iris.rejected_file(key), None, None, iris.MANIFEST_GRAPH)):
                self._store.remove(q)

    def _unlist(self, graphs: list[ox.NamedNode]) -> None:
        """Take letters off the manifest and their contributions off the tallies, in one transaction."""
        entries = [q for graph in graphs for q in [manifest_entry(graph), *self._store.quads_for_pattern(
            iris.letter(iris.letter_graph_id(graph) or ""), None, None, iris.MANIFEST_GRAPH)]]
        removed = [tally.decode(q.object.value) for q in entries if q.predicate == TALLIES]
        uncounted, counted = tally.applied(tally.change([], removed), self._tally_counts)
        self._update(quad_data("DELETE", [*entries, *uncounted]) + quad_data("INSERT", counted))
        before = _kept_rows_of(entries)
        for graph in graphs:
            letter_id = iris.letter_graph_id(graph) or ""
            self._kept_indexes.changed(letter_id, before.get(letter_id, {}), None)
            self._counts[letter_id] = None

    def letter_decision_counts(self) -> dict[str, int]:
        """letter id -> number of decisions: from the index the last write left, or else from every
        letter's tallies in the manifest (~10 s at 100k letters)."""
        index = None if self.being_written() else self._index(DECISION_COUNTS)
        return self._counts_from_tallies() if index is None else json.loads(index)  # type: ignore[no-any-return]

    def _counts_from_tallies(self) -> dict[str, int]:
        """letter id -> its decisions, reading one letter's tallies at a time (the first build of 100k
        letters went from 706 to 1,180 MB holding them all)."""
        return _by_letter(self._manifest(None, TALLIES), tally.decisions_in)

    def _save_decision_counts(self) -> None:
        """Bring the index of every letter's decision count up to date with this write's letters (made
        from every letter's tallies when there is none: the first write of a store made before the
        index existed, or after an interrupted write)."""
        index = self._index(DECISION_COUNTS)
        if index is not None and not self._counts:
            return
        if index is None:
            counts = self._counts_from_tallies()
        else:
            counts = json.loads(index)
            for letter_id, n in self._counts.items():
                if n is None:
                    counts.pop(letter_id, None)
                else:
                    counts[letter_id] = n
        self._save_index(DECISION_COUNTS, json.dumps(counts, separators=(",", ":")))

    def _drop_letter_indexes(self) -> None:
        """Drop what each write brings up to date for the letters it changed: the kept-row indexes
        and the decision counts (made again from every letter by the next write)."""
        self._kept_indexes.drop()
        self._drop_index(DECISION_COUNTS)

    def kept_rows(self, name: str, letter_ids: Iterable[str] | None = None) -> dict[str, str]:
        """letter id -> its encoded rows of per-letter query `name` (see kg.kept), for every letter
        (or those of `letter_ids`); every letter has them only when `tallies_complete()`."""
        if letter_ids is None:
            return _by_letter(self._manifest(None, kept.predicate(name)), str)
        return _by_letter((q for i in letter_ids for q in self._manifest(iris.letter(i), kept.predicate(name))), str)

    def every_letter_rows(self) -> Iterator[tuple[str, kept.Rows]]:
        """(letter id, its kept rows of every query), for every letter in letter id order, one at a
        time: a lookup each (~30 s at 100k letters; the store orders letters by the hash of their
        IRI, so it cannot be walked in this order)."""
        names = {kept.predicate(name): name for name in kept.kept_queries()}
        for letter_id in sorted(self.letter_hashes()):
            yield letter_id, self._letter_rows(letter_id, names)

    def _letter_rows(self, letter_id: str, names: dict[ox.NamedNode, str]) -> kept.Rows:
        """A letter's kept rows, read whole (no iterator outlives the call: see `release_memory`)."""
        entries = self._store.quads_for_pattern(iris.letter(letter_id), None, None, iris.MANIFEST_GRAPH)
        return {names[q.predicate]: q.object.value for q in entries if q.predicate in names}

    def kept(self, name: str) -> kept_tables.Table:
        """Every letter's kept rows of per-letter query `name`: from its index, or (while a write
        goes on, or after one was interrupted) from each letter's manifest entry."""
        count = None if self.being_written() else self._kept_indexes.rows(name)  # None: no index
        if count is None:
            return kept_tables.Table.of_letters(name, self.kept_rows(name).items())
        return kept_tables.Table(name, lambda: self._kept_indexes.runs(name, "json") or (), count)

    def kept_indexes_outdated(self) -> bool:
        """Whether the store's kept-row indexes were written in another format (by another version
        of kg) than this code reads: whole tables are then read letter by letter until the next
        write makes them again."""
        return (self.tallies_complete() and not self.being_written() and not self._kept_indexes.current()
                and next(self._manifest(None, SHA256), None) is not None)

    def kept_bindings(self, name: str) -> Iterator[str]:
        """`kept(name)` as SPARQL JSON bindings, each followed by a comma, a chunk of its index of
        that form at a time, if there is one."""
        runs = None if self.being_written() else self._kept_indexes.runs(name, "srj")
        return self.kept(name).bindings() if runs is None else runs

    def kept_csv(self, name: str) -> str:
        """`kept(name)` as CSV lines: as its index of that form holds them, if there is one."""
        lines = self._kept_whole(name, "csv")
        return self.kept(name).csv() if lines is None else lines

    def _kept_whole(self, name: str, form: str) -> str | None:
        """Every letter's block of an index of all letters, unless a write is going on or was
        interrupted."""
        return None if self.being_written() else self._kept_indexes.whole(name, form)

    def kept_by_value(self, name: str, value: ox.NamedNode | ox.Literal) -> kept_tables.Table | None:
        """The kept rows of a `kept.by_value` query whose column holds `value`, from their index;
        None while there is none (the query answers then)."""
        if self.being_written():  # a write is going on or was interrupted
            return None
        rows = self._kept_indexes.of_value(name, kept.value_key(value))
        return None if rows is None else kept_tables.Table.of_text(name, rows)

    def kept_values(self, name: str) -> list[str] | None:
        """The index keys of the values of a `kept.by_value` query; None while there are no
        indexes."""
        return None if self.being_written() else self._kept_indexes.values(name)

    def being_written(self) -> bool:
        """A write is going on (or was interrupted): the kept-row indexes are not up to date."""
        return WRITING_MARK in self._store

    def tallies_complete(self) -> bool:
        """Whether the tally graph counts every letter's decisions (see kg.tally), and every letter
        keeps its rows of the per-letter queries (kg.kept)."""
        return tallies_complete_mark() in self._store

    def check_tallies(self) -> None:
        """Mark the tallies complete once no listed letter lacks its contributions (every letter
        written since tallies exist has them, so this is looked at only until it holds)."""
        if self.tallies_complete():
            return
        for q in list(self._manifest(iris.MANIFEST_GRAPH, TALLIES_COMPLETE)):  # counted by other definitions
            self._store.remove(q)
        if not bool(self._store.query(untallied_letter_query())):
            self._store.add(tallies_complete_mark())

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Mark the store as being written for the duration, so that a build that is killed leaves
        the mark behind and the next `repair()` knows it must look for incomplete letters (a build
        that fails leaves it too). Looking costs ~3 s at 100k letters, so a clean store skips it.
        Nested blocks mark and flush once."""
        self._writers += 1
        if self._writers == 1:
            self._store.add(WRITING_MARK)
            self._text_index_agreed = self._text_index_agrees()
            self._drop_index(KEY_INDEX)  # stale from the first write on
            self._drop_index(TEXT_INDEX_STAMP)
        yield
        self._writers -= 1
        if self._writers == 0:
            if self.tallies_complete():
                self._kept_indexes.save()
                self._save_decision_counts()
            else:  # not read while incomplete, and would miss this write's changes after
                self._drop_letter_indexes()
            self._counts = {}
            self._update_text_index()
            self._store.flush()
            self._store.remove(WRITING_MARK)

    def _text_index_agrees(self) -> bool:
        """Whether the text index holds the texts of the store's letters (see kg.text_index)."""
        ours = self._index(TEXT_INDEX_STAMP)
        return ours is not None and ours == self._text_index.stamp()

    def _update_text_index(self) -> None:
        """Index the texts of the letters this write replaced or removed, or, if the index did not
        agree with the store when the write began, of every letter."""
        whole = not self._text_index_agreed
        letter_ids = self.letter_hashes() if whole else self._written
        stamp = self._text_index.update(letter_ids, self._letter_texts, self._letter_facets, whole=whole)
        if stamp is not None:
            self._save_index(TEXT_INDEX_STAMP, stamp)
        self._written = set()

    def _letter_texts(self, letter_ids: list[str]) -> dict[str, text_index.Texts]:
        """Each letter's decisions with their item text and rationale (empty if none), from the letter
        nodes (0.4 s for 500 letters at 100k letters; through `GRAPH ?g` with the graphs as VALUES,
        Oxigraph read every letter's graph: 7 s)."""
        letters, ids = _letters_named(letter_ids)
        solutions = self._store.query(
            f"SELECT ?l ?d ?item ?rationale WHERE {{ VALUES ?l {{ {letters} }} ?l {IMR_HAS_DECISION} ?d . "
            f"?d {IMR_DECIDES} ?request . ?request {IMR_ITEM_TEXT} ?item "
            f"OPTIONAL {{ ?d {IMR_RATIONALE} ?rationale }} }}", use_default_graph_as_union=True)
        return text_index.letters_texts(
            (ids[s["l"].value], s["d"].value, s["item"].value,  # type: ignore[index,union-attr]
             s["rationale"].value if s["rationale"] else "")  # type: ignore[index,union-attr]
            for s in solutions)  # type: ignore[union-attr]

    def _letter_facets(self, letter_ids: list[str]) -> dict[str, facet_index.LetterFacets]:
        """Each letter's decisions and the values GraphQL's filters compare (kg.facet_index), from the
        letter nodes."""
        letters, ids = _letters_named(letter_ids)
        rows: list[tuple[str, str, str, str, str]] = []
        for facet, query in facet_index.read_queries(letters):
            for s in self._store.query(query, use_default_graph_as_union=True):  # type: ignore[union-attr]
                d, seq = s["d"], s["seq"]  # type: ignore[index]
                rows.append((ids[s["l"].value], facet, d.value if d else "",  # type: ignore[index,union-attr]
                             s["v"].value, seq.value if seq else ""))  # type: ignore[index,union-attr]
        return facet_index.facet_rows(rows)

    def page_matching(self, given: dict[str, Any], of: str, offset: int, limit: int,
                      count: bool = True) -> tuple[int | None, list[list[Any]]] | None:
        """How many decisions (`of` "decisions") or letters ("letters") GraphQL's filters `given` match, and a
        page of them, from the text index's copy of the filters' values (kg.facet_index); None if it does
        not agree with the store or cannot tell for these filters (see TextIndex.page_matching)."""
        if not self._text_index_agrees():
            return None
        return self._text_index.page_matching(given, of, offset, limit, count)

    def decisions_with_words(self, words: str, cap: int) -> list[str] | int | None:
        """The decisions whose item text or rationale holds `words` (case aside), from the text index, or
        how many do when more than `cap`; None if it does not agree with the store or the words are too
        short (see kg.text_index.TextIndex.decisions)."""
        return self._text_index.decisions(words, cap) if self._text_index_agrees() else None

    def repair(self) -> list[str]:
        """After an interrupted write (see `writing`), drop every letter graph the manifest does not
        list (a build stopped mid-batch) and return their letter ids. A store written before the
        manifest existed (whole letters, one transaction per batch) gets its letter graphs listed
        instead."""
        if not self._store.contains_named_graph(iris.MANIFEST_GRAPH):
            self._store.extend([MANIFEST_HEADER, *(q for g in self._letter_graphs() for q in self._legacy_entries(g))])
            return []
        if next(self._manifest(None, SHA256), None) is None and next(self._listed_graphs(), None):
            # a manifest from before it kept the hashes: add them
            self._store.extend([q for g in self._listed() for q in self._legacy_entries(g)])
        if not self.being_written():
            return []
        self._drop_letter_indexes()  # the interrupted write changed letters they do not show
        listed = self._listed()
        dropped = [g for g in self._letter_graphs() if g not in listed]
        for graph in dropped:
            self._store.remove_graph(graph)
        self._store.remove(WRITING_MARK)
        return [iris.letter_graph_id(g) or "" for g in dropped]

    def _listed(self) -> set[ox.NamedNode]:
        return set(self._listed_graphs())

    def _listed_graphs(self) -> Iterator[ox.NamedNode]:
        """The letter graphs the manifest lists (through SPARQL: see `_manifest`; 3 s at 100k
        letters, quads_for_pattern took minutes)."""
        query = f"SELECT ?g WHERE {{ GRAPH {iris.MANIFEST_GRAPH} {{ ?g {RDF_TYPE} {LETTER_GRAPH} }} }}"
        return (s["g"] for s in self._store.query(query))  # type: ignore[union-attr,index,misc]

    def _letter_graphs(self) -> list[ox.NamedNode]:
        return [g for g in self._store.named_graphs()
                if isinstance(g, ox.NamedNode) and iris.letter_graph_id(g) is not None]

    def _legacy_entries(self, graph: ox.NamedNode) -> list[ox.Quad]:
        """Manifest quads of a letter graph written before the manifest existed, read off the graph."""
        letter = iris.letter(iris.letter_graph_id(graph) or "")
        return [manifest_entry(graph)] + [
            ox.Quad(letter, q.predicate, q.object, iris.MANIFEST_GRAPH)
            for q in self._store.quads_for_pattern(letter, SHA256, None, graph)]

    def letter_ids(self) -> list[str]:
        return sorted(self.letter_hashes())

    def letters_with_vocabulary(self, letter_ids: list[str]) -> Iterator[tuple[str, list[ox.Quad]]]:
        """Each letter's quads plus the vocabulary-graph quads of the shared concepts it links to (and
        of the concepts those link to: a medication's class, a section's guideline)."""
        def fetch(nodes: list[ox.NamedNode]) -> list[ox.Quad]:
            return [q for node in nodes for q in self._store.quads_for_pattern(node, None, None, iris.VOCABULARY_GRAPH)]

        for letter_id in letter_ids:
            quads = list(self._store.quads_for_pattern(None, None, None, iris.letter_graph(letter_id)))
            yield letter_id, with_vocabulary(quads, fetch)

    def remove_letter(self, letter_id: str) -> bool:
        graph = iris.letter_graph(letter_id)
        if not self._store.contains_named_graph(graph):
            return False
        with self.writing():
            self._unlist([graph])
            self._store.remove_graph(graph)
            self._written.add(letter_id)
        return True

    def load_ontology(self) -> None:
        """Keep the ontology in its own named graph so that dumps and clients see the schema."""
        graph = iris.ONTOLOGY_GRAPH
        if self._store.contains_named_graph(graph):
            self._store.remove_graph(graph)
        for path in sorted(data_dir("ontology").glob("*.ttl")):
            self._store.load(path=str(path), format=ox.RdfFormat.TURTLE, to_graph=graph)

    def query(self, sparql: str, **kwargs: object) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        """Run a SPARQL query; its default graph is the union of all graphs unless `default_graph` is given."""
        if "default_graph" not in kwargs:
            kwargs["use_default_graph_as_union"] = True
        return self._store.query(sparql, **kwargs)  # type: ignore[arg-type]

    def quads(self) -> Iterator[ox.Quad]:
        return iter(self._store)

    def count_quads(self) -> int:
        return len(self._store)

    def letter_count(self) -> int:
        q = f"SELECT (COUNT(DISTINCT ?l) AS ?n) WHERE {{ ?l a <{IMR}Letter> }}"
        return int(next(iter(self.query(q)))["n"].value)  # type: ignore[index,arg-type]

    def dump(self, out: IO[bytes], fmt: str) -> None:
        """Serialize the store as it is read (memory stays flat: a 10k-letter store held every
        triple at once in 2.2 GB before). Quad formats: every graph, one per letter, and the store's
        bookkeeping (manifest, tallies). Triple formats: the knowledge graph (see `in_dump`)."""
        rdf_format = DUMP_FORMATS[fmt]
        if fmt in QUAD_FORMATS:
            self._store.dump(out, rdf_format)
            return
        graphs = sorted((g for g in self._store.named_graphs() if in_dump(g)),
                        key=lambda g: (iris.letter_graph_id(g) is not None, g.value))  # type: ignore[arg-type]
        triples = (q.triple for g in graphs for q in self._store.quads_for_pattern(None, None, None, g))
        ox.serialize(triples, out, rdf_format, prefixes=_prefixes())

    def flush(self) -> None:
        self._store.flush()

    def release_memory(self) -> None:
        """Flush, close RocksDB and open it again, and trim malloc. RocksDB keeps the index blocks
        of every table file it has opened for as long as it is open (oxigraph leaves them out of
        its bounded block cache), so a long write's memory grows with the store's size on disk.
        Done at each flush of a build (every 2,000 letters and 32 MB of index text), it took a
        first build's peak RSS from 488-516 to 377-412 MiB at 10k letters, and from 826-836 to 558
        MiB at 100k (whole command, 2 cores). Also prunes RocksDB's info logs (`_prune_info_logs`).

        No iterator over the store may be alive (it holds RocksDB's lock): the write path reads
        each result whole."""
        if not self.read_only:
            self._store.flush()
        del self._store
        memory.release()
        try:
            self._store = self._open()
        except OSError as exc:  # a kg bug: something still reads the store it closed
            raise RuntimeError(f"could not open the store at {self.path} again: {exc}") from exc
        if not self.read_only:
            _prune_info_logs(self.path)

    def optimize(self) -> None:
        """Compact the store (RocksDB's full compaction): drops what deletions left behind, which
        slows reads after a write that replaced much of the store (see kg.build.COMPACT_SHARE)."""
        self._store.optimize()

    def disk_bytes(self) -> int:
        """The size of the store's files."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


class StoreUnavailable(Exception):
    """A store that kg cannot use as it is: no SPARQL server answering at the URL, or one that
    does not read its named graphs as its default graph."""


def open_store(spec: str, *, read_only: bool = False) -> Store | RemoteStore:
    """An embedded store for a directory, a remote one for an http(s) URL (kg.remote, and the HTTP
    client, are imported only then)."""
    if spec.startswith(("http://", "https://")):
        from kg.remote import RemoteStore

        return RemoteStore(spec, read_only=read_only)
    return Store(Path(spec), read_only=read_only)


def _letters_named(letter_ids: list[str]) -> tuple[str, dict[str, str]]:
    """The letters' IRIs as SPARQL terms for a VALUES block, and each IRI's letter id (parsing an IRI back
    for every row of an answer took an eighth of reading the index's rows)."""
    nodes = {iris.letter(i): i for i in letter_ids}
    return " ".join(str(node) for node in nodes), {node.value: i for node, i in nodes.items()}


def with_vocabulary(quads: list[ox.Quad],
                    fetch: Callable[[list[ox.NamedNode]], list[ox.Quad]]) -> list[ox.Quad]:
    """`quads` plus the vocabulary quads of the concepts they link to, two links deep (a
    medication's class, a section's guideline); `fetch` returns the vocabulary quads of nodes."""
    frontier = {q.object for q in quads if isinstance(q.object, ox.NamedNode)}
    seen: set[ox.NamedNode] = set()
    for _ in range(2):
        todo = sorted(frontier - seen, key=lambda n: n.value)
        seen |= frontier
        found = fetch(todo) if todo else []
        quads = quads + found
        frontier = {q.object for q in found if isinstance(q.object, ox.NamedNode)}
    return quads


INFO_LOGS_KEPT = 10


def disk_state(path: Path | str) -> frozenset[tuple[str, int, int]]:
    """What any write to the store at `path` changes: its files' names, sizes and times (RocksDB's
    info logs left out: an opening writes them, even a read-only one)."""
    state = set()
    with os.scandir(path) as entries:
        for entry in entries:
            if not entry.name.startswith("LOG"):
                with suppress(FileNotFoundError):  # deleted meanwhile (a compaction): a change all the same
                    stat = entry.stat()
                    state.add((entry.name, stat.st_size, stat.st_mtime_ns))
    return frozenset(state)


def _prune_info_logs(path: Path, keep: int = INFO_LOGS_KEPT) -> None:
    """Delete all but the newest `keep` of the info logs RocksDB leaves at each opening of a store
    (`LOG.old.<microseconds>`, ~160 KB each, kept up to 1,000 by oxigraph's options: a first build of
    100k letters, reopening the store ~75 times, left 12 MB of them). They are diagnostics only."""
    logs = sorted(path.glob("LOG.old.*"))  # by the time in their names, all of one length till 2286
    for log in logs[:max(len(logs) - keep, 0)]:
        log.unlink(missing_ok=True)


def _prefixes() -> dict[str, str]:
    return {**PREFIXES, "id": DATA}


def _kept_rows_of(entries: Iterable[ox.Quad]) -> dict[str, kept.Rows]:
    """letter id -> query name -> its kept rows, among manifest quads."""
    names = {kept.predicate(name): name for name in kept.kept_queries()}
    rows: dict[str, kept.Rows] = {}
    for q in entries:
        letter_id = iris.letter_id(q.subject)  # type: ignore[arg-type]
        if q.predicate in names and letter_id is not None:
            rows.setdefault(letter_id, {})[names[q.predicate]] = q.object.value
    return rows


def _by_letter(quads: Iterable[ox.Quad], read: Callable[[str], T]) -> dict[str, T]:
    """letter id -> `read` of the object value, for manifest quads about letters (other subjects are
    skipped); each value is read as its quad comes, so the texts are not all held at once."""
    values = {}
    for q in quads:
        letter_id = iris.letter_id(q.subject)  # type: ignore[arg-type]
        if letter_id is not None:
            values[letter_id] = read(q.object.value)
    return values
