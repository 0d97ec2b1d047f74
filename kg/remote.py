"""A remote SPARQL 1.1 store (Protocol + Update + Graph Store Protocol) behind the same interface as
the embedded Store: for users who outgrow one machine (Oxigraph server, Apache Jena Fuseki).

Endpoints under the base URL: `query`, `update`, and `store` (Oxigraph) or `data` (Fuseki). Each
batch of letters is written by one SPARQL Update request (DROP the letters' graphs, INSERT DATA
their quads), which both servers apply atomically.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import httpx
import pyoxigraph as ox

from kg import iris, kept, kept_tables, tally
from kg.namespaces import imr
from kg.resources import data_dir
from kg.store import (
    DUMP_FORMATS,
    EXTRACTION_KEY,
    GRAPH_SHA256,
    LETTER_GRAPH,
    MANIFEST_HEADER,
    QUAD_FORMATS,
    REJECTION_REASON,
    RELISTED,
    SHA256,
    TALLIES,
    TALLIES_COMPLETE,
    Batch,
    LetterGraph,
    StoreUnavailable,
    _prefixes,
    in_dump,
    manifest_entries,
    manifest_entry,
    quad_data,
    rejection_entries,
    relisting_entries,
    tallies_complete_mark,
    untallied_letter_query,
    with_vocabulary,
)

_RESULTS = {"application/sparql-results+json": ox.QueryResultsFormat.JSON}


class RemoteStore:
    """The kg store interface over HTTP."""

    def __init__(self, url: str, *, read_only: bool = False, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.path = self.url
        self.read_only = read_only
        self._lateral = True  # until the server refuses it (see `without_lateral`)
        self._http = httpx.Client(timeout=timeout)
        try:
            self._http.get(self.url + "/query", params={"query": "ASK {}"}).raise_for_status()
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"no SPARQL store answering at {self.url} ({exc})") from exc
        gsp = self._http.get(self.url + "/store", headers={"accept": "application/n-quads"},
                             params={"graph": iris.ONTOLOGY_GRAPH.value})
        self._gsp = self.url + ("/store" if gsp.status_code != 404 else "/data")
        self._check_union()

    def _check_union(self) -> None:
        """kg's queries read every letter's graph through the default graph, as their union: a server
        that does not make it so (Fuseki without `tdb2:unionDefaultGraph true`) would answer every
        query with nothing. The manifest's header, once written, tells."""
        header = MANIFEST_HEADER.triple
        written = bool(self.query(f"ASK {{ GRAPH {iris.MANIFEST_GRAPH} {{ {header} }} }}"))
        if written and not bool(self.query(f"ASK {{ {header} }}")):
            raise StoreUnavailable(
                f"the SPARQL server at {self.url} does not read its named graphs as its default graph, and "
                "kg's queries need it to (Fuseki: set tdb2:unionDefaultGraph true on the dataset)")

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def flush(self) -> None:
        """Writes are committed by each request."""

    def optimize(self) -> None:
        """The server manages its own storage."""

    def release_memory(self) -> None:
        """The server manages its own memory."""

    # ------------------------------------------------------------------ reading

    def query(self, sparql: str, **kwargs: object) -> ox.QuerySolutions | ox.QueryBoolean | Iterator[ox.Triple]:
        """Run a query on the server, with any `substitutions` bound in it (`with_values`); on a
        server that refuses LATERAL, as `without_lateral` writes it."""
        subs: dict[ox.Variable, ox.NamedNode | ox.Literal] = kwargs.get("substitutions") or {}  # type: ignore[assignment]
        if subs:
            sparql = with_values(sparql, subs)
        params: dict[str, object] = {}
        if kwargs.get("default_graph"):
            params["default-graph-uri"] = [g.value for g in kwargs["default_graph"]]  # type: ignore[union-attr]
        else:
            params["union-default-graph"] = ""
        lateral = "LATERAL" in sparql.upper()
        if lateral and not self._lateral:
            sparql = without_lateral(sparql) or sparql
        r = self._post_query(sparql, params)
        if r.status_code == 400 and lateral and self._lateral and "LATERAL" in r.text.upper() and \
                (plain := without_lateral(sparql)):
            self._lateral = False  # and the queries after this one are sent without it at once
            r = self._post_query(plain, params)
        if r.status_code == 400:
            raise SyntaxError(f"the server at {self.url} refused it: {r.text.strip()}")
        r.raise_for_status()
        if r.headers.get("content-type", "").startswith("application/n-triples"):
            return iter(ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES))
        return ox.parse_query_results(r.content, format=ox.QueryResultsFormat.JSON)

    def _post_query(self, sparql: str, params: dict[str, object]) -> httpx.Response:
        return self._http.post(self.url + "/query", data={"query": sparql, **params},
                               headers={"accept": "application/sparql-results+json, application/n-triples;q=0.9"})

    def _rows(self, sparql: str) -> list[ox.QuerySolution]:
        return list(self.query(sparql))  # type: ignore[arg-type]

    def letter_hashes(self, letter_ids: Iterable[str] | None = None) -> dict[str, str]:
        if letter_ids is None:  # as the manifest lists them, as in the embedded store
            return _by_letter(self._manifest(SHA256))
        return self._manifest_values(SHA256, list(letter_ids))

    def decisions_with_words(self, words: str, cap: int) -> list[str] | int | None:
        """No text index: a remote store is searched with SPARQL."""
        return None

    def page_matching(self, given: dict[str, Any], of: str, offset: int, limit: int,
                      count: bool = True) -> tuple[int | None, list[list[Any]]] | None:
        """No index of the filters' values: a remote store is counted and paged with SPARQL."""
        return None

    def graph_digests(self, letter_ids: Iterable[str]) -> dict[str, str]:
        return self._manifest_values(GRAPH_SHA256, list(letter_ids))

    def _manifest(self, predicate: ox.NamedNode, values: str = "") -> dict[str, str]:
        rows = self._rows(f"SELECT ?s ?o WHERE {{ {values} GRAPH {iris.MANIFEST_GRAPH} {{ ?s {predicate} ?o }} }}")
        return {r["s"].value: r["o"].value for r in rows}

    def save_key_index(self, keys: dict[str, str]) -> None:
        """The server reads the manifest fast enough: no index."""

    def file_hashes(self) -> str | None:
        """Every file is hashed again: the hashes are kept by a local store only."""
        return None

    def save_file_hashes(self, encoded: str) -> None:
        pass

    def extraction_keys(self) -> dict[str, str]:
        return _by_letter(self._manifest(EXTRACTION_KEY))

    def rejections(self) -> dict[str, str]:
        reasons = self._manifest(REJECTION_REASON)
        return {k: r for s, r in reasons.items() if (k := iris.rejected_file_key(ox.NamedNode(s))) is not None}

    def letter_ids(self) -> list[str]:
        return sorted(self.letter_hashes())

    def letter_count(self) -> int:
        return len(self.letter_hashes())

    def count_quads(self) -> int:
        rows = self._rows("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(rows[0]["n"].value)

    def quads(self) -> Iterator[ox.Quad]:
        r = self._http.get(self._gsp, headers={"accept": "application/n-quads"})
        r.raise_for_status()
        return iter(ox.parse(r.content, format=ox.RdfFormat.N_QUADS))

    def letters_with_vocabulary(self, letter_ids: list[str]) -> Iterator[tuple[str, list[ox.Quad]]]:
        """As `Store.letters_with_vocabulary`, in two or three requests for all of `letter_ids` (one
        request a letter and concept level cost `kg validate` half its time at 1k letters)."""
        graphs = {iris.letter_graph(i): i for i in letter_ids}
        rows = self._rows(f"SELECT ?g ?s ?p ?o WHERE {{ VALUES ?g {{ {' '.join(map(str, graphs))} }} "
                          "GRAPH ?g { ?s ?p ?o } }")
        quads: dict[str, list[ox.Quad]] = {i: [] for i in letter_ids}
        for r in rows:
            quads[graphs[r["g"]]].append(ox.Quad(r["s"], r["p"], r["o"], r["g"]))
        vocabulary: dict[ox.NamedNode, list[ox.Quad]] = {}

        def fetch(nodes: list[ox.NamedNode]) -> list[ox.Quad]:
            rows = self._rows(f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {' '.join(map(str, nodes))} }} "
                              f"GRAPH {iris.VOCABULARY_GRAPH} {{ ?s ?p ?o }} }}")
            for r in rows:
                vocabulary.setdefault(r["s"], []).append(ox.Quad(r["s"], r["p"], r["o"], iris.VOCABULARY_GRAPH))
            return [q for node in nodes for q in vocabulary.get(node, [])]

        # what all the letters link to, fetched once; then each letter's part of it
        with_vocabulary([q for qs in quads.values() for q in qs], fetch)
        for letter_id, letter in quads.items():
            yield letter_id, with_vocabulary(letter, lambda nodes: [q for n in nodes for q in vocabulary.get(n, [])])

    def dump(self, out: IO[bytes], fmt: str) -> None:
        """As `Store.dump`, streamed from the server's whole dataset (Graph Store Protocol)."""
        with self._http.stream("GET", self._gsp, headers={"accept": "application/n-quads"}) as r:
            r.raise_for_status()
            quads = ox.parse(_Reader(r.iter_bytes()), format=ox.RdfFormat.N_QUADS)
            if fmt in QUAD_FORMATS:
                ox.serialize(quads, out, DUMP_FORMATS[fmt], prefixes=_prefixes())
            else:
                triples = (q.triple for q in quads if in_dump(q.graph_name))
                ox.serialize(triples, out, DUMP_FORMATS[fmt], prefixes=_prefixes())

    # ------------------------------------------------------------------ writing

    def _update(self, update: str | list[str]) -> None:
        """Send update operations as one request, which the server applies atomically."""
        if isinstance(update, list):
            if not update:
                return
            update = " ;\n".join(update)
        # the request body is the update itself: URL-encoding it as a form took 40% of a remote build
        r = self._http.post(self.url + "/update", content=update.encode(),
                            headers={"content-type": "application/sparql-update"})
        if r.status_code == 400:
            raise SyntaxError(r.text.strip())
        r.raise_for_status()

    def replace_letters(self, letters: Iterable[LetterGraph], extra: Iterable[ox.Quad] = ()) -> None:
        self.write(Batch(list(letters)), extra)

    def write(self, batch: Batch, extra: Iterable[ox.Quad] = ()) -> None:
        """One SPARQL Update per batch: the old graphs, manifest entries and tally contributions go
        and the new ones come in together."""
        letters = batch.letters
        quads = [q for letter in letters for q in ox.parse(letter.nquads, format=ox.RdfFormat.N_QUADS)]
        quads += list(extra)
        if not quads and not batch:
            return
        replaced = [letter.letter_id for letter in [*letters, *batch.relisted]]
        removed = [tally.decode(t) for t in self._manifest_values(TALLIES, replaced).values()]
        added = [tally.decode(letter.tallies) for letter in [*letters, *batch.relisted]]
        operations = [op for letter in letters for op in _unlist(letter.letter_id)]
        operations += [f"DELETE WHERE {{ GRAPH {iris.MANIFEST_GRAPH} {{ {iris.letter(letter.letter_id)} {prop} ?v }} }}"
                       for letter in batch.relisted for prop in RELISTED]
        quads += [q for letter in letters for q in manifest_entries(letter)]
        quads += [q for letter in batch.relisted for q in relisting_entries(letter)]
        quads += [q for r in batch.rejected for q in rejection_entries(r)]
        self._update(operations + quad_data("INSERT", quads) + tally.update_operations(tally.change(added, removed)))

    def _manifest_values(self, predicate: ox.NamedNode, letter_ids: list[str]) -> dict[str, str]:
        """letter id -> the manifest value of `predicate`, for those of `letter_ids` that have one."""
        values: dict[str, str] = {}
        for start in range(0, len(letter_ids), 1000):
            letters = " ".join(str(iris.letter(i)) for i in letter_ids[start:start + 1000])
            values |= _by_letter(self._manifest(predicate, f"VALUES ?s {{ {letters} }}"))
        return values

    def forget_rejections(self, keys: Iterable[str]) -> None:
        nodes = [str(iris.rejected_file(k)) for k in keys]
        for start in range(0, len(nodes), 1000):
            self._update(f"DELETE {{ GRAPH {iris.MANIFEST_GRAPH} {{ ?r ?p ?o }} }} WHERE {{ "
                         f"VALUES ?r {{ {' '.join(nodes[start:start + 1000])} }} "
                         f"GRAPH {iris.MANIFEST_GRAPH} {{ ?r ?p ?o }} }}")

    def kept_rows(self, name: str) -> dict[str, str]:
        return _by_letter(self._manifest(kept.predicate(name)))

    def kept(self, name: str) -> kept_tables.Table:
        return kept_tables.Table.of_letters(name, self.kept_rows(name).items())

    def kept_csv(self, name: str) -> str:
        return self.kept(name).csv()

    def kept_bindings(self, name: str) -> Iterator[str]:
        return self.kept(name).bindings()

    def kept_by_value(self, name: str, value: ox.NamedNode | ox.Literal) -> kept_tables.Table | None:
        """No index: the query answers."""
        return None

    def kept_values(self, name: str) -> list[str] | None:
        """No index: the query answers."""
        return None

    def letter_decision_counts(self) -> dict[str, int]:
        return {i: tally.decisions_in(t) for i, t in _by_letter(self._manifest(TALLIES)).items()}

    def tallies_complete(self) -> bool:
        return bool(self.query(f"ASK {{ GRAPH {iris.MANIFEST_GRAPH} {{ {tallies_complete_mark().triple} }} }}"))

    def check_tallies(self) -> None:
        if self.tallies_complete():
            return
        stale = f"DELETE WHERE {{ GRAPH {iris.MANIFEST_GRAPH} {{ {iris.MANIFEST_GRAPH} {TALLIES_COMPLETE} ?d }} }}"
        if not bool(self.query(untallied_letter_query())):
            self._update([stale, *quad_data("INSERT", [tallies_complete_mark()])])
        else:
            self._update([stale])

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Each batch is one atomic update, so an interrupted build leaves nothing to repair."""
        yield

    def repair(self) -> list[str]:
        """A batch is one SPARQL Update, so no letter is ever partly written; only make sure that the
        manifest exists and lists every letter graph (stores written before it existed)."""
        manifest = iris.MANIFEST_GRAPH
        if bool(self.query(f"ASK {{ GRAPH {manifest} {{ {MANIFEST_HEADER.triple} }} }}")):
            return []
        listing = f"?g a {LETTER_GRAPH} . ?l {SHA256} ?sha"
        letters = f"?l a {imr('Letter')} ; {SHA256} ?sha"
        self._update([*quad_data("INSERT", [MANIFEST_HEADER]),
                      f"INSERT {{ GRAPH {manifest} {{ {listing} }} }} WHERE {{ GRAPH ?g {{ {letters} }} }}"])
        self._check_union()  # before a first build writes anything else
        return []

    def remove_letter(self, letter_id: str) -> bool:
        graph = iris.letter_graph(letter_id)
        present = self.query(f"ASK {{ GRAPH {graph} {{ ?s ?p ?o }} }}")
        if not bool(present):
            return False
        removed = [tally.decode(t) for t in self._manifest_values(TALLIES, [letter_id]).values()]
        self._update(_unlist(letter_id) + tally.update_operations(tally.change([], removed)))
        return True

    def load_ontology(self) -> None:
        quads = []
        for path in sorted(data_dir("ontology").glob("*.ttl")):
            quads += [ox.Quad(t.subject, t.predicate, t.object, iris.ONTOLOGY_GRAPH)
                      for t in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)]
        self._update([f"DROP SILENT GRAPH {iris.ONTOLOGY_GRAPH}", *quad_data("INSERT", quads)])


# The start of a WHERE clause's group (or an ASK's), unless a subquery is all of it (it has a WHERE
# of its own).
_WHERE_GROUP = re.compile(r"\b(?:WHERE|ASK)\s*\{(?!\s*SELECT\b)", re.IGNORECASE)


def with_values(sparql: str, substitutions: dict[ox.Variable, ox.NamedNode | ox.Literal]) -> str:
    """The query with its parameters bound, as pyoxigraph's `substitutions` bind them in the embedded
    store, for a server that takes none: a one-row VALUES block (typed terms, never pasted user text)
    opens every WHERE group, so that a subquery or a FILTER sees the value too (a VALUES block after
    the query is joined last: a subquery that filters on the parameter would find nothing). A SELECT
    or DESCRIBE without the WHERE keyword gets it after the query."""
    names = " ".join(f"?{v.value}" for v in substitutions)
    values = f"VALUES ({names}) {{ ({' '.join(str(t) for t in substitutions.values())}) }}"

    def bind(m: re.Match[str]) -> str:
        return m.group(0) if _in_comment(sparql, m.start()) else f"{m.group(0)} {values}"

    bound = _WHERE_GROUP.sub(bind, sparql)
    return bound if bound != sparql else f"{sparql}\n{values}"


_LATERAL_OPTIONAL = re.compile(r"\bLATERAL\s*\{\s*(?=OPTIONAL\b)", re.IGNORECASE)


def without_lateral(sparql: str) -> str | None:
    """The query with each `LATERAL { OPTIONAL { ... } }` (SPARQL 1.2) written as the plain
    `OPTIONAL { ... }` that gives the same rows, slower, when the optional part uses only variables
    the pattern before it binds (as in kg's queries); for a server without LATERAL. None when some
    LATERAL is not of that form."""
    out, at = [], 0
    for m in _LATERAL_OPTIONAL.finditer(sparql):
        if _in_comment(sparql, m.start()):
            continue
        brace = sparql.index("{", m.start())
        end = _block_end(sparql, brace)
        out += [sparql[at:m.start()], sparql[brace + 1:end].strip()]
        at = end + 1
    rewritten = "".join([*out, sparql[at:]])
    left = (m for m in re.finditer(r"\bLATERAL\b", rewritten, re.IGNORECASE) if not _in_comment(rewritten, m.start()))
    return None if next(left, None) else rewritten


def _block_end(text: str, start: int) -> int:
    """The index of the brace that closes the one at `start` (braces in strings and IRIs of kg's
    queries are balanced or absent)."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError("unbalanced braces")


def _in_comment(sparql: str, at: int) -> bool:
    """Whether position `at` is on a comment line (kg's queries comment on lines of their own)."""
    return sparql[sparql.rfind("\n", 0, at) + 1:at].lstrip().startswith("#")


def _by_letter(values: dict[str, str]) -> dict[str, str]:
    """IRI -> value, for letter IRIs only, keyed by letter id."""
    return {i: v for s, v in values.items() if (i := iris.letter_id(ox.NamedNode(s))) is not None}


def _unlist(letter_id: str) -> list[str]:
    """Update operations that drop a letter's graph and its manifest entries."""
    graph, manifest = iris.letter_graph(letter_id), iris.MANIFEST_GRAPH
    return [f"DELETE WHERE {{ GRAPH {manifest} {{ {iris.letter(letter_id)} ?p ?o }} }}",
            f"DELETE DATA {{ GRAPH {manifest} {{ {manifest_entry(graph).triple} }} }}",
            f"DROP SILENT GRAPH {graph}"]


class _Reader(io.RawIOBase):
    """A response body read as it arrives, as the file pyoxigraph's parser reads."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = chunk
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n
