"""Which extractor made a letter's facts, so that a rebuild knows what it may skip.

The fingerprint hashes the code and data that turn a file into quads (parser, vocabularies, graph
mapping, shapes, ontology, tally and table queries, the drug dictionary's version). A file's
extraction key combines that fingerprint, whether SHACL checked the letter, and the file's
SHA-256: a rebuild reads a file again only if its key is not in the store's manifest, so editing
a letter, or upgrading kg, re-extracts it, and nothing else does."""

from __future__ import annotations

import ast
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
            "kept.py", "queries.py", "summaries.py")  # kept.py, queries.py, summaries.py: which rows and counts
# letters keep, how they are made and written
_DEPENDENCIES = ("drug-named-entity-recognition", "pyshacl", "pyspellchecker")


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
    """SHA-256 over `seed` and files (name and `code`)."""
    digest = hashlib.sha256(seed.encode())
    for path in paths:
        digest.update(f"\n{path.relative_to(path.parents[1])}\n".encode())
        digest.update(code(path))
    return digest.hexdigest()


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def code(path: Path) -> bytes:
    """What a file gives a digest: a Python module's syntax tree without its docstrings, so that
    editing a comment, a docstring or the layout does not make a store extract 100k letters again
    (~30 min) or make its indexes again; any other file's bytes."""
    if path.suffix != ".py":
        return path.read_bytes()
    tree = ast.parse(path.read_bytes(), str(path))
    _without_docstrings([tree])
    return ast.dump(tree).encode()


def _without_docstrings(statements: Iterable[ast.AST]) -> None:
    """Drop the docstrings of these statements and of those nested in them (a walk of statements
    only: ast.walk over every expression took twice as long as parsing)."""
    for node in statements:
        body = getattr(node, "body", None)
        if isinstance(node, _DOCUMENTED) and body and isinstance(first := body[0], ast.Expr) \
                and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = body[1:] or [ast.Pass()]
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            nested = getattr(node, field, None)
            if isinstance(nested, list):
                _without_docstrings(nested)


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
