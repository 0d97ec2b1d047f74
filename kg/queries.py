"""Named SPARQL queries (queries/*.rq): discovery, safe parameter binding, and tabular results."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg.resources import data_dir
from kg.store import Store

_HEADER = re.compile(r"^#\s*(?P<key>[a-z-]+):\s*(?P<value>.*)$", re.I)


@dataclass(frozen=True)
class NamedQuery:
    """A query file with its comment header: title, description, multivalued columns."""

    name: str
    path: Path
    sparql: str
    title: str
    multivalued: frozenset[str]


def named_query(name: str) -> NamedQuery:
    """The query `name` of queries/, or a path to any .rq file."""
    path = Path(name)
    if not (path.suffix == ".rq" and path.is_file()):
        path = data_dir("queries") / f"{name}.rq"
    if not path.is_file():
        raise KeyError(f"no named query {name!r}")
    sparql = path.read_text(encoding="utf-8")
    header = {m["key"].lower(): m["value"].strip()
              for m in map(_HEADER.match, sparql.splitlines()) if m}
    multivalued = frozenset(c.strip() for c in header.get("multivalued", "").split(",") if c.strip())
    return NamedQuery(path.stem, path, sparql, header.get("title", path.stem), multivalued)


def cell(term: ox.NamedNode | ox.Literal | ox.BlankNode | None) -> str:
    """A result term as a table cell: the lexical value, or empty for unbound."""
    return "" if term is None else term.value


def _sorted_multi(value: str) -> str:
    parts = [p for p in value.split(";") if p]
    if all(p.isdigit() for p in parts):
        return ";".join(str(n) for n in sorted({int(p) for p in parts}))
    return ";".join(sorted(set(parts), key=str.lower))


def table_rows(store: Store, query: NamedQuery) -> tuple[list[str], list[list[str]]]:
    """Run a SELECT query; multivalued cells come back ';'-joined and sorted (numbers numerically)."""
    solutions = store.query(query.sparql)
    if not isinstance(solutions, ox.QuerySolutions):
        raise ValueError(f"query {query.name!r} is not a SELECT query")
    columns = [v.value for v in solutions.variables]
    rows = []
    for solution in solutions:
        row = [cell(solution[c]) for c in columns]
        rows.append([_sorted_multi(v) if c in query.multivalued else v for c, v in zip(columns, row, strict=True)])
    return columns, rows


def to_csv(columns: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()
