"""kg build: letters on disk -> parsed records -> quads -> validated -> the store, with a report of
every letter."""

from __future__ import annotations

import gc
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from kg import summaries
from kg.extractor import extraction_key
from kg.graph import iter_vocabulary_quads, letter_quads
from kg.memory import collector_paused
from kg.parallel import CHUNK_SIZE, chunked, ordered_map
from kg.record import LetterRecord, letter_id_of
from kg.sources import KnownHashes, collect_inputs, hashing
from kg.store import Batch, LetterGraph, RejectedFile, Store, graph_digest

if TYPE_CHECKING:
    from kg.validate import Violation

# The parser (its drug dictionary) takes ~1 s to load, pyshacl ~1 s more. They are loaded where
# letters are parsed: in the pool's processes, which start loading them when they start (see
# _preload), while the files are hashed and the store is read; a rebuild with nothing to parse
# skips them.

BATCH_SIZE = 200  # letters per store transaction
# A build that rewrote at least this share of the store's letters should be followed by a compaction
# (`Store.optimize`): rewriting every letter's manifest entries and index chunks leaves RocksDB
# tombstones that made each kept-index read 20x slower at 100k letters (`kg table decisions` 3.5 s,
# 0.8 s once compacted; the compaction took 308 s). Incremental builds leave few (five builds of 100
# changed letters each, at 100k: no slowdown).
COMPACT_SHARE = 0.5


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str
    violations: tuple[Violation, ...] = ()
    lasting: bool = True  # the same bytes would be rejected again by this extractor (not an I/O error)


@dataclass(frozen=True)
class Parsed:
    """What one file became: its graph as N-Quads (with any SHACL warnings), or a rejection. Workers
    send serialized quads so that the writer only loads them (pyoxigraph parses N-Quads in Rust)."""

    file: str  # as listed (kg.sources.collect_inputs)
    letter: LetterGraph | None
    decisions: int = 0
    rejected: Rejected | None = None
    warnings: tuple[Violation, ...] = ()

    @property
    def name(self) -> str:
        return os.path.basename(self.file)


@dataclass(frozen=True)
class _Good:
    """A letter that parsed (and, if checked, conforms), before its summary is made."""

    file: str
    record: LetterRecord
    quads: list[ox.Quad]
    checked: bool  # SHACL checked it
    warnings: tuple[Violation, ...] = ()


def _accepted(items: list[_Good | Parsed]) -> list[Parsed]:
    """The chunk's letters as sent to the writer: each good one with its quads serialized and its
    summary (kg.summaries, made for the chunk at once)."""
    good = [item for item in items if isinstance(item, _Good)]
    made = iter(summaries.summarize([(g.record.letter_id, g.quads) for g in good]))
    return [item if isinstance(item, Parsed) else _letter(item, next(made)) for item in items]


def _letter(good: _Good, summary: summaries.Summary) -> Parsed:
    record = good.record
    nquads = ox.serialize(good.quads, format=ox.RdfFormat.N_QUADS)
    key = extraction_key(record.source_sha256, validated=good.checked) if record.source_sha256 else None
    letter = LetterGraph(record.letter_id, record.sha256, nquads, key, summary.tallies, summary.rows,
                         graph_digest(nquads))
    return Parsed(good.file, letter, len(record.decisions), warnings=good.warnings)


@dataclass
class BuildReport:
    read: int = 0
    accepted: int = 0
    unchanged: int = 0
    rewritten: int = 0  # letters whose graph or manifest entries this build wrote
    store_letters: int = 0  # letters in the store after the build
    remembered: int = 0  # rejected files reported from the store's memory of them, without reading them
    repaired: list[str] = field(default_factory=list)  # incomplete letters of an interrupted build, dropped
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    decisions: int = 0
    triples: int = 0  # written by this build (the store's total: `kg stats`)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejected

    @property
    def compaction_due(self) -> bool:
        """This build rewrote enough of the store for reads to be faster once it is compacted."""
        return self.rewritten > 0 and self.rewritten >= COMPACT_SHARE * self.store_letters


def _parse(file: str) -> _Good | Parsed:
    """Parse one file and make its quads; any failure becomes a rejection naming the file and the
    reason."""
    from kg.parser import LetterError, parse_file

    path = Path(file)
    try:
        record = parse_file(path)
        return _Good(file, record, letter_quads(record), checked=False)
    except LetterError as exc:
        rejected = Rejected(path.name, str(exc).removeprefix(f"{path.name}: "))
    except OSError as exc:
        rejected = Rejected(path.name, f"cannot read: {exc.strerror or exc}", lasting=False)
    except Exception as exc:  # a parser bug must not stop the other letters
        rejected = Rejected(path.name, f"internal parser error: {type(exc).__name__}: {exc}")
    return Parsed(file, None, rejected=rejected)


def _shacl_reason(violations: list[Violation]) -> str:
    first = violations[0]
    where = f" {first.path}" if first.path else ""
    value = f" = {first.value}" if first.value is not None else ""
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return f"fails SHACL shape {first.shape}{where}{value}: {first.message}{more}"


def _validated(items: list[_Good | Parsed]) -> list[_Good | Parsed]:
    """Validate the chunk's letters in one pyshacl call; attribute each result to its letter (a result
    on a shared concept goes to every letter that links to it)."""
    from kg.validate import by_letter, validate_letter_quads

    latest = {item.record.letter_id: item for item in items if isinstance(item, _Good)}
    quads = {lid: item.quads for lid, item in latest.items()}
    results = by_letter(validate_letter_quads(q for qs in quads.values() for q in qs).violations, quads)
    out: list[_Good | Parsed] = []
    for item in items:
        if isinstance(item, Parsed):
            out.append(item)
            continue
        lid = item.record.letter_id
        # a second file with the same letter id: validated on its own
        found = results[lid] if latest[lid] is item else validate_letter_quads(item.quads, lid).violations
        errors = [v for v in found if v.severity == "Violation"]
        if errors:
            name = os.path.basename(item.file)
            out.append(Parsed(item.file, None, rejected=Rejected(name, _shacl_reason(errors), tuple(errors))))
        else:
            out.append(replace(item, checked=True, warnings=tuple(found)))
    return out


def _parse_chunk(chunk: tuple[list[str], bool]) -> list[Parsed]:
    files, validate = chunk
    # pyshacl leaves ~27k objects a chunk in cycles (its shapes, its graphs, the report).
    # They are collected once at the chunk's end, not by a collector that walks all the chunk's
    # young objects every 700 new ones: a chunk checked with SHACL in 8-12% less time, peak
    # memory no higher (1,600 letters in process, two runs each).
    with collector_paused(collect_after=True):
        items = [_parse(f) for f in files]
        return _accepted(_validated(items) if validate else items)


def _parsed(files: list[str], pool: ProcessPoolExecutor | None, jobs: int, validate: bool) -> Iterator[Parsed]:
    """Parse (and validate) chunks of files, in order; in a pool, at most 2 chunks per worker are
    in flight so that memory stays flat however large the corpus."""
    chunks = [(chunk, validate) for chunk in chunked(files, CHUNK_SIZE)]
    for parsed in ordered_map(_parse_chunk, chunks, pool if len(chunks) > 1 else None, 2 * jobs):
        yield from parsed


@dataclass
class _Known:
    """What the store remembers of earlier builds, and the keys of this build's files."""

    keys: dict[str, str]  # letter id -> extraction key
    rejections: dict[str, str]  # extraction key -> reason
    validated: bool  # this build checks letters with SHACL
    file_keys: dict[str, str] = field(default_factory=dict)  # file to parse -> its extraction key
    rejections_in_use: set[str] = field(default_factory=set)  # keys of rejections some file still has
    digests: dict[str, str] = field(default_factory=dict)  # letter id -> its graph's digest, of the files to parse


def _as_good(listed: str | None, key: str, sha: str, validated: bool) -> bool:
    """Whether a letter listed under key `listed` needs no parsing by this build: it has the file's
    key, or, in a build without SHACL, the key a checked build gave it (parsing it again would only
    swap its key for the unchecked one, and have the next checked build check it again)."""
    return listed == key or (not validated and listed == extraction_key(sha, validated=True))


def _skip_known(files: list[str], hashes: list[str | None], known: _Known, report: BuildReport,
                seen: dict[str, str], on_letter: Callable[[str], None] | None) -> list[str]:
    """Files whose extraction key the store lists are accounted for without being parsed: as the
    letter they were, or as rejected again for the reason they were rejected."""
    todo: list[str] = []
    for file, sha in zip(files, hashes, strict=True):
        letter_id, name = letter_id_of(file), os.path.basename(file)
        if sha is None:
            todo.append(file)  # the parser reports it
            continue
        key = extraction_key(sha, known.validated)
        if key in known.rejections:
            known.rejections_in_use.add(key)
        if _as_good(known.keys.get(letter_id), key, sha, known.validated) and letter_id not in seen:
            seen[letter_id] = name
            report.accepted += 1
            report.unchanged += 1
        elif key in known.rejections:
            report.rejected.append(Rejected(name, known.rejections[key]))
            report.remembered += 1
        else:
            todo.append(file)
            known.file_keys[file] = key
            continue
        report.read += 1
        if on_letter:
            on_letter(name)
    return todo


def _preload(validate: bool) -> None:
    """Start loading the parser (and pyshacl, if letters are validated) in a pool process, behind
    whatever it is given first (a parse waits for it: Python's import lock, the drug dictionary's
    own); and watch for the end of the build's process."""
    def load() -> None:
        import kg.parser  # noqa: F401
        from kg.vocab import drug_dictionary

        drug_dictionary()
        if validate:
            from kg.validate import validate_letter_quads

            validate_letter_quads([])  # parses the shapes, and picks those a letter is checked with
        # What is loaded lives as long as the process: out of the collector's sight, it is not
        # walked again at each full collection (a letter parsed 17% faster, validated 21%).
        gc.freeze()

    threading.Thread(target=load, daemon=True).start()
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()


def _exit_with(parent: int) -> None:
    """Exit when the build's process is gone: a killed `kg build` (SIGKILL, the OOM killer) cannot
    shut its pool down, and its processes would wait for work forever (they hold the pipe's other
    end themselves)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


@contextmanager
def _pool(jobs: int, validate: bool) -> Iterator[ProcessPoolExecutor | None]:
    if jobs <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=jobs, initializer=_preload, initargs=(validate,)) as pool:
        yield pool


def build(paths: Iterable[Path | str], store: Store, *, jobs: int = 1, validate: bool = True,
          on_letter: Callable[[str], None] | None = None) -> BuildReport:
    """Parse (and by default SHACL-validate) every letter under `paths`; commit the accepted ones."""
    return build_files(collect_inputs(paths), store, jobs=jobs, validate=validate, on_letter=on_letter)


def build_files(files: list[str], store: Store, *, jobs: int = 1, validate: bool = True,
                on_letter: Callable[[str], None] | None = None) -> BuildReport:
    """`build` of the letter files `collect_inputs` found."""
    started = time.perf_counter()
    report = BuildReport()
    report.repaired = store.repair()
    seen: dict[str, str] = {}
    with _pool(jobs, validate) as pool:
        hashes = hashing(files, KnownHashes.decode(store.file_hashes()), pool, jobs)  # while the store is read
        known = _Known(store.extraction_keys(), store.rejections(), validate)  # before writing drops the key index
        with store.writing():
            store.load_ontology()
            store.replace_letters([], iter_vocabulary_quads())
            file_hashes, to_keep = hashes()
            files = _skip_known(files, file_hashes, known, report, seen, on_letter)
            # Saved now, not after the write: true of the files whatever becomes of the build, and
            # an entry a file (~0.6 KB) not held while letters are written.
            store.save_file_hashes(to_keep.encode())
            del hashes, file_hashes, to_keep
            known.digests = store.graph_digests(letter_id_of(p) for p in files)
            with _Writer(store) as writer:
                _consume(_parsed(files, pool, jobs, validate), report, known, seen, writer, on_letter)
            if pool:  # the parsers' memory (~150 MB each) is not needed while the indexes are made
                pool.shutdown()
            store.release_memory()  # nor what the write left in RocksDB and malloc
            store.forget_rejections(set(known.rejections) - known.rejections_in_use)
            store.check_tallies()
            store.save_key_index(known.keys)
            report.store_letters = len(known.keys)
            # Each holds an entry a letter (~50 MB together at 100k letters): not needed while the
            # store makes its indexes, on leaving `writing`.
            del files, known, seen
    report.seconds = time.perf_counter() - started
    return report


class _Writer:
    """Commits batches on its own thread (pyoxigraph releases the GIL while it writes), so parsing
    goes on while a batch is written."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.batch = Batch()

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                self._store.write(batch)
            except BaseException as exc:  # surfaced to the caller in _added() / __exit__
                self._error = exc

    def add(self, letter: LetterGraph) -> None:
        self.batch.letters.append(letter)
        self._added()

    def relist(self, letter: LetterGraph) -> None:
        self.batch.relisted.append(letter)
        self._added()

    def reject(self, rejected: RejectedFile) -> None:
        self.batch.rejected.append(rejected)
        self._added()

    def _added(self) -> None:
        if self._error:
            raise self._error
        if len(self.batch) >= BATCH_SIZE:
            self._queue.put(self.batch)
            self.batch = Batch()

    def __exit__(self, *exc: object) -> None:
        if self.batch and not exc[0]:
            self._queue.put(self.batch)
        self._queue.put(None)
        self._thread.join()
        if self._error and not exc[0]:
            raise self._error


def _consume(items: Iterable[Parsed], report: BuildReport, known: _Known, seen: dict[str, str],
             writer: _Writer, on_letter: Callable[[str], None] | None) -> None:
    """Account for each parsed file and hand new or changed letters (and lasting rejections) to the
    writer."""
    for item in items:
        report.read += 1
        if on_letter:
            on_letter(item.name)
        key = known.file_keys.pop(item.file, None)  # dropped once used: not held through the write
        if item.rejected or item.letter is None:
            rejected = item.rejected or Rejected(item.name, "no graph")
            report.rejected.append(rejected)
            if rejected.lasting and key is not None:
                writer.reject(RejectedFile(key, item.name, rejected.reason))
            continue
        letter = item.letter
        if letter.letter_id in seen:
            report.rejected.append(Rejected(item.name, f"duplicate letter id {letter.letter_id!r} "
                                                            f"(already read from {seen[letter.letter_id]})"))
            continue
        seen[letter.letter_id] = item.name
        report.accepted += 1
        report.decisions += item.decisions
        report.warnings += item.warnings
        if known.digests.get(letter.letter_id) != letter.graph_sha256:
            report.triples += letter.quad_count
            report.rewritten += 1
            writer.add(letter)
        else:
            report.unchanged += 1
            if known.keys.get(letter.letter_id) != letter.extraction_key:
                report.rewritten += 1
                writer.relist(letter)
        _remember(known.keys, letter)


def _remember(keys: dict[str, str], letter: LetterGraph) -> None:
    """Keep `keys` equal to the manifest's extraction keys once the writer has written `letter`."""
    if letter.extraction_key:
        keys[letter.letter_id] = letter.extraction_key
    else:
        keys.pop(letter.letter_id, None)
