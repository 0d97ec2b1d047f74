"""Which extractor made a letter's facts, so that a rebuild knows what it may skip.

The fingerprint hashes the code and data that turn a file into quads (parser, vocabularies, graph
mapping, shapes, ontology, tally and table queries, the drug dictionary's version). A file's
extraction key combines that fingerprint, whether SHACL checked the letter, and the file's
SHA-256: a rebuild reads a file again only if its key is not in the store's manifest, so editing
a letter, or upgrading kg, re-extracts it, and nothing else does."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from kg import __version__
from kg.kept import kept_queries
from kg.resources import data_dir

_PACKAGE = Path(__file__).resolve().parent
# Not the code that only reads the store (kg.answer, kg.kept_tables, ...), nor the kept rows'
# indexes (kg.kept_index has a format of its own): a change there re-extracts nothing.
_SOURCES = ("parser", "vocab", "graph.py", "record.py", "validate.py", "iris.py", "namespaces.py", "tally.py",
            "kept.py", "queries.py")  # kept.py, queries.py: which rows letters keep, and how they are written
_DEPENDENCIES = ("drug-named-entity-recognition", "pyshacl")


def _files() -> list[Path]:
    files: list[Path] = []
    for name in _SOURCES:
        path = _PACKAGE / name
        files += sorted(p for p in path.rglob("*") if p.suffix in {".py", ".json"}) if path.is_dir() else [path]
    return files + sorted(data_dir("shapes").glob("*.ttl")) + sorted(data_dir("ontology").glob("*.ttl")) + \
        sorted((data_dir("queries") / "tallies").glob("*.rq")) + \
        sorted(q.path for q in kept_queries().values())


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def source_digest(paths: Iterable[Path], seed: str) -> str:
    """SHA-256 over `seed` and files (name and bytes)."""
    digest = hashlib.sha256(seed.encode())
    for path in paths:
        digest.update(f"\n{path.relative_to(path.parents[1])}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def fingerprint() -> str:
    """SHA-256 over the extractor's files (name and bytes) and its dependencies' versions."""
    versions = "".join(f"\n{package} {_version(package)}" for package in _DEPENDENCIES)
    return source_digest(_files(), f"kg {__version__}{versions}")


def extraction_key(source_sha256: str, validated: bool = True) -> str:
    """The key of a file with this SHA-256 under the current extractor, with or without the SHACL
    check (a letter loaded unchecked is checked when a build with the check comes)."""
    check = "checked" if validated else "unchecked"
    return hashlib.sha256(f"{fingerprint()} {check} {source_sha256}".encode()).hexdigest()
