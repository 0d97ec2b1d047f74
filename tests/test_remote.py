"""The same kg commands against remote SPARQL 1.1 servers on 127.0.0.1: `oxigraph serve`, and Jena's
SPARQL engine (ARQ over TDB2, as in Fuseki) behind Fuseki's URL layout (tests/jena/ArqServer.java)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from kg.cli import app
from kg.graph import letter_quads
from kg.kept import kept_queries
from kg.queries import all_queries, named_query, select_result
from kg.record import LetterRecord
from kg.remote import with_values, without_lateral
from kg.store import DUMP_FORMATS, open_store

from .conftest import LETTERS, free_port, same_as_direct, start_kg_serve
from .sparql_servers import OXIGRAPH, arq_server, compiled_arq_server, serving

NEW_FACT = ox.NamedNode("https://example.org/read-by-a-newer-extractor")

runner = CliRunner()
GOLD = [str(p) for p in sorted(LETTERS.glob("0*.txt"))]


@pytest.fixture(scope="module")
def oxigraph_server(tmp_path_factory) -> Iterator[str]:
    if not Path(OXIGRAPH).exists():
        pytest.skip("the oxigraph server (pip package `oxigraph`) is not installed")
    port = free_port()
    proc = subprocess.Popen([OXIGRAPH, "serve", "--location", str(tmp_path_factory.mktemp("oxi")),
                             "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield from serving(proc, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def arq_classpath(tmp_path_factory) -> str:
    return compiled_arq_server(tmp_path_factory.mktemp("arq"))


@pytest.fixture(scope="module")
def jena_server(arq_classpath) -> Iterator[str]:
    yield from arq_server(arq_classpath)


SERVERS = ["oxigraph", "jena"]


@pytest.fixture(scope="module", params=SERVERS)
def remote(request) -> str:
    return request.getfixturevalue(f"{request.param}_server")


def _lateral(url: str) -> bool:
    """Whether the server takes SPARQL 1.2's LATERAL, which three named queries use (Oxigraph does,
    Jena from 4.7; Debian's Jena is 4.5)."""
    return httpx.post(url + "/query", data={"query": "SELECT * WHERE { LATERAL { } }"}).status_code == 200


def test_a_server_without_lateral_answers_kgs_lateral_queries_written_as_optional(remote, tmp_path):
    """On Jena 4.5, which refuses LATERAL, the remote store sends the three queries that use it as
    `without_lateral` writes them, and from then on at once: the same rows as the embedded store."""
    local = str(tmp_path / "local")
    assert runner.invoke(app, ["build", *GOLD, "--store", local]).exit_code == 0
    assert runner.invoke(app, ["build", *GOLD, "--store", remote]).exit_code == 0
    query = named_query("decisions-for-medication")
    subs = query.substitutions({"medication": "carisoprodol"})
    with open_store(remote) as there, open_store(local, read_only=True) as here:
        rows = [select_result(query, s.query(query.sparql, substitutions=subs)).rows for s in (there, here)]
        assert rows[0] == rows[1] and len(rows[0]) == 4
        assert there._lateral == _lateral(remote)  # type: ignore[union-attr]  # written as OPTIONAL on Jena 4.5 only


@pytest.mark.parametrize("name", ["decisions-for-medication", "cases-with-diagnosis", "cases-by-diagnosis"])
def test_without_lateral_gives_the_same_rows(name, sample_store):
    """Each LATERAL { OPTIONAL { ... } } of kg's queries, as a plain OPTIONAL: no LATERAL left, the
    same rows in the same order (in the embedded store, which takes both)."""
    query = named_query(name)
    plain = without_lateral(query.sparql)
    assert plain is not None and "LATERAL {" not in plain and "LATERAL {" in query.sparql
    for params in [query.example_params, {query.parameters[0].name: "lumbar"}]:
        subs = query.substitutions(params)
        expected = select_result(query, sample_store.query(query.sparql, substitutions=subs)).rows
        assert select_result(query, sample_store.query(plain, substitutions=subs)).rows == expected, params
    assert without_lateral("SELECT * WHERE { ?s ?p ?o LATERAL { SELECT ?x WHERE { ?s ?q ?x } LIMIT 1 } }") is None


def _table(name: str, store: str) -> list[dict[str, str]]:
    result = runner.invoke(app, ["table", name, "--store", store])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_build_tables_and_stats_match_the_embedded_store(remote, tmp_path):
    local = str(tmp_path / "local")
    assert runner.invoke(app, ["build", *GOLD, "--store", local]).exit_code == 0
    built = runner.invoke(app, ["build", *GOLD, "--store", remote])
    assert built.exit_code == 0, built.output
    assert _table("decisions", remote) == _table("decisions", local)
    assert _table("cases", remote) == _table("cases", local)
    search = ["search", "carisoprodol", "-f", "csv", "--store"]  # no text index there: found by SPARQL
    assert runner.invoke(app, [*search, remote]).stdout == runner.invoke(app, [*search, local]).stdout
    stats = runner.invoke(app, ["stats", "--store", remote]).stdout
    assert "letters: 4" in stats and "Upheld: 9" in stats
    again = runner.invoke(app, ["build", *GOLD, "--store", remote])
    assert "accepted: 4 (4 unchanged)" in again.stderr
    with open_store(remote) as kg_store:
        same_as_direct(kg_store)


def test_named_query_validate_dump_and_remove(remote, tmp_path):
    runner.invoke(app, ["build", *GOLD, "--store", remote])
    q = runner.invoke(app, ["query", "decisions-for-medication", "-p", "medication=carisoprodol", "-f", "csv",
                            "--store", remote])
    rows = list(csv.DictReader(io.StringIO(q.stdout)))
    assert [r["letter"] for r in rows] == ["000_ed7318db5454d5ef", "001_31f77f8318a90c33", "002_d7e3603ed8b34fa0",
                                           "004_cb07c567c7678ea3"]
    assert all(r["sentence"] and int(r["start"]) < int(r["end"]) for r in rows)  # the optional part found
    assert runner.invoke(app, ["validate", "--store", remote]).stdout == "conforms\n"
    out = tmp_path / "d.nq"
    assert runner.invoke(app, ["dump", "-f", "nq", "-o", str(out), "--store", remote]).exit_code == 0
    assert out.read_text().count("/graph/letter/000_ed7318db5454d5ef>") > 100
    local = str(tmp_path / "local")
    assert runner.invoke(app, ["build", *GOLD, "--store", local]).exit_code == 0
    for fmt in ("ttl", "jsonld"):  # the knowledge graph as triples: the same from either store
        dumps = [tmp_path / f"{where}.{fmt}" for where in ("remote", "local")]
        for store, dump in zip((remote, local), dumps, strict=True):
            assert runner.invoke(app, ["dump", "-f", fmt, "-o", str(dump), "--store", store]).exit_code == 0
        remote_triples, local_triples = (set(ox.parse(path=str(d), format=DUMP_FORMATS[fmt])) for d in dumps)
        assert remote_triples == local_triples and len(local_triples) > 1000
    assert runner.invoke(app, ["remove", "004_cb07c567c7678ea3", "--store", remote]).exit_code == 0
    assert "letters: 3" in runner.invoke(app, ["stats", "--store", remote]).stdout
    with open_store(remote) as kg_store:
        same_as_direct(kg_store)


@contextmanager
def _sample_on_both(remote: str, local: str) -> Iterator[None]:
    """The bundled sample letters (2014-2017) in the remote store and in a new embedded one; after,
    the remote store holds the four letters of GOLD again, as the other tests expect."""
    for store in (local, remote):
        assert runner.invoke(app, ["build", "--sample", "--store", store]).exit_code == 0
    yield
    with open_store(local) as kg_store:
        others = sorted(set(kg_store.letter_ids()) - {Path(p).stem for p in GOLD})
    assert runner.invoke(app, ["remove", *others, "--store", remote]).exit_code == 0


@contextmanager
def _kg_serve(store: str) -> Iterator[str]:
    base, proc = start_kg_serve(store)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


GRAPHQL = [  # (query, variables), after tests/test_server.py's
    ("query($m: String) { decisions(filter: {medication: $m}, limit: 3) { total items { letterId outcome "
     "request { text strengthMg medications { name drugClass } } citations { party guideline { code } pages } } } }",
     {"m": "carisoprodol"}),
    ('{ decisions(filter: {outcome: OVERTURNED, specialty: "Orthopedic Surgery"}) { total items { letterId } } }', {}),
    ('{ decisions(filter: {decidedFrom: "2017-02-10", decidedTo: "2017-02-13", state: "tx"}) { total } }', {}),
    ('{ decisions(filter: {diagnosis: "radiculopathy", ageFrom: 40}, limit: 4, offset: 1) { total items { letterId '
     'sequence } } }', {}),
    ('{ letters(filter: {bodyRegion: "knee", sex: "female"}) { total items { id } } }', {}),
    ('{ decisions(filter: {text: "cold therapy"}) { items { request { text serviceType } } } }', {}),
    ('{ decisions(filter: {text: "MRI", outcome: UPHELD}, limit: 5, offset: 2) { total items { letterId sequence } } }',
     {}),
    ('{ decisions(filter: {text: "350", medication: "carisoprodol"}) { total items { letterId sequence } } }', {}),
    ('{ decisions(filter: {drugClass: "opioid"}) { total items { letterId request { text } } } }', {}),
    ("{ decisions(limit: 7, offset: 13) { total items { letterId sequence outcome } } }", {}),
    ("{ letters(limit: 5, offset: 1) { total items { id age sex injuryDate specialties states caseNumber "
     "decisionDate decisions { outcome } } } }", {}),
    ('{ letter(id: "CM17-0003284") { caseNumber decisionDate decisions { request { text } } } }', {}),
    ("{ medications { name drugClass } }", {}),
    *[(f"{{ outcomeCounts(groupBy: {group}) {{ key decisions upheld overturned }} }}", {})
      for group in ("MEDICATION", "DRUG_CLASS", "SECTION", "SPECIALTY", "SERVICE_TYPE")],
]


def test_kg_serve_answers_from_the_server_as_from_the_embedded_store(remote, tmp_path):
    """`kg serve --store URL` and `kg serve` of an embedded store, over HTTP: the same SPARQL, GraphQL,
    named queries and letter pages, on the sample letters."""
    local = str(tmp_path / "local")
    count = {"query": "SELECT (COUNT(?d) AS ?n) WHERE { ?d a <https://w3id.org/imr-kg/ontology#Decision> }"}
    json_results = {"accept": "application/sparql-results+json"}
    with _sample_on_both(remote, local), _kg_serve(remote) as there, _kg_serve(local) as here:
        counts = [httpx.post(base + "/sparql", data=count, headers=json_results).json() for base in (there, here)]
        assert counts[0]["results"]["bindings"][0]["n"]["value"] == "72" and counts[0] == counts[1]
        for query, variables in GRAPHQL:
            answers = [httpx.post(base + "/graphql", json={"query": query, "variables": variables}, timeout=60).json()
                       for base in (there, here)]
            assert "errors" not in answers[0] and answers[0] == answers[1], query
        assert answers[0]["data"]["outcomeCounts"][0]["decisions"] > 1
        for name in ("decisions", "cases", "cases-by-age-band-and-sex", "time-injury-to-review"):
            served = [httpx.get(f"{base}/queries/{name}", params={"format": "csv"}) for base in (there, here)]
            assert served[0].status_code == 200 and served[0].text == served[1].text, name
        pages = [httpx.get(f"{base}/letters/000_ed7318db5454d5ef") for base in (there, here)]
        assert pages[0].status_code == 200 and "Soma tablets 350mg" in pages[0].text
        assert pages[0].text == pages[1].text


INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"


@pytest.mark.parametrize(("sparql", "expected"), [
    # the parameter filters inside a subquery (cases-by-diagnosis): a VALUES block after the query
    # would leave ?w unbound there and find nothing
    ("SELECT ?w ?s WHERE { { SELECT DISTINCT ?w ?s WHERE { ?s <http://ex/label> ?l FILTER (CONTAINS(?l, ?w)) } } }",
     [('"lumb"', "<http://ex/0>"), ('"lumb"', "<http://ex/1>")]),
    # a subquery that is all of its group (as in queries/direct/): bound inside it
    ("SELECT ?w (COUNT(?s) AS ?n) WHERE { SELECT ?w ?s WHERE { ?s <http://ex/label> ?l "
     "FILTER (STRSTARTS(?l, ?w)) } } GROUP BY ?w", [('"lumb"', f'"2"^^{INTEGER}')]),
    # a comment that mentions WHERE { is left alone
    ('# not this WHERE {\nSELECT ?w ?s WHERE { ?s <http://ex/label> ?l FILTER (?l = CONCAT(?w, "ar")) }',
     [('"lumb"', "<http://ex/0>")]),
    ("ASK { ?s <http://ex/label> ?l FILTER (STRSTARTS(?l, ?w)) }", True),  # an ASK's group
])
def test_with_values_binds_a_parameter_as_substitutions_do(sparql, expected):
    store = ox.Store()
    store.extend(ox.Quad(ox.NamedNode(f"http://ex/{i}"), ox.NamedNode("http://ex/label"), ox.Literal(label))
                 for i, label in enumerate(["lumbar", "lumbar spine", "cervical"]))
    subs = {ox.Variable("w"): ox.Literal("lumb")}

    def answer(result: object) -> object:
        return bool(result) if isinstance(result, ox.QueryBoolean) else sorted(
            tuple(str(t) for t in row) for row in result)  # type: ignore[attr-defined]

    if "SELECT" in sparql:  # pyoxigraph binds only projected variables
        assert answer(store.query(sparql, substitutions=subs)) == expected
    assert answer(store.query(with_values(sparql, subs))) == expected


def _cells(csv_text: str) -> list[list[str | Decimal]]:
    """CSV cells, numbers as values: engines may write one xsd:decimal differently ("1", "1.0")."""
    def value(cell: str) -> str | Decimal:
        try:
            return Decimal(cell)
        except InvalidOperation:
            return cell

    return [[value(c) for c in row] for row in csv.reader(io.StringIO(csv_text))]


def test_every_named_query_answers_as_on_the_embedded_store(remote, tmp_path):
    """Each named query with its example's parameters, on the bundled sample letters (2014-2017):
    the same rows, in the same order."""
    local = str(tmp_path / "local")
    with _sample_on_both(remote, local):
        for query in all_queries():
            name = query.name
            params = [arg for k, v in query.example_params.items() for arg in ("-p", f"{k}={v}")]
            answers = [runner.invoke(app, ["query", name, *params, "-f", "csv", "--store", store])
                       for store in (remote, local)]
            assert all(a.exit_code == 0 for a in answers), (name, [a.output for a in answers])
            assert _cells(answers[0].stdout) == _cells(answers[1].stdout), name
            assert len(answers[1].stdout.splitlines()) > 1, name  # rows, not just a header


def test_a_server_that_kg_cannot_use_is_said_so_with_exit_2(arq_classpath):
    """No server at the URL; a server whose default graph is not the union of its graphs (Fuseki
    without tdb2:unionDefaultGraph), where every query would answer nothing: told on the build's
    first write, and when the store is opened after."""
    gone = f"http://127.0.0.1:{free_port()}"
    for args in (["build", *GOLD], ["stats"], ["table", "decisions"]):
        result = runner.invoke(app, [*args, "--store", gone])
        assert result.exit_code == 2 and f"no SPARQL store answering at {gone}" in result.stderr, args
    for url in arq_server(arq_classpath, "--no-union"):
        built = runner.invoke(app, ["build", *GOLD, "--store", url])
        assert built.exit_code == 2 and "does not read its named graphs as its default graph" in built.stderr
        assert "tdb2:unionDefaultGraph" in built.stderr and "accepted" not in built.stderr
        for args in (["stats"], ["table", "decisions"], ["build", *GOLD]):
            result = runner.invoke(app, [*args, "--store", url])
            assert result.exit_code == 2 and "tdb2:unionDefaultGraph" in result.stderr, args


def test_a_users_construct_and_ask_queries_answer_as_on_the_embedded_store(remote, tmp_path):
    """A query file of the user's own: a CONSTRUCT as Turtle (the server answers N-Triples), an ASK."""
    local = str(tmp_path / "local")
    assert runner.invoke(app, ["build", *GOLD, "--store", local]).exit_code == 0
    assert runner.invoke(app, ["build", *GOLD, "--store", remote]).exit_code == 0
    construct, ask = tmp_path / "labels.rq", tmp_path / "ask.rq"
    construct.write_text("PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
                         "CONSTRUCT { ?m skos:prefLabel ?l } WHERE {\n"  # the medications the letters name
                         "  GRAPH ?g { ?r <https://w3id.org/imr-kg/ontology#medication> ?m } ?m skos:prefLabel ?l }")
    ask.write_text('ASK { ?m <http://www.w3.org/2004/02/skos/core#prefLabel> "carisoprodol" }')
    graphs = [runner.invoke(app, ["query", str(construct), "-f", "ttl", "--store", store]) for store in (remote, local)]
    assert all(g.exit_code == 0 for g in graphs), [g.output for g in graphs]
    triples = [set(ox.parse(g.stdout.encode(), format=ox.RdfFormat.TURTLE)) for g in graphs]
    assert triples[0] == triples[1] and len(triples[0]) >= 5
    asked = [runner.invoke(app, ["query", str(ask), "--store", store]).stdout for store in (remote, local)]
    assert asked[0] == asked[1] and "true" in asked[0].lower()


def test_validate_reports_a_violation_on_the_server_under_its_letter(remote):
    """`kg validate --store URL` reads the letters a chunk at a time (kg.remote): a worker's age of
    200 written into one letter's graph on the server is reported under that letter, and only it."""
    assert runner.invoke(app, ["build", *GOLD, "--store", remote]).exit_code == 0
    graph, worker = ("https://w3id.org/imr-kg/id/graph/letter/002_d7e3603ed8b34fa0",
                     "https://w3id.org/imr-kg/id/letter/002_d7e3603ed8b34fa0/worker")
    age = "https://w3id.org/imr-kg/ontology#age"
    with open_store(remote) as kg_store:
        kg_store._update(f"DELETE {{ GRAPH <{graph}> {{ <{worker}> <{age}> ?a }} }} "
                         f"INSERT {{ GRAPH <{graph}> {{ <{worker}> <{age}> 200 }} }} "
                         f"WHERE {{ GRAPH <{graph}> {{ <{worker}> <{age}> ?a }} }}")
    try:
        checked = runner.invoke(app, ["validate", "--store", remote, "--format", "json"])
        assert checked.exit_code == 1, checked.output
        found = json.loads(checked.stdout)["results"]
        assert {(r["letter"], r["shape"], r["value"]) for r in found} == {
            ("002_d7e3603ed8b34fa0", "s:InjuredWorker-age", "200")}
    finally:
        runner.invoke(app, ["remove", "002_d7e3603ed8b34fa0", "--store", remote])
        assert runner.invoke(app, ["build", *GOLD, "--store", remote]).exit_code == 0


def _readme_fuseki_config() -> str:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = next(b for b in readme.split("```turtle")[1:] if "fuseki:Service" in b).split("```")[0]
    return "\n".join(line.removeprefix("  ") for line in block.splitlines())


@pytest.mark.parametrize("union", [True, False])
def test_the_fuseki_configuration_of_the_readme_makes_a_dataset_kg_can_use(union, arq_classpath, tmp_path):
    """The README's Fuseki configuration, its dataset built by Jena's assembler (as Fuseki builds it)
    in the stand-in: an on-disk TDB2 dataset whose default graph is the union, so kg builds and
    queries it; without `tdb2:unionDefaultGraph true` kg refuses it."""
    config = _readme_fuseki_config()
    assert "tdb2:unionDefaultGraph true" in config
    if not union:
        config = config.replace("tdb2:unionDefaultGraph true", "tdb2:unionDefaultGraph false")
    (tmp_path / "kg-fuseki.ttl").write_text(config)
    port = free_port()
    proc = subprocess.Popen(["java", "-cp", arq_classpath, "ArqServer", str(port), "--config", "kg-fuseki.ttl"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for url in serving(proc, f"http://127.0.0.1:{port}/ds"):
        built = runner.invoke(app, ["build", *GOLD, "--store", url])
        if union:
            assert built.exit_code == 0 and "accepted: 4 (0 unchanged)" in built.stderr, built.output
            assert "letters: 4" in runner.invoke(app, ["stats", "--store", url]).stdout
        else:
            assert built.exit_code == 2 and "tdb2:unionDefaultGraph true" in built.stderr
    assert (tmp_path / "kg-tdb2").is_dir()  # the dataset lived where the configuration put it


@pytest.mark.parametrize("server", SERVERS)
def test_a_store_dumped_as_quads_moves_to_a_server_without_a_rebuild(server, tmp_path, request):
    """The path for a user who outgrows one machine: `kg dump -f nq`, the server's own loader, and
    kg goes on with the store on the server, reading no unchanged letter again."""
    local, dump = str(tmp_path / "local"), tmp_path / "all.nq"
    assert runner.invoke(app, ["build", *GOLD, "--store", local]).exit_code == 0
    assert runner.invoke(app, ["dump", "-f", "nq", "-o", str(dump), "--store", local]).exit_code == 0
    if server == "oxigraph":
        if not Path(OXIGRAPH).exists():
            pytest.skip("the oxigraph server (pip package `oxigraph`) is not installed")
        location = tmp_path / "loaded"
        subprocess.run([OXIGRAPH, "load", "--location", str(location), "--file", str(dump)], check=True,
                       capture_output=True)
        port = free_port()
        proc = subprocess.Popen([OXIGRAPH, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = serving(proc, f"http://127.0.0.1:{port}")
    else:
        started = arq_server(request.getfixturevalue("arq_classpath"), "--load", str(dump))
    for url in started:
        again = runner.invoke(app, ["build", *GOLD, "--store", url])
        assert again.exit_code == 0 and "accepted: 4 (4 unchanged)" in again.stderr, again.output
        assert "quads written: 0," in again.stderr
        assert _table("decisions", url) == _table("decisions", local)
        assert "letters: 4" in runner.invoke(app, ["stats", "--store", url]).stdout


@pytest.mark.parametrize("kind", ["embedded", *SERVERS])
def test_a_changed_letter_replaces_its_manifest_entry(kind, request, tmp_path):
    """Rebuilding a changed letter leaves one hash of it in the manifest (the new one); removing a
    letter leaves none. Same on the embedded store (bulk loads) and on a server (one update a batch)."""
    store = str(tmp_path / "store") if kind == "embedded" else request.getfixturevalue(f"{kind}_server")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("001_31f77f8318a90c33.txt", "002_d7e3603ed8b34fa0.txt"):
        shutil.copy(LETTERS / name, folder)
    runner.invoke(app, ["remove", "001_31f77f8318a90c33", "002_d7e3603ed8b34fa0", "--store", store])
    assert runner.invoke(app, ["build", str(folder), "--store", store]).exit_code == 0
    changed = folder / "001_31f77f8318a90c33.txt"
    changed.write_text(changed.read_text().replace("records", "notes", 1))
    rebuilt = runner.invoke(app, ["build", str(folder), "--store", store])
    assert "accepted: 2 (1 unchanged)" in rebuilt.stderr

    def manifest_lines(letter_id: str) -> list[str]:
        out = tmp_path / "dump.nq"
        assert runner.invoke(app, ["dump", "-f", "nq", "-o", str(out), "--store", store]).exit_code == 0
        return sorted(line.split("> ", 2)[1] for line in out.read_text().splitlines()
                      if f"/{letter_id}>" in line.split(" ", 1)[0] and line.endswith("/graph/manifest> ."))

    predicates = ["<http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
                  *(f"<https://w3id.org/imr-kg/id/kept/{name}" for name in sorted(kept_queries())),
                  "<https://w3id.org/imr-kg/ontology#extractionKey",
                  "<https://w3id.org/imr-kg/ontology#graphSha256", "<https://w3id.org/imr-kg/ontology#sha256", "<https://w3id.org/imr-kg/ontology#tallies",
                  "<https://w3id.org/imr-kg/ontology#tallyDefinitions"]
    assert manifest_lines("001_31f77f8318a90c33") == predicates
    assert runner.invoke(app, ["remove", "001_31f77f8318a90c33", "--store", store]).exit_code == 0
    assert manifest_lines("001_31f77f8318a90c33") == []
    assert manifest_lines("002_d7e3603ed8b34fa0") == predicates


@pytest.mark.parametrize("kind", ["embedded", *SERVERS])
def test_rejected_files_are_remembered_and_an_upgrade_reads_every_letter_again(kind, request, tmp_path,
                                                                               monkeypatch):
    """A rejected file is reported again from the manifest without being read; once fixed it is read
    and accepted, and its rejection forgotten. A new extractor reads every letter again, rewrites
    none whose graph is the same, and records the new keys; one that makes other graphs of the same
    texts has them replace the old."""
    store = str(tmp_path / "store") if kind == "embedded" else request.getfixturevalue(f"{kind}_server")
    folder = tmp_path / "in"
    folder.mkdir()
    good, bad = "002_d7e3603ed8b34fa0", "ZZ-cut-short"
    shutil.copy(LETTERS / f"{good}.txt", folder)
    text = (LETTERS / "001_31f77f8318a90c33.txt").read_text()
    (folder / f"{bad}.txt").write_text(text[:len(text) // 2])
    runner.invoke(app, ["remove", good, "--store", store])
    first = runner.invoke(app, ["build", str(folder), "--store", store])
    reason = next(line for line in first.stderr.splitlines() if line.startswith(f"  rejected {bad}.txt: "))
    for _ in range(2):  # a build that reports it from memory keeps the memory
        again = runner.invoke(app, ["build", str(folder), "--store", store])
        assert "rejected: 1 (1 as in an earlier build, not read again)" in again.stderr
        assert reason in again.stderr.splitlines() and again.exit_code == first.exit_code == 1

    shutil.copy(LETTERS / "001_31f77f8318a90c33.txt", folder / f"{bad}.txt")  # fixed
    fixed = runner.invoke(app, ["build", str(folder), "--store", store])
    assert "accepted: 2 (1 unchanged), rejected: 0" in fixed.stderr and fixed.exit_code == 0
    with open_store(store) as kg_store:
        assert kg_store.rejections() == {}
        keys = kg_store.extraction_keys()

    monkeypatch.setattr("kg.extractor.fingerprint", lambda: "another extractor")
    upgraded = runner.invoke(app, ["build", str(folder), "--store", store, "--jobs", "1"])  # in this process
    assert "accepted: 2 (2 unchanged)" in upgraded.stderr and "quads written: 0," in upgraded.stderr
    assert "decisions in the letters parsed: 4," in upgraded.stderr  # both were read (1 + 3 decisions)
    with open_store(store) as kg_store:
        new_keys = kg_store.extraction_keys()
    assert set(new_keys) >= {good, bad} and all(new_keys[i] != keys[i] for i in (good, bad))

    def graphs_with_a_fact_more(record: LetterRecord) -> list[ox.Quad]:
        quads = letter_quads(record)
        return [*quads, ox.Quad(quads[0].subject, NEW_FACT, ox.Literal(record.letter_id), quads[0].graph_name)]

    monkeypatch.setattr("kg.extractor.fingerprint", lambda: "an extractor that reads more")
    monkeypatch.setattr("kg.build.letter_quads", graphs_with_a_fact_more)
    reading_more = runner.invoke(app, ["build", str(folder), "--store", store, "--jobs", "1"])
    assert "accepted: 2 (0 unchanged)" in reading_more.stderr and "quads written: 0," not in reading_more.stderr
    with open_store(store) as kg_store:
        found = kg_store.query(f"SELECT ?id WHERE {{ GRAPH ?g {{ ?s {NEW_FACT} ?id }} }} ORDER BY ?id")
        assert [s["id"].value for s in found] == sorted([bad, good])
    runner.invoke(app, ["remove", good, bad, "--store", store])
