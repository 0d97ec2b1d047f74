"""Query results in the formats users ask for: table, CSV, TSV, SPARQL JSON, Turtle/N-Triples."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pyoxigraph as ox
from rich.console import Console
from rich.table import Table

from kg import kept, kept_index, kept_tables
from kg.answer import run, words_answer
from kg.kept_index import csv_lines
from kg.namespaces import PREFIXES
from kg.queries import GraphResult, NamedQuery, QueryResult, SelectResult, TooManyRows, cell, json_term

if TYPE_CHECKING:
    from kg.store import Store

SELECT_FORMATS = ("table", "csv", "tsv", "json")
GRAPH_FORMATS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "jsonld": ox.RdfFormat.JSON_LD}


def to_csv(columns: list[str], rows: Iterable[list[str]], delimiter: str = ",") -> str:
    return csv_lines([columns], delimiter) + csv_lines(rows, delimiter)


def csv_result(store: Store, query: NamedQuery, params: dict[str, str] | None = None, delimiter: str = ",") -> str:
    """A query's result as CSV, or TSV with a tab `delimiter` (`render`). A kept query without
    parameters is printed from the store's index of its rows (kg.kept_index), and a `words-in` one from
    the kept rows it is made of, without making them into terms."""
    if kept_tables.whole(query, params) and store.tallies_complete():
        body = delimited(store.kept_csv(query.name), delimiter)
        if body is None:
            body = csv_lines(store.kept(query.name).cells(), delimiter)
        return csv_lines([kept.columns(query.name)], delimiter) + body
    if (answer := words_answer(store, query, params)) is not None:
        names, rows = answer
        return to_csv(names, kept_index.cells_of(rows), delimiter)
    return render(run(store, query, params), "csv" if delimiter == "," else "tsv")  # type: ignore[return-value]


class _Pieces(list[str]):
    """A file for csv.writer that keeps each row it writes as a piece of its own."""

    write = list.append


def delimited(lines: str, delimiter: str) -> str | None:
    """CSV lines written again with another delimiter: the runs of records without quotes or the
    delimiter by replacing their commas, the others (7% of decisions) read back and written again
    by the csv module, which gives each field as it was written. None if the lines hold a carriage
    return: csv writes a lone one unquoted, so it cannot be read back."""
    if delimiter == ",":
        return lines
    if "\r" in lines:
        return None
    out: list[str] = []
    quoted: list[tuple[int, str]] = []  # where in `out`, the record
    done = 0  # lines[:done] are in `out`
    while done < len(lines):
        quote = lines.find('"', done)
        start = len(lines) if quote == -1 else max(lines.rfind("\n", done, quote) + 1, done)
        plain = lines[done:start]  # whole records without quotes
        if delimiter in plain:
            for record in plain.split("\n")[:-1]:  # (not splitlines: a cell may hold U+2028)
                quoted.append((len(out), record + "\n"))
                out.append("")
        else:
            out.append(plain.replace(",", delimiter))
        if quote != -1:
            done = _record_end(lines, quote)
            quoted.append((len(out), lines[start:done]))
            out.append("")
        else:
            done = start
    rewritten = _Pieces()
    csv.writer(rewritten, delimiter=delimiter, lineterminator="\n").writerows(csv.reader(r for _, r in quoted))
    for (at, _), piece in zip(quoted, rewritten, strict=True):
        out[at] = piece
    return "".join(out)


def _record_end(lines: str, quote: int) -> int:
    """Where the CSV record with an opening quote at `quote` ends: after the first line break
    outside quotes (a doubled quote in a field closes and opens them again)."""
    at = quote
    while True:
        at = lines.index('"', at + 1)  # the closing quote
        newline, again = lines.find("\n", at + 1), lines.find('"', at + 1)
        if newline == -1:
            return len(lines)
        if again == -1 or newline < again:
            return newline + 1
        at = again


def json_result(store: Store, query: NamedQuery, params: dict[str, str] | None = None,
                max_rows: int | None = None) -> Iterator[str]:
    """A query's result as SPARQL JSON, in pieces (TooManyRows past `max_rows`). A kept query
    without parameters is written from the store's index of its rows' bindings a chunk at a time:
    without making terms, in bounded memory; a `words-in` one from the encoded rows it is made of."""
    if kept_tables.whole(query, params) and store.tallies_complete():
        if max_rows is not None and store.kept(query.name).more_than(max_rows):
            raise TooManyRows(max_rows)
        return sparql_json_pieces(kept.columns(query.name), store.kept_bindings(query.name))
    if (answer := words_answer(store, query, params, max_rows)) is not None:
        names, rows = answer
        return sparql_json_pieces(names, (kept_index.binding_text(names, rows),))
    return iter((render(run(store, query, params, max_rows), "json"),))  # type: ignore[arg-type]


def sparql_json(result: SelectResult | bool) -> str:
    """SPARQL 1.1 Query Results JSON, one line."""
    if isinstance(result, bool):
        return json.dumps({"head": {}, "boolean": result}) + "\n"
    bindings = ("".join(json.dumps({c: json_term(t) for c, t in zip(result.columns, row, strict=True) if t is not None},
                                   separators=(",", ":")) + "," for row in result.rows),)
    return "".join(sparql_json_pieces(result.columns, bindings))


def sparql_json_pieces(columns: list[str], bindings: Iterable[str]) -> Iterator[str]:
    """A SELECT result in SPARQL 1.1 Query Results JSON from runs of its bindings (each binding
    followed by a comma), in pieces; one line."""
    yield json.dumps({"head": {"vars": columns}, "results": {"bindings": []}}, separators=(",", ":"))[:-3]
    last = ""
    for piece in bindings:
        if piece:
            if last:
                yield last
            last = piece
    yield last[:-1] + "]}}\n"


def render(result: QueryResult, fmt: str, console: Console | None = None) -> str | bytes | None:
    """Text or bytes of `result` in `fmt`; for 'table', print to `console` and return None."""
    if isinstance(result, GraphResult):
        if fmt not in GRAPH_FORMATS:
            raise ValueError(f"a CONSTRUCT/DESCRIBE result is RDF: use --format {'|'.join(GRAPH_FORMATS)}")
        return ox.serialize(result.triples, format=GRAPH_FORMATS[fmt], prefixes=PREFIXES)
    if fmt not in SELECT_FORMATS:
        raise ValueError(f"a SELECT/ASK result is a table: use --format {'|'.join(SELECT_FORMATS)}")
    if fmt == "json":
        return sparql_json(result)
    if isinstance(result, bool):
        return ("true" if result else "false") + "\n"
    rows = [[cell(t) for t in row] for row in result.rows]
    if fmt in ("csv", "tsv"):
        return to_csv(result.columns, rows, "," if fmt == "csv" else "\t")
    table = Table(*result.columns, show_lines=False)
    for row in rows:
        table.add_row(*row)
    (console or Console()).print(table)
    return None
