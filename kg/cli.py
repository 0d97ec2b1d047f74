"""The `kg` command line: a thin layer that parses options and calls one library function each."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from kg import memory
from kg.answer import run, table_rows
from kg.queries import QueryError, all_queries, named_query
from kg.resources import samples_dir
from kg.results import csv_result, json_result, render
from kg.store import DUMP_FORMATS, Store, StoreUnavailable, open_store

if TYPE_CHECKING:
    from kg.build import BuildReport
    from kg.remote import RemoteStore

app = typer.Typer(help="Build and query a knowledge graph of California IMR determination letters.",
                  no_args_is_help=True, add_completion=False,
                  rich_markup_mode="markdown")  # reflows docstrings, as `kg --help` lists them
err = Console(stderr=True, soft_wrap=True)

StoreOption = Annotated[str, typer.Option("--store", help="Directory of the embedded store, or the URL of a "
                                          "SPARQL 1.1 server (Oxigraph, Fuseki).")]
DEFAULT_STORE = "kg-store"
TABLES = ("decisions", "cases")  # the named queries `kg table` prints, both kept per letter (kg.kept)


@app.callback()
def main() -> None:
    """Build and query a knowledge graph of California IMR determination letters."""
    memory.cap_arenas()  # before any store starts its threads (see kg.memory)


def _opened(store: str, read_only: bool = False) -> Store:
    """The store, or exit 2 with the reason it cannot be used (no store there, no server answering
    at the URL, a server that kg's queries would read nothing from)."""
    try:
        return open_store(store, read_only=read_only)  # type: ignore[return-value]
    except (FileNotFoundError, StoreUnavailable) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _open(store: str) -> Store:
    opened = _opened(store, read_only=True)
    if isinstance(opened, Store) and opened.kept_indexes_outdated():
        err.print("[yellow]warning:[/yellow] this store's table indexes were written by another version of kg: "
                  "whole tables are read letter by letter (slower) until `kg build` makes them again "
                  "(it reads no unchanged letter)")
    return opened  # type: ignore[return-value]


class _BarSteps:
    """Advances a progress bar by the letters read, at most every 0.1 s: rich takes ~5 us a call,
    0.5 s of a 100k-letter rebuild that reads no letter."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress, self.task = progress, task
        self.pending = 0
        self.shown = time.monotonic()

    def __call__(self, _name: str) -> None:
        self.pending += 1
        if time.monotonic() - self.shown > 0.1:
            self.flush()

    def flush(self) -> None:
        self.progress.advance(self.task, self.pending)
        self.pending, self.shown = 0, time.monotonic()


def _progress_lines(total: int, every: int = 5_000) -> Callable[[str], None]:
    """Without a terminal (a log file, CI), a line every `every` letters instead of a progress bar."""
    started = time.perf_counter()
    done = 0

    def advance(_name: str) -> None:
        nonlocal done
        done += 1
        if done % every == 0 and done < total:
            rate = done / (time.perf_counter() - started)
            err.print(f"{done}/{total} letters read ({rate:.0f}/s)")
    return advance


@app.command()
def build(
    letters: Annotated[list[Path] | None, typer.Argument(
        help="Letter files (.txt, .pdf) and/or folders of them.", show_default=False)] = None,
    store: StoreOption = DEFAULT_STORE,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="Parser processes (0: one per core).")] = 0,
    sample: Annotated[bool, typer.Option("--sample", help="Also build the bundled sample letters.")] = False,
    validate: Annotated[bool, typer.Option("--validate/--no-validate",
                                           help="Check each letter's graph with the SHACL shapes; a letter "
                                                "that violates them is rejected, not loaded.")] = True,
    optimize: Annotated[bool, typer.Option("--optimize/--no-optimize",
                                           help="Compact the store after a build that rewrote half of its "
                                                "letters or more (see `kg optimize`).")] = True,
) -> None:
    """Parse letters into the store. Exit 0 if every letter was accepted, 1 if any was rejected,
    2 on a usage error."""
    letters = list(letters or []) + ([samples_dir()] if sample else [])
    if not letters:
        err.print("[red]error:[/red] name letter files or folders, or pass --sample")
        raise typer.Exit(2)
    from kg.build import build_files  # the parser loads its drug dictionary (~3 s): builds only
    from kg.sources import collect_inputs

    try:
        files = collect_inputs(letters)
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    with _opened(store) as kg_store:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, disable=not err.is_terminal) as progress:
            task = progress.add_task("parsing letters", total=len(files))
            bar = _BarSteps(progress, task)
            try:
                report = build_files(files, kg_store, jobs=jobs or os.cpu_count() or 1, validate=validate,
                                     on_letter=bar if err.is_terminal else _progress_lines(len(files)))
            except StoreUnavailable as exc:  # found on its first write (kg.remote)
                err.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(2) from exc
            bar.flush()
        _print_build_report(report)
        compact = optimize and report.compaction_due and isinstance(kg_store, Store)
    if compact:
        err.print(f"compacting the store: this build rewrote {report.rewritten:,} of its "
                  f"{report.store_letters:,} letters (--no-optimize skips this)")
        # on the store opened again: closing it let RocksDB free what the write held, and
        # kg.memory trims that back to the system (100k letters: 693 -> 171 MB)
        with _opened(store) as kg_store:
            _compact(kg_store)
    raise typer.Exit(0 if report.ok else 1)


def _print_build_report(report: BuildReport) -> None:
    if report.repaired:
        plural = "s" if len(report.repaired) > 1 else ""
        err.print(f"dropped {len(report.repaired)} incomplete letter{plural} of an interrupted build: "
                  f"{', '.join(report.repaired[:10])}{' ...' if len(report.repaired) > 10 else ''}")
    err.print(f"letters read: {report.read}, accepted: {report.accepted} "
              f"({report.unchanged} unchanged), rejected: {len(report.rejected)}"
              + (f" ({report.remembered} as in an earlier build, not read again)" if report.remembered else ""))
    if report.rejected:  # one call, as plain text: a reason may hold brackets, and 1k lines took rich 1.4 s
        err.print("\n".join(f"  rejected {r.name}: {r.reason}" for r in report.rejected),
                  markup=False, highlight=False, soft_wrap=True)
    if report.warnings:
        from kg.validate import summary_line

        err.print(f"SHACL warnings (letters kept): {summary_line(report.warnings)}; see `kg validate`")
    err.print(f"decisions in the letters parsed: {report.decisions}, quads written: {report.triples}, "
              f"time: {report.seconds:.1f} s")


def _compact(kg_store: Store | RemoteStore) -> None:
    """Compact an embedded store, saying how long it took and the size it freed."""
    if not isinstance(kg_store, Store):
        err.print("a remote store manages its own storage: nothing to compact")
        return
    before, started = kg_store.disk_bytes(), time.perf_counter()
    kg_store.optimize()
    err.print(f"compacted the store in {time.perf_counter() - started:.1f} s: "
              f"{_size(before)} -> {_size(kg_store.disk_bytes())}")


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


@app.command()
def remove(
    letters: Annotated[list[str], typer.Argument(help="Letter ids (file names without extension).")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Drop letters (their named graphs) from the store. Exit 1 if any was not there."""
    with _opened(store) as kg_store, kg_store.writing():  # type: ignore[attr-defined]
        missing = [lid for lid in letters if not kg_store.remove_letter(lid)]
    for lid in missing:
        err.print(f"not in the store: {lid}")
    err.print(f"removed {len(letters) - len(missing)} letter(s)")
    raise typer.Exit(1 if missing else 0)


@app.command()
def optimize(store: StoreOption = DEFAULT_STORE) -> None:
    """Compact the embedded store. Reads slow down after writes that replace much of it (`kg build`
    compacts by itself after rewriting half of its letters or more); a few minutes at 100k letters."""
    _open(store).close()  # exit 2 if there is no store there, rather than make an empty one
    with _opened(store) as kg_store:
        _compact(kg_store)


@app.command()
def dump(
    store: StoreOption = DEFAULT_STORE,
    fmt: Annotated[str, typer.Option("--format", "-f", help="ttl, nt, nq, trig or jsonld.")] = "ttl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
) -> None:
    """Write the whole graph as RDF (nq and trig keep one named graph per letter)."""
    if fmt not in DUMP_FORMATS:
        err.print(f"[red]error:[/red] unknown format {fmt!r}; choose from {', '.join(DUMP_FORMATS)}")
        raise typer.Exit(2)
    kg_store = _open(store)
    if output is None:
        kg_store.dump(sys.stdout.buffer, fmt)
        sys.stdout.buffer.flush()
    else:
        with Path(output).open("wb") as out:
            kg_store.dump(out, fmt)


@app.command()
def table(
    name: Annotated[str, typer.Argument(help="decisions (one row per disputed item) or cases (one per letter).")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Print a table as CSV: the rows of the named SPARQL query of the same name, as each letter kept
    them when it was built (or from the query itself, on a store built before letters kept them)."""
    if name not in TABLES:
        err.print(f"[red]error:[/red] unknown table {name!r}; choose {' or '.join(TABLES)}")
        raise typer.Exit(2)
    sys.stdout.write(csv_result(_open(store), named_query(name)))


@app.command()
def query(
    name: Annotated[str | None, typer.Argument(help="A named query of queries/ or a path to a .rq file.",
                                               show_default=False)] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="table, csv, tsv, json; ttl, nt, jsonld "
                                            "for CONSTRUCT (default: table on a terminal, else csv).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the named queries and their parameters.")] = False,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Run a named SPARQL query (or any SPARQL file) over the store. Parameters are bound as typed
    values, never pasted into the query."""
    if list_ or name is None:
        for q in all_queries():
            params = " ".join(f"{p.name}=<{p.type}{'' if p.required else ', default ' + str(p.default)}>"
                              for p in q.parameters)
            typer.echo(f"{q.name:32s} {q.title}{'  [' + params + ']' if params else ''}")
        return
    given = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            err.print(f"[red]error:[/red] --param takes NAME=VALUE, got {item!r}")
            raise typer.Exit(2)
        given[key.strip()] = value
    kg_store = _open(store)
    fmt = fmt or ("table" if sys.stdout.isatty() else "csv")
    try:
        query = named_query(name)
        if fmt == "json":
            sys.stdout.writelines(json_result(kg_store, query, given))  # a kept table a chunk at a time
            return
        if fmt in ("csv", "tsv"):  # a kept table from its index, without making terms
            output: str | bytes | None = csv_result(kg_store, query, given, "," if fmt == "csv" else "\t")
        else:
            output = render(run(kg_store, query, given), fmt)
    except (QueryError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if isinstance(output, bytes):
        sys.stdout.buffer.write(output)
    elif output is not None:
        sys.stdout.write(output)


@app.command()
def search(
    words: Annotated[str, typer.Argument(help="Words to find in the items' texts and rationales (any case).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many decisions.")] = 50,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="table, csv, tsv or json "
                                            "(default: table on a terminal, else csv).")] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """The decisions whose item text or rationale holds WORDS, in letter order, with the words in context."""
    from kg.search import search as find

    try:
        found = find(_open(store), words, limit)
        output = render(found.result, fmt or ("table" if sys.stdout.isatty() else "csv"))
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if found.total is not None:
        err.print(f"{found.total} decisions hold {words!r}; {len(found.result.rows)} shown")
    if output is not None:
        sys.stdout.write(output)


@app.command(name="validate")
def validate_command(
    files: Annotated[list[Path] | None, typer.Argument(
        help="RDF files (.ttl, .nt, .nq, .trig, .jsonld) to check instead of the store.", show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, ttl (a sh:ValidationReport) or json.")] = "text",
    store: StoreOption = DEFAULT_STORE,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="Checking processes (0: one per core).")] = 0,
) -> None:
    """Check the store (or RDF files) against the SHACL shapes. Exit 0 if the data conforms (warnings
    allowed), 1 if it does not, 2 on a usage or input error."""
    from kg.parallel import CHUNK_SIZE, chunked
    from kg.validate import json_report, load_files, text_report, validate_graph, validate_letters

    if fmt not in ("text", "ttl", "json"):
        err.print(f"[red]error:[/red] unknown format {fmt!r}; choose text, ttl or json")
        raise typer.Exit(2)
    try:
        if files:
            result = validate_graph(load_files(files))
        else:
            kg_store = _open(store)
            letters = (letter for ids in chunked(kg_store.letter_ids(), CHUNK_SIZE)
                       for letter in kg_store.letters_with_vocabulary(ids))
            result = validate_letters(letters, jobs=jobs or os.cpu_count() or 1)
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if fmt == "text":
        sys.stdout.write(text_report(result.violations))
    elif fmt == "json":
        sys.stdout.write(json_report(result))
    else:
        sys.stdout.write(result.report.serialize(format="turtle"))
    raise typer.Exit(0 if result.conforms else 1)


@app.command()
def serve(
    store: StoreOption = DEFAULT_STORE,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    timeout: Annotated[float, typer.Option(help="Seconds a query may run before it is stopped.")] = 5.0,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (each answers its own queries).")] = 2,
    max_rows: Annotated[int, typer.Option(help="Most rows (or triples) a result may have.")] = 10_000,
    cors_origin: Annotated[list[str] | None, typer.Option(help="Allow browser calls from this origin.")] = None,
    allow_update: Annotated[bool, typer.Option(help="Accept SPARQL Update, only with the bearer token.")] = False,
    token: Annotated[str | None, typer.Option(envvar="KG_TOKEN", help="Bearer token for updates "
                                              "(or the KG_TOKEN environment variable).")] = None,
) -> None:
    """Serve the store read-only over HTTP: /sparql (SPARQL 1.1 Protocol), /graphql, /queries/NAME,
    /letters/ID and /health."""
    from kg.server import ServeSettings, serve_forever

    _open(store).close()  # fail early, with exit 2, when there is no store
    if allow_update and not token:
        err.print("[red]error:[/red] --allow-update needs --token (or KG_TOKEN)")
        raise typer.Exit(2)
    settings = ServeSettings(store=store, timeout=timeout, workers=workers, max_rows=max_rows,
                             cors_origins=tuple(cors_origin or ()), allow_update=allow_update, token=token)
    err.print(f"serving {store} on http://{host}:{port}/ (SPARQL at /sparql, GraphQL at /graphql)")
    serve_forever(settings, host, port)


@app.command()
def stats(store: StoreOption = DEFAULT_STORE) -> None:
    """Count letters, decisions (by outcome) and triples in the store."""
    kg_store = _open(store)
    _, rows = table_rows(kg_store, named_query("stats-by-outcome"))
    decisions = sum(int(n) for _, n in rows)
    typer.echo(f"letters: {kg_store.letter_count()}")
    typer.echo(f"decisions: {decisions}")
    for outcome, n in rows:
        typer.echo(f"  {outcome}: {n}")
    typer.echo(f"triples: {kg_store.count_quads()}")


if __name__ == "__main__":
    app()
