"""Locate the data directories (ontology, shapes, queries, samples) in a checkout or a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory `name` (ontology, shapes or queries) wherever it was installed."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"kg data directory {name!r} not found next to {_PACKAGE}")


def samples_dir() -> Path:
    """The bundled sample corpus of real letters."""
    return _PACKAGE / "samples"
