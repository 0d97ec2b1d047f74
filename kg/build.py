"""kg build: letters on disk -> parsed records -> quads -> the store, with a report of every letter."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kg.graph import iter_vocabulary_quads, letter_quads
from kg.parser import LetterError, parse_file
from kg.record import LetterRecord
from kg.store import LetterGraph, Store

LETTER_SUFFIXES = {".txt", ".pdf"}
BATCH_SIZE = 200  # letters per store transaction


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str


@dataclass
class BuildReport:
    read: int = 0
    accepted: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    decisions: int = 0
    triples: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejected


def collect_inputs(paths: Iterable[Path]) -> list[Path]:
    """Letter files named directly or found (recursively) in folders, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LETTER_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files


def _parse(path: Path) -> LetterRecord | Rejected:
    """Parse one file; any failure becomes a rejection naming the file and the reason."""
    try:
        return parse_file(path)
    except LetterError as exc:
        return Rejected(path.name, str(exc).removeprefix(f"{path.name}: "))
    except OSError as exc:
        return Rejected(path.name, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must not stop the other letters
        return Rejected(path.name, f"internal parser error: {type(exc).__name__}: {exc}")


def _parsed(files: list[Path], jobs: int) -> Iterator[LetterRecord | Rejected]:
    if jobs <= 1 or len(files) < 2 * jobs:
        yield from map(_parse, files)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_parse, files, chunksize=16)


def build(paths: Iterable[Path], store: Store, *, jobs: int = 1,
          on_letter: Callable[[str], None] | None = None) -> BuildReport:
    """Parse every letter under `paths` and commit the accepted ones to `store`."""
    started = time.perf_counter()
    files = collect_inputs(paths)
    report = BuildReport()
    known = store.letter_hashes()
    seen: dict[str, str] = {}
    batch: list[LetterGraph] = []
    store.load_ontology()
    store.replace_letters([], iter_vocabulary_quads())
    for path, result in zip(files, _parsed(files, jobs), strict=True):
        report.read += 1
        if on_letter:
            on_letter(path.name)
        if isinstance(result, Rejected):
            report.rejected.append(result)
            continue
        if result.letter_id in seen:
            report.rejected.append(Rejected(path.name, f"duplicate letter id {result.letter_id!r} "
                                                       f"(already read from {seen[result.letter_id]})"))
            continue
        seen[result.letter_id] = path.name
        report.accepted += 1
        report.decisions += len(result.decisions)
        if known.get(result.letter_id) == result.sha256:
            report.unchanged += 1
            continue
        batch.append(LetterGraph(result.letter_id, result.sha256, letter_quads(result)))
        if len(batch) >= BATCH_SIZE:
            store.replace_letters(batch)
            batch = []
    store.replace_letters(batch)
    store.flush()
    report.triples = store.count_quads()
    report.seconds = time.perf_counter() - started
    return report
