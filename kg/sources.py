"""Letter files on disk: finding them, and the SHA-256 of their bytes (what decides whether a rebuild
parses a letter again, see kg.extractor).

Reading and hashing 100k letters takes seconds, most of it opening files. Like git's index, the store
keeps each file's hash with its stat signature (size, modification and change times, inode) as the
last build saw it, and a file whose signature has not changed is not read again. Any write to a
file changes its change time, which no program can set back. A file written within the timestamp
granularity of the moment the hashes were saved could be written again without its times moving
("racily clean", in git's words): such files are hashed again."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

LETTER_SUFFIXES = {".txt", ".pdf"}
SUFFIXES = tuple(LETTER_SUFFIXES)
RACY_NS = 2_000_000_000  # coarse filesystems (FAT) keep times to 2 s
Signature = tuple[int, int, int, int]  # size, mtime ns, ctime ns, inode


def collect_inputs(paths: Iterable[Path | str]) -> list[str]:
    """Letter files named directly or found (recursively) in folders, in a stable order, as absolute
    paths (the hashes the store keeps are by absolute path). Strings, not `Path`s: making 100k of
    those takes seconds."""
    files: list[str] = []
    for path in (str(Path(p).absolute()) for p in paths):
        if os.path.isdir(path):
            for top, _, names in sorted(os.walk(path), key=lambda entry: entry[0].split(os.sep)):
                folder = os.path.join(top, "")
                files += [folder + name for name in sorted(names) if name.lower().endswith(SUFFIXES)]
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files


def signature(path: str) -> Signature | None:
    """The stat signature of a file; None if it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


@dataclass
class KnownHashes:
    """Each file's SHA-256 under the signature it had when hashed, and when they were saved."""

    files: dict[str, tuple[Signature, str]] = field(default_factory=dict)
    saved_ns: int = 0

    def encode(self) -> str:
        return json.dumps({"saved_ns": time.time_ns(), "files": self.files}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> KnownHashes:
        if not text:
            return cls()
        data = json.loads(text)
        return cls({p: (tuple(s), h) for p, (s, h) in data["files"].items()}, data["saved_ns"])  # type: ignore[misc]

    def trusted(self, sig: Signature) -> bool:
        """Whether the file had its signature well before the hashes were saved (not racy)."""
        return max(sig[1], sig[2]) < self.saved_ns - RACY_NS

    def lookup(self, path: str, sig: Signature) -> str | None:
        """The known hash of the file, if its signature is unchanged and was not racy."""
        known = self.files.get(path)
        return known[1] if known is not None and known[0] == sig and self.trusted(sig) else None

    def updated(self, files: list[str], signatures: list[Signature | None], hashes: list[str | None]) -> KnownHashes:
        """The hashes to keep: these files', and the others' that are still trusted (another folder
        built into the same store)."""
        now = {p: (s, h) for p, s, h in zip(files, signatures, hashes, strict=True) if s and h}
        others = {p: e for p, e in self.files.items() if p not in now and self.trusted(e[0])}
        return KnownHashes(others | now)


def source_hashes(paths: list[str]) -> list[str | None]:
    """SHA-256 of each file's bytes; None for a file that cannot be read (the parser reports it)."""
    hashes: list[str | None] = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                hashes.append(hashlib.sha256(f.read()).hexdigest())
        except OSError:
            hashes.append(None)
    return hashes


def hashing(files: list[str], known: KnownHashes, pool: ProcessPoolExecutor | None,
            jobs: int) -> Callable[[], tuple[list[str | None], KnownHashes]]:
    """Start hashing the files whose signature `known` does not hold (in the pool's processes if
    there is one, and there are many); the returned function waits for them, and gives every file's
    hash and the hashes to keep for the next build."""
    signatures = [signature(p) for p in files]
    hashes: list[str | None] = [None if s is None else known.lookup(p, s)
                                  for p, s in zip(files, signatures, strict=True)]
    todo = [i for i, h in enumerate(hashes) if h is None]
    paths = [files[i] for i in todo]
    futures: list[Future[list[str | None]]] = []
    if pool is not None and len(paths) >= 100:
        step = len(paths) // (4 * jobs) + 1
        futures = [pool.submit(source_hashes, paths[i:i + step]) for i in range(0, len(paths), step)]
    else:
        fresh = source_hashes(paths)

    def result() -> tuple[list[str | None], KnownHashes]:
        found = [h for f in futures for h in f.result()] if futures else fresh
        for i, h in zip(todo, found, strict=True):
            hashes[i] = h
        return hashes, known.updated(files, signatures, hashes)

    return result
