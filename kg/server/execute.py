"""What a query worker does with one request: run it on the store, cap it, serialize it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from kg import kept_tables
from kg.answer import run
from kg.namespaces import XSD_STRING
from kg.queries import QueryError, SelectResult, TooManyRows, named_query
from kg.results import json_result, sparql_json
from kg.store import Store
from kg.text_index import MOST_DECISIONS

SOLUTION_TYPES = {
    "application/sparql-results+json": "json", "application/json": "json",
    "application/sparql-results+xml": "xml", "application/xml": "xml",
    "text/csv": "csv", "text/tab-separated-values": "tsv",
}
GRAPH_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES, "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}
_CONTENT_TYPE = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
                 "csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8"}

Reply = tuple[int, str, bytes | Iterator[bytes]]  # an iterator: a large answer, sent as it is read
DIAGNOSIS_ROWS = "cases-with-diagnosis"  # the kept query whose index is keyed by diagnosis label


class StoreChanged(Exception):
    """The handle's files went away under it: another process compacted the store meanwhile."""


def negotiate(accept: str, offered: list[str]) -> str | None:
    """The offered media type the Accept header likes best (first offered on ties), or None."""
    if not accept.strip():
        return offered[0]
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        ranked.append((q, -i, media.lower()))
    for q, _, media in sorted(ranked, reverse=True):
        if q <= 0:
            continue
        if media in ("*/*", "application/*", "text/*"):
            prefix = media.split("/")[0]
            match = next((o for o in offered if media == "*/*" or o.startswith(prefix + "/")), None)
            if match:
                return match
        elif media in offered:
            return media
    return None


def _text(status: int, message: str) -> Reply:
    return status, "text/plain; charset=utf-8", (message + "\n").encode()


def execute(store: Store, request: dict[str, Any], max_rows: int) -> Reply:
    """Answer one request; every failure becomes an HTTP status and a plain message."""
    try:
        if request["kind"] == "named":
            return _named(store, request, max_rows)
        if request["kind"] == "letter-index":
            return _letter_index(store)
        if request["kind"] == "diagnosis-labels":
            return _diagnosis_labels(store, str(request["words"]))
        if request["kind"] == "text-decisions":
            found = store.decisions_with_words(str(request["words"]), MOST_DECISIONS)
            return 200, "application/json", json.dumps(found).encode()
        if request["kind"] == "facet-page":  # GraphQL's filters: a count and a page from the index of their values
            found = store.page_matching(dict(request["given"]), str(request["of"]), int(request["offset"]),
                                        int(request["limit"]), bool(request.get("count", True)))
            return 200, "application/json", json.dumps(found).encode()
        return _sparql(store, request, max_rows)
    except SyntaxError as exc:
        return _text(400, f"malformed query: {exc}")
    except QueryError as exc:
        return _text(400, str(exc))
    except OSError as exc:  # RocksDB's I/O errors: a read-only handle's files are not written
        raise StoreChanged(str(exc)) from exc
    except Exception as exc:  # never leak a traceback to the client
        return _text(500, f"query failed: {type(exc).__name__}")


def _sparql(store: Store, request: dict[str, Any], max_rows: int) -> Reply:
    kwargs: dict[str, Any] = {}
    if request.get("default_graphs"):
        kwargs["default_graph"] = [ox.NamedNode(g) for g in request["default_graphs"]]
    if request.get("named_graphs"):
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in request["named_graphs"]]
    result = store.query(request["query"], **kwargs)
    accept = request.get("accept", "")
    if isinstance(result, ox.QueryTriples):
        media = negotiate(accept, list(GRAPH_TYPES))
        if media is None:
            return _text(406, f"no acceptable RDF format; offered: {', '.join(GRAPH_TYPES)}")
        triples = _capped(result, max_rows)
        if triples is None:
            return _text(422, f"the result has more than {max_rows} triples; narrow the query")
        return 200, media, ox.serialize(triples, format=GRAPH_TYPES[media])
    media = negotiate(accept, list(SOLUTION_TYPES))
    if media is None:
        return _text(406, f"no acceptable results format; offered: {', '.join(SOLUTION_TYPES)}")
    fmt = SOLUTION_TYPES[media]
    if isinstance(result, ox.QueryBoolean):
        return 200, _CONTENT_TYPE[fmt], _boolean(bool(result), fmt)
    columns = [v.value for v in result.variables]
    rows = _capped(([s[c] for c in columns] for s in result), max_rows)
    if rows is None:
        return _text(422, f"the result has more than {max_rows} rows; add LIMIT or narrow the query")
    return 200, _CONTENT_TYPE[fmt], serialize_solutions(SelectResult(columns, rows), fmt)


def _letter_index(store: Store) -> Reply:
    """Every letter id in order with its number of decisions (JSON), for paging GraphQL lists
    without sorting the store; `null` while the tallies that hold the counts are incomplete."""
    if not store.tallies_complete():
        return 200, "application/json", b"null"
    counts = store.letter_decision_counts()
    return 200, "application/json", json.dumps(sorted(counts.items())).encode()


def _diagnosis_labels(store: Store, words: str) -> Reply:
    """The distinct diagnosis labels that hold `words` (JSON), read from the keys of the index of
    cases-with-diagnosis's kept rows instead of every diagnosis of the store; `null` without one."""
    values = store.kept_values(DIAGNOSIS_ROWS) if store.tallies_complete() else None
    if values is None:
        return 200, "application/json", b"null"
    return 200, "application/json", json.dumps([v.value for v in kept_tables.values_containing(values, words)]).encode()


def _named(store: Store, request: dict[str, Any], max_rows: int) -> Reply:
    query, params = named_query(request["name"]), request.get("params") or {}
    media = negotiate(request.get("accept", ""), list(SOLUTION_TYPES))
    if media is None:
        return _text(406, f"no acceptable results format; offered: {', '.join(SOLUTION_TYPES)}")
    fmt = SOLUTION_TYPES[media]
    try:
        if fmt == "json":  # a kept table from its index of bindings, sent a chunk at a time as it is read
            pieces = json_result(store, query, params, max_rows)
            if kept_tables.whole(query, params):
                return 200, _CONTENT_TYPE[fmt], (piece.encode() for piece in pieces)
            return 200, _CONTENT_TYPE[fmt], "".join(pieces).encode()
        result = run(store, query, params, max_rows)
    except TooManyRows as exc:
        return _text(422, str(exc))
    except QueryError:
        raise
    except ValueError:  # a CONSTRUCT has no results format
        return _text(400, "named queries over HTTP must be SELECT or ASK")
    if isinstance(result, bool):
        return 200, _CONTENT_TYPE[fmt], _boolean(result, fmt)
    if not isinstance(result, SelectResult):
        return _text(400, "named queries over HTTP must be SELECT or ASK")
    return 200, _CONTENT_TYPE[fmt], serialize_solutions(result, fmt)


def _capped(items: Any, cap: int) -> list | None:
    out = []
    for item in items:
        out.append(item)
        if len(out) > cap:
            return None
    return out


def _boolean(value: bool, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if fmt == "xml":
        return (f'<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
                f"<boolean>{'true' if value else 'false'}</boolean></sparql>\n").encode()
    return f"_askResult\n{'true' if value else 'false'}\n".encode()


def serialize_solutions(result: SelectResult, fmt: str) -> bytes:
    """SPARQL 1.1 results in JSON, XML, CSV (plain values) or TSV (terms in Turtle syntax)."""
    if fmt == "json":
        return sparql_json(result).encode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(result.columns)
        writer.writerows([["" if t is None else t.value for t in row] for row in result.rows])
        return out.getvalue().encode()
    if fmt == "tsv":
        lines = ["\t".join("?" + c for c in result.columns)]
        lines += ["\t".join("" if t is None else str(t) for t in row) for row in result.rows]
        return ("\n".join(lines) + "\n").encode()
    return _xml(result)


def _xml(result: SelectResult) -> bytes:
    out = ['<?xml version="1.0"?>', '<sparql xmlns="http://www.w3.org/2005/sparql-results#">', "<head>"]
    out += [f"<variable name={quoteattr(c)}/>" for c in result.columns]
    out += ["</head>", "<results>"]
    for row in result.rows:
        out.append("<result>")
        for c, t in zip(result.columns, row, strict=True):
            if t is None:
                continue
            if isinstance(t, ox.NamedNode):
                inner = f"<uri>{escape(t.value)}</uri>"
            elif isinstance(t, ox.BlankNode):
                inner = f"<bnode>{escape(t.value)}</bnode>"
            elif isinstance(t, ox.Literal) and t.language:
                inner = f"<literal xml:lang={quoteattr(t.language)}>{escape(t.value)}</literal>"
            elif isinstance(t, ox.Literal) and t.datatype.value == XSD_STRING:
                inner = f"<literal>{escape(t.value)}</literal>"
            elif isinstance(t, ox.Literal):
                inner = f"<literal datatype={quoteattr(t.datatype.value)}>{escape(t.value)}</literal>"
            else:
                inner = f"<literal>{escape(str(t))}</literal>"
            out.append(f"<binding name={quoteattr(c)}>{inner}</binding>")
        out.append("</result>")
    out += ["</results>", "</sparql>"]
    return "\n".join(out).encode()
