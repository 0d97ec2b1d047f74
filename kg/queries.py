"""Named SPARQL queries (queries/*.rq): discovery, typed parameter binding, and their solutions as
tables. Running them over a store is kg.answer's."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pyoxigraph as ox

from kg.namespaces import XSD, XSD_STRING
from kg.parser.medications import generics_named
from kg.resources import data_dir

_HEADER = re.compile(r"^#\s*(?P<key>[a-z-]+):\s*(?P<value>.*)$", re.I)
_CONTINUATION = re.compile(r"^#\s{2,}(?P<value>\S.*)$")
# "# param: medication medication required -- a generic name or a brand"
_PARAM = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>string|words|integer|decimal|date|iri|medication)\s+"
                    r"(?:(?P<required>required)|default=(?P<default>\S+))\s*(?:--\s*(?P<doc>.*))?$", re.I)


class QueryError(ValueError):
    """A query that cannot be run as asked: unknown name, missing or ill-typed parameter."""


class TooManyRows(QueryError):
    """A result over the number of rows the caller accepts."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(f"the result has more than {max_rows} rows")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    required: bool
    default: str | None
    doc: str

    def bind(self, text: str) -> ox.NamedNode | ox.Literal:
        """The user's text as a typed RDF term: never pasted into the query string."""
        try:
            if self.type == "iri":
                if not re.fullmatch(r"[a-z][a-z0-9+.-]*:[^\s<>\"{}|\\^`]+", text, re.I):
                    raise ValueError("not an absolute IRI")
                return ox.NamedNode(text)
            if self.type == "integer":
                return ox.Literal(str(int(text)), datatype=ox.NamedNode(XSD + "integer"))
            if self.type == "decimal":
                return ox.Literal(str(float(text)), datatype=ox.NamedNode(XSD + "decimal"))
            if self.type == "date":
                return ox.Literal(dt.date.fromisoformat(text).isoformat(), datatype=ox.NamedNode(XSD + "date"))
            if self.type == "medication":
                return ox.Literal(_generic(text))
            if self.type == "words":  # as the parser writes a label: lowercase, one space between words
                return ox.Literal(" ".join(text.split()).lower())
        except ValueError as exc:
            raise QueryError(f"parameter {self.name}: {text!r} is not a valid {self.type} ({exc})") from exc
        return ox.Literal(text)


def _generic(name: str) -> str:
    """A medication's generic name as the graph has it, from a brand ('Soma': carisoprodol) or the
    generic itself; a name the vocabulary lacks as it is (lowercase). A combination has no one name."""
    generics = generics_named(name)
    if len(generics) > 1:
        raise ValueError(f"it names {' and '.join(generics)}: ask for one of them")
    return generics[0] if generics else " ".join(name.split()).lower()


@dataclass(frozen=True)
class NamedQuery:
    """A query file with its comment header: title, description, parameters, multivalued columns."""

    name: str
    path: Path
    sparql: str
    title: str
    description: str
    example: str
    parameters: tuple[Parameter, ...]
    multivalued: frozenset[str]
    per_letter: bool = False  # rows about one letter each, ordered by ?letter first (see kg.kept)
    words_in: str = ""  # a kept query whose rows answer this one, by words in their values (kg.kept)

    @property
    def example_params(self) -> dict[str, str]:
        """The parameters of the example command (--param NAME=VALUE, or --param "NAME=A VALUE")."""
        words = shlex.split(self.example)
        return dict(w.split("=", 1) for before, w in pairwise(words) if before in ("--param", "-p"))

    def substitutions(self, given: dict[str, str]) -> dict[ox.Variable, ox.NamedNode | ox.Literal]:
        """Typed bindings for the query's parameters from user text; unknown or missing ones fail."""
        known = {p.name: p for p in self.parameters}
        unknown = set(given) - set(known)
        if unknown:
            raise QueryError(f"query {self.name!r} has no parameter {', '.join(sorted(unknown))}"
                             f" (it takes: {', '.join(known) or 'none'})")
        out: dict[ox.Variable, ox.NamedNode | ox.Literal] = {}
        for p in self.parameters:
            text = given.get(p.name, p.default)
            if text is None:
                raise QueryError(f"query {self.name!r} needs --param {p.name}=... ({p.doc})")
            out[ox.Variable(p.name)] = p.bind(text)
        return out


def without_header(sparql: str) -> str:
    """The query without its comment header: what it asks, whatever its documentation says."""
    lines = sparql.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return "".join(lines[first:])


def _header(sparql: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    params: list[str] = []
    key = None
    for line in sparql.splitlines():
        if not line.startswith("#"):
            break
        cont = _CONTINUATION.match(line)
        if cont and key:
            fields[key] += " " + cont["value"].strip()
            continue
        m = _HEADER.match(line)
        if m:
            key = m["key"].lower()
            if key == "param":
                params.append(m["value"].strip())
                key = None
            else:
                fields[key] = m["value"].strip()
    fields["param"] = "\n".join(params)
    return fields


def _parameter(text: str) -> Parameter:
    m = _PARAM.match(text)
    if not m:
        raise QueryError(f"malformed parameter declaration: {text!r}")
    return Parameter(m["name"], m["type"].lower(), bool(m["required"]), m["default"], (m["doc"] or "").strip())


def load_query(path: Path) -> NamedQuery:
    sparql = path.read_text(encoding="utf-8")
    h = _header(sparql)
    return NamedQuery(
        name=path.stem,
        path=path,
        sparql=sparql,
        title=h.get("title", path.stem),
        description=h.get("description", ""),
        example=h.get("example", ""),
        parameters=tuple(_parameter(p) for p in h["param"].splitlines() if p),
        multivalued=frozenset(c.strip() for c in h.get("multivalued", "").split(",") if c.strip()),
        per_letter=h.get("per-letter", "").lower() == "yes",
        words_in=h.get("words-in", ""),
    )


def named_query(name: str) -> NamedQuery:
    """The query `name` of queries/, or a path to any .rq/.sparql file."""
    path = Path(name)
    if path.suffix in (".rq", ".sparql") and path.is_file():
        return load_query(path)
    path = data_dir("queries") / f"{name}.rq"
    if not path.is_file():
        raise QueryError(f"no named query {name!r} (see `kg query --list`)")
    return load_query(path)


def all_queries() -> list[NamedQuery]:
    return [load_query(p) for p in sorted(data_dir("queries").glob("*.rq"))]


Term = ox.NamedNode | ox.Literal | ox.BlankNode | ox.Triple | None


@dataclass(frozen=True)
class SelectResult:
    columns: list[str]
    rows: list[list[Term]]


@dataclass(frozen=True)
class GraphResult:
    triples: list[ox.Triple]


QueryResult = SelectResult | GraphResult | bool


def _sorted_multi(term: Term) -> Term:
    """A ';'-joined cell, sorted (numbers numerically) and deduplicated."""
    if not isinstance(term, ox.Literal):
        return term
    parts = [p for p in term.value.split(";") if p]
    if all(p.isdigit() for p in parts):
        return ox.Literal(";".join(str(n) for n in sorted({int(p) for p in parts})))
    return ox.Literal(";".join(sorted(set(parts), key=str.lower)))




def select_result(query: NamedQuery, solutions: ox.QuerySolutions, max_rows: int | None = None) -> SelectResult:
    """The solutions of `query` as a table (its multivalued cells sorted and deduplicated)."""
    columns = [v.value for v in solutions.variables]
    rows = []
    for s in solutions:
        if max_rows is not None and len(rows) == max_rows:
            raise TooManyRows(max_rows)
        rows.append([_sorted_multi(s[c]) if c in query.multivalued else s[c] for c in columns])
    return SelectResult(columns, rows)


def json_term(term: Term) -> dict[str, str]:
    """A term in the SPARQL 1.1 JSON results format."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": str(term)}



def cell(term: Term) -> str:
    """A result term as a table cell: the lexical value, or empty for unbound."""
    return "" if term is None else term.value if not isinstance(term, ox.Triple) else str(term)

