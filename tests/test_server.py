"""The HTTP service, started for real (`kg serve` on uvicorn, 127.0.0.1, a free port) and called
through real clients: SPARQLWrapper for SPARQL, httpx for GraphQL, named queries and pages."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rdflib
from SPARQLWrapper import CSV, JSON, JSONLD, N3, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from kg import text_index
from kg.build import build
from kg.resources import samples_dir
from kg.server import filtered
from kg.server.execute import execute
from kg.server.filtered import LetterIndex
from kg.server.graphql import GroupBy, outcome_counts_query
from kg.server.runner import Answer
from kg.server.selects import PREFIXES
from kg.store import Store, tallies_complete_mark

from .conftest import LETTERS, free_port, start_kg_serve

IMR = "https://w3id.org/imr-kg/ontology#"
COUNT_DECISIONS = f"SELECT (COUNT(?d) AS ?n) WHERE {{ ?d a <{IMR}Decision> }}"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, subprocess.Popen]]:
    """`kg serve` on the sample corpus: its base URL and its (supervisor) process."""
    store_dir = tmp_path_factory.mktemp("serve") / "store"
    with Store(store_dir) as store:
        assert build([samples_dir()], store).ok
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", str(store_dir), "--port", str(port),
                             "--timeout", "2", "--max-rows", "5000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(proc.stderr.read().decode() if proc.stderr else "server did not start")
    yield base, proc
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def server(served) -> str:
    return served[0]


def _server_processes(supervisor: subprocess.Popen) -> set[int]:
    """The server processes under `kg serve` (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{supervisor.pid}/task/{supervisor.pid}/children").read_text().split()
    return {int(pid) for pid in children if b"spawn_main" in _cmdline(pid)}


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # it exited meanwhile
        return b""


def _client(server: str, query: str, fmt: str) -> SPARQLWrapper:
    client = SPARQLWrapper(server + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt)
    return client


def test_select_in_every_results_format(server):
    got = _client(server, COUNT_DECISIONS, JSON).queryAndConvert()
    assert got["results"]["bindings"][0]["n"]["value"] == "72"
    xml = _client(server, COUNT_DECISIONS, XML).queryAndConvert()
    assert xml.getElementsByTagName("literal")[0].firstChild.data == "72"
    rows = list(csv.reader(io.StringIO(_client(server, COUNT_DECISIONS, CSV).queryAndConvert().decode())))
    assert rows == [["n"], ["72"]]
    tsv = _client(server, COUNT_DECISIONS, TSV).queryAndConvert().decode().splitlines()
    assert tsv == ["?n", '"72"^^<http://www.w3.org/2001/XMLSchema#integer>']


def test_ask_and_post_methods(server):
    client = _client(server, f'ASK {{ ?d <{IMR}outcome> "Overturned" }}', JSON)
    assert client.queryAndConvert()["boolean"] is True
    client = _client(server, COUNT_DECISIONS, JSON)
    client.setMethod("POST")
    assert client.queryAndConvert()["results"]["bindings"][0]["n"]["value"] == "72"
    direct = httpx.post(server + "/sparql", content=COUNT_DECISIONS,
                        headers={"content-type": "application/sparql-query", "accept": "text/csv"})
    assert (direct.status_code, direct.text) == (200, "n\r\n72\r\n")


@pytest.mark.parametrize("fmt, parse_as", [(TURTLE, "turtle"), (JSONLD, "json-ld"), (N3, "turtle")])
def test_construct_in_rdf_formats(server, fmt, parse_as):
    query = (f"CONSTRUCT {{ ?m <http://www.w3.org/2004/02/skos/core#prefLabel> ?l }} WHERE {{ ?m a <{IMR}Medication> ;"
             f" <http://www.w3.org/2004/02/skos/core#prefLabel> ?l }}")
    result = _client(server, query, fmt).query()
    body = result.response.read()
    graph = rdflib.Graph().parse(data=body, format=parse_as)
    labels = {str(o) for o in graph.objects()}
    assert len(labels) == 18 and "carisoprodol" in labels


def test_named_graph_scoping(server):
    graph = "https://w3id.org/imr-kg/id/graph/letter/000_ed7318db5454d5ef"
    r = httpx.get(server + "/sparql", params={"query": COUNT_DECISIONS, "default-graph-uri": graph},
                  headers={"accept": "text/csv"})
    assert r.text.splitlines() == ["n", "2"]
    q = f"SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE {{ GRAPH ?g {{ ?d a <{IMR}Decision> }} }}"
    r = httpx.get(server + "/sparql", params={"query": q, "named-graph-uri": graph}, headers={"accept": "text/csv"})
    assert r.text.splitlines() == ["n", "1"]


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * where { service silent <http://example.org/> { ?s ?p ?o } }",
])
def test_service_is_refused(server, query):
    r = httpx.get(server + "/sparql", params={"query": query})
    assert r.status_code == 403 and "SERVICE is not allowed" in r.text


def test_service_inside_a_string_is_data(server):
    q = 'SELECT ?x WHERE { BIND("SERVICE <http://x/> LOAD" AS ?x) }'
    r = httpx.get(server + "/sparql", params={"query": q}, headers={"accept": "text/csv"})
    assert r.status_code == 200 and "SERVICE" in r.text


@pytest.mark.parametrize("update", ["DROP ALL", "LOAD <http://example.org/data.ttl>",
                                    "INSERT DATA { <http://a> <http://b> <http://c> }"])
def test_update_and_load_are_refused(server, update):
    client = SPARQLWrapper(server + "/sparql")
    client.setMethod("POST")
    client.setQuery(update)
    with pytest.raises(urllib.error.HTTPError) as refused:
        client.query()
    assert refused.value.code == 403
    for r in (httpx.post(server + "/sparql", data={"update": update}),
              httpx.post(server + "/sparql", content=update, headers={"content-type": "application/sparql-update"}),
              httpx.get(server + "/sparql", params={"query": update})):
        assert r.status_code == 403
    assert _client(server, COUNT_DECISIONS, JSON).queryAndConvert()["results"]["bindings"][0]["n"]["value"] == "72"


def test_protocol_errors(server):
    with pytest.raises(QueryBadFormed):
        _client(server, "SELECT WHERE {", JSON).query()
    assert httpx.get(server + "/sparql").status_code == 400
    png = httpx.get(server + "/sparql", params={"query": COUNT_DECISIONS}, headers={"accept": "image/png"})
    assert png.status_code == 406
    plain = httpx.post(server + "/sparql", content=COUNT_DECISIONS, headers={"content-type": "text/plain"})
    assert plain.status_code == 415
    huge = httpx.post(server + "/sparql", content="#" * 2_000_000, headers={"content-type": "application/sparql-query"})
    assert huge.status_code == 413


def test_row_cap_and_timeout_leave_the_server_serving(served):
    server, supervisor = served
    before = _server_processes(supervisor)
    everything = httpx.get(server + "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert everything.status_code == 422 and "more than 5000 rows" in everything.text
    cross = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    started = time.monotonic()
    slow = httpx.get(server + "/sparql", params={"query": cross}, timeout=30)
    assert slow.status_code == 503 and "longer than 2 s" in slow.text
    assert time.monotonic() - started < 15
    with pytest.raises(urllib.error.HTTPError) as timed_out:
        _client(server, cross, JSON).query()
    assert timed_out.value.code == 503
    assert _client(server, COUNT_DECISIONS, JSON).queryAndConvert()["results"]["bindings"][0]["n"]["value"] == "72"
    assert httpx.get(server + "/health").json()["worker_restarts"] >= 1
    deadline = time.monotonic() + 30  # the process that ran away exits, and a fresh one replaces it
    now = _server_processes(supervisor)
    while (before <= now or len(now) < 2) and time.monotonic() < deadline:
        time.sleep(0.2)
        now = _server_processes(supervisor)
    assert len(now) == 2 and before - now and now - before


def test_named_queries_over_http(server):
    listing = httpx.get(server + "/queries").json()
    assert "decisions-for-medication" in {q["name"] for q in listing}
    r = httpx.get(server + "/queries/decisions-for-medication", params={"medication": "carisoprodol", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["letter"], row["outcome"]) for row in rows] == [
        ("000_ed7318db5454d5ef", "Upheld"), ("001_31f77f8318a90c33", "Upheld"),
        ("002_d7e3603ed8b34fa0", "Upheld"), ("004_cb07c567c7678ea3", "Upheld")]
    js = httpx.get(server + "/queries/uphold-rate-by-medication", headers={"accept": "application/sparql-results+json"})
    assert js.json()["results"]["bindings"][0]["medication"]["value"] == "carisoprodol"
    assert httpx.get(server + "/queries/nope").status_code == 404
    missing = httpx.get(server + "/queries/decisions-for-medication")
    assert missing.status_code == 400 and "needs --param medication" in missing.text
    hostile = httpx.get(server + "/queries/decisions-for-medication",
                        params={"medication": '"} DROP ALL {', "format": "csv"})
    assert hostile.status_code == 200 and hostile.text.splitlines()[1:] == []


def test_a_whole_kept_table_is_sent_as_its_index_is_read(server):
    """`decisions` as SPARQL JSON is streamed (chunked, no length: at 100k letters it is 163 MB),
    and holds what its CSV answer does; an answer of one letter is sent whole."""
    accept = {"accept": "application/sparql-results+json"}
    streamed = httpx.get(server + "/queries/decisions", headers=accept)
    assert streamed.status_code == 200 and streamed.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in streamed.headers
    rows = list(csv.DictReader(io.StringIO(httpx.get(server + "/queries/decisions", params={"format": "csv"}).text)))
    bindings = streamed.json()["results"]["bindings"]
    assert len(bindings) == len(rows) == 72
    assert [(b["letter"]["value"], b["outcome"]["value"]) for b in bindings] == [
        (r["letter"], r["outcome"]) for r in rows]
    assert bindings[0]["letter"]["value"] == "000_ed7318db5454d5ef"
    one = httpx.get(server + "/queries/letter-evidence", params={"letter": "CM17-0003284"}, headers=accept)
    assert one.status_code == 200 and int(one.headers["content-length"]) == len(one.content)


def _gql(server: str, query: str, variables: dict | None = None) -> dict:
    r = httpx.post(server + "/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_graphql_decisions_with_filters_and_nested_fields(server):
    data = _gql(server, """query($m: String) { decisions(filter: {medication: $m}, limit: 3) { total items {
        letterId outcome request { text strengthMg medications { name drugClass } }
        citations { party guideline { code } pages } } } }""", {"m": "carisoprodol"})["data"]["decisions"]
    assert data["total"] == 4
    first = data["items"][0]
    assert first["letterId"] == "000_ed7318db5454d5ef" and first["request"]["strengthMg"] == 350
    assert first["request"]["medications"] == [{"name": "carisoprodol", "drugClass": "muscle relaxant"}]
    assert {(c["party"], tuple(c["pages"])) for c in first["citations"]} == {("administrator", (29,)),
                                                                           ("reviewer", (29, 65))}
    over = _gql(server, "{ decisions(filter: {outcome: OVERTURNED, specialty: \"Orthopedic Surgery\"}) { total } }")
    assert over["data"]["decisions"]["total"] == 5
    dated = _gql(server, '{ decisions(filter: {decidedFrom: "2017-02-10", decidedTo: "2017-02-13", state: "tx"}) '
                         "{ total } }")
    assert dated["data"]["decisions"]["total"] == 14  # CM17-0003284 (5) and CM17-0007142 (9)
    text = _gql(server, '{ decisions(filter: {text: "cold therapy"}) { items { request { text serviceType } } } }')
    assert text["data"]["decisions"]["items"] == [{"request": {"text": "Associated surgical service: Cold therapy unit",
                                                               "serviceType": "durable medical equipment"}}]
    hostile = _gql(server, "query($m: String) { decisions(filter: {medication: $m}) { total } }",
                   {"m": '"} } DROP ALL'})
    assert hostile["data"]["decisions"]["total"] == 0


@pytest.mark.parametrize(("name", "total"), [
    ("carisoprodol", 4), ("Soma", 4), (" SOMA 350mg ", 4),  # a brand, as the letters' items are read
    ("Pepcid", 1), ("famotidine", 1),
    ("Duexis", 0),  # ibuprofen and famotidine: a decision must name both
    ("theraflex", 0),  # a name the vocabulary lacks: compared as it is
])
def test_graphql_medication_filter_reads_a_brand_as_its_generics(server, name, total):
    answer = _gql(server, "query($m: String) { decisions(filter: {medication: $m}) { total } }", {"m": name})
    assert answer["data"]["decisions"]["total"] == total


def test_graphql_filters_of_the_case_and_groupings_by_year_and_body_region(server):
    """The primer's questions by service type, diagnosis, body region, sex and year, asked through GraphQL."""
    def total(flt: str) -> int:
        return _gql(server, f"{{ decisions(filter: {{{flt}}}) {{ total }} }}")["data"]["decisions"]["total"]

    assert total('serviceType: "Imaging"') == 17  # X-rays, CT and MRI scans, a bone scan
    assert total('diagnosis: "Radiculopathy"') == 9  # words of a diagnosis, in any case
    assert (total('sex: "Female"'), total('sex: "male"')) == (50, 22)
    neck = _gql(server, '{ decisions(filter: {bodyRegion: "neck", outcome: OVERTURNED}) { items { letterId '
                        "request { text } } } }")["data"]["decisions"]["items"]
    assert neck == [{"letterId": "CM16-0248034", "request": {"text": "EMG/NCS of the bilateral upper extremities"}}]
    years = _gql(server, "{ outcomeCounts(groupBy: YEAR) { key decisions upheld overturned } }")["data"]
    assert years["outcomeCounts"] == [{"key": "2017", "decisions": 63, "upheld": 55, "overturned": 8}]  # with a cover
    regions = _gql(server, "{ outcomeCounts(groupBy: BODY_REGION) { key decisions } }")["data"]["outcomeCounts"]
    assert regions[:2] == [{"key": "low back", "decisions": 44}, {"key": "neck", "decisions": 41}]
    assert total("ageFrom: 60") == 8


def test_graphql_decisions_by_a_guideline_either_party_cited(server):
    def total(flt: str) -> int:
        return _gql(server, f"{{ decisions(filter: {{{flt}}}) {{ total }} }}")["data"]["decisions"]["total"]

    assert total('guideline: "odg"') == 39  # the code in any case
    postsurgical = _gql(server, '{ decisions(filter: {guideline: "MTUS-POSTSURGICAL"}) { items { letterId '
                                "citations { party guideline { code } } } } }")["data"]["decisions"]["items"]
    assert len(postsurgical) == 1
    cited = [(c["party"], c["guideline"]["code"]) for c in postsurgical[0]["citations"]]
    assert ("administrator", "MTUS-POSTSURGICAL") in cited
    # a section by its label in any case (the sections named so are found first, then their citations)
    assert total('guidelineSection: "SPECIAL STUDIES"') == total('guidelineSection: "Special studies"') == 19


def test_graphql_letters_by_their_case(server):
    """Cases by diagnosis, body region, age band and sex, a page at a time."""
    def letters(args: str) -> dict:
        return _gql(server, f"{{ letters({args}) {{ total items {{ id age sex }} }} }}")["data"]["letters"]

    radiculopathy = letters('filter: {diagnosis: "Radiculopathy"}')
    assert radiculopathy["total"] == 5
    assert radiculopathy["items"][:2] == [{"id": "000_ed7318db5454d5ef", "age": 53, "sex": "female"},
                                          {"id": "004_cb07c567c7678ea3", "age": 63, "sex": "female"}]
    band = letters('filter: {sex: "female", ageFrom: 50, ageTo: 60}')
    assert band["total"] == 6 and all(50 <= x["age"] <= 60 and x["sex"] == "female" for x in band["items"])
    knee = letters('filter: {bodyRegion: "knee"}, limit: 2, offset: 1')
    assert knee == {"total": 3, "items": [{"id": "CM17-0013625", "age": 40, "sex": "female"},
                                          {"id": "CM17-0021791", "age": 66, "sex": "male"}]}
    assert letters("filter: {}")["total"] == 28  # no filter given: every letter


def test_graphql_a_request_naming_a_class_of_drugs(tmp_path):
    """'Muscle relaxant #60' names no drug: GraphQL gives its class, filters and groups decisions by it."""
    text = (LETTERS / "CM17-0005412.txt").read_text(encoding="utf-8")
    (tmp_path / "class-request.txt").write_text(text.replace(
        "Lorzone 750mg one by mouth three times a day #45:", "Muscle relaxant #60:"), encoding="utf-8")
    with Store(tmp_path / "store") as store:
        assert build([tmp_path / "class-request.txt"], store).ok
    base, proc = start_kg_serve(tmp_path / "store")
    try:
        data = _gql(base, """{ decisions(filter: {drugClass: "muscle relaxant"}) { total items { request {
            text requestedDrugClass serviceType medications { name } } } } }""")["data"]["decisions"]
        request = {"text": "Muscle relaxant #60", "requestedDrugClass": "muscle relaxant", "serviceType": None,
                   "medications": []}
        assert data == {"total": 1, "items": [{"request": request}]}
        stats = _gql(base, "{ outcomeCounts(groupBy: DRUG_CLASS) { key upheld overturned } }")["data"]
        assert stats["outcomeCounts"] == [{"key": "muscle relaxant", "upheld": 1, "overturned": 0}]
    finally:
        proc.terminate()
        proc.wait(10)


def test_graphql_letters_statistics_and_pagination(server):
    data = _gql(server, """{ letters(limit: 2, offset: 1) { total items { id age sex injuryDate specialties states
        decisions { outcome } } } outcomeCounts(groupBy: MEDICATION) { key decisions upheld overturned } }""")["data"]
    assert data["letters"]["total"] == 28
    assert data["letters"]["items"][0] == {"id": "001_31f77f8318a90c33", "age": 68, "sex": "male",
                                           "injuryDate": "2011-06-13",
                                           "specialties": ["Anesthesiology", "Pain Medicine"],
                                           "states": ["CT"], "decisions": [{"outcome": "Upheld"}]}
    assert data["outcomeCounts"][0] == {"key": "carisoprodol", "decisions": 4, "upheld": 4, "overturned": 0}
    for group in GroupBy:  # tallied groupings answer as counting every decision does
        served = _gql(server, f"{{ outcomeCounts(groupBy: {group.name}) {{ key decisions upheld overturned }} }}")
        direct = httpx.get(f"{server}/sparql", params={"query": PREFIXES + outcome_counts_query(group, direct=True)},
                           headers={"accept": "application/sparql-results+json"}).json()["results"]["bindings"]
        assert served["data"]["outcomeCounts"] == [
            {"key": r["key"]["value"], "decisions": int(r["n"]["value"]), "upheld": int(r["upheld"]["value"]),
             "overturned": int(r["overturned"]["value"])} for r in direct], group
    where = "?l imr:hasDecision ?d ; dcterms:identifier ?letter . ?d imr:sequence ?seq ; imr:decides ?r ."
    for limit, offset in [(10, 0), (7, 13), (50, 30), (5, 70), (5, 500)]:  # pages found through the letter index
        page = _gql(server, f"{{ decisions(limit: {limit}, offset: {offset}) "
                            f"{{ total items {{ letterId sequence }} }} }}")
        direct = httpx.get(f"{server}/sparql", headers={"accept": "application/sparql-results+json"}, params={
            "query": f"{PREFIXES} SELECT DISTINCT ?d ?letter ?seq WHERE {{ {where} }} ORDER BY ?letter ?seq "
                     f"LIMIT {limit} OFFSET {offset}"}).json()["results"]["bindings"]
        assert page["data"]["decisions"]["total"] == 72  # the 28 sample letters
        assert page["data"]["decisions"]["items"] == [
            {"letterId": r["letter"]["value"], "sequence": int(r["seq"]["value"])} for r in direct], (limit, offset)
    letters = _gql(server, "{ letters(limit: 3, offset: 26) { total items { id } } }")["data"]["letters"]
    assert [i["id"] for i in letters["items"]] == ["CM17-0019907", "CM17-0021791"] and letters["total"] == 28
    one = _gql(server, '{ letter(id: "CM17-0003284") { caseNumber decisionDate decisions { request { text } } } }')
    assert one["data"]["letter"]["caseNumber"] == "CM17-0003284"
    assert len(one["data"]["letter"]["decisions"]) == 5


# A decision whose item text or rationale holds some words, whatever their case
_TEXT_HOLDS = ("{{ ?d imr:decides/imr:itemText ?t . FILTER(CONTAINS(LCASE(?t), {0})) }} UNION "
               "{{ ?d imr:rationale ?t . FILTER(CONTAINS(LCASE(?t), {0})) }}")


@pytest.mark.parametrize(("flt", "sparql"), [
    ("outcome: OVERTURNED", '?d imr:outcome "Overturned" .'),
    ('sex: "female"', '?l imr:aboutCase/imr:injuredWorker/imr:sex "female" .'),
    ('diagnosis: "radiculopathy"',
     '?l imr:aboutCase/imr:diagnosis/imr:label ?x . FILTER(CONTAINS(?x, "radiculopathy"))'),
    ('bodyRegion: "knee", outcome: UPHELD', '?l imr:aboutCase/(imr:diagnosis|imr:injury)/imr:bodyRegion/skos:prefLabel '
                                           '"knee" . ?d imr:outcome "Upheld" .'),
    ('guideline: "ODG"', '?d imr:citation/imr:guideline/skos:notation "ODG" .'),
    ('text: "MRI"', _TEXT_HOLDS.format('"mri"')),
])
def test_graphql_filtered_pages_are_the_sorted_matches(server, flt, sparql):
    """A filtered page, found by walking the letters in order, holds what sorting every match gives."""
    where = f"?l imr:hasDecision ?d ; dcterms:identifier ?letter . ?d imr:sequence ?seq . {sparql}"
    direct = httpx.get(f"{server}/sparql", headers={"accept": "application/sparql-results+json"}, params={
        "query": f"{PREFIXES} SELECT DISTINCT ?d ?letter ?seq WHERE {{ {where} }} ORDER BY ?letter ?seq"})
    every = [{"letterId": r["letter"]["value"], "sequence": int(r["seq"]["value"])}
             for r in direct.json()["results"]["bindings"]]
    assert len(every) > 5
    for limit, offset in [(3, 0), (4, 5), (50, 0), (5, len(every) - 2), (5, len(every) + 10)]:
        page = _gql(server, f"{{ decisions(filter: {{{flt}}}, limit: {limit}, offset: {offset}) "
                            f"{{ total items {{ letterId sequence }} }} }}")["data"]["decisions"]
        assert page == {"total": len(every), "items": every[offset:offset + limit]}, (limit, offset)
    letters = sorted({row["letterId"] for row in every})
    if "?d" not in sparql:  # a condition of the letter: the letters page too
        page = _gql(server, f"{{ letters(filter: {{{flt}}}, limit: 2, offset: 1) {{ total items {{ id }} }} }}")
        assert page["data"]["letters"] == {"total": len(letters), "items": [{"id": i} for i in letters[1:3]]}


def test_graphql_filters_without_the_stores_indexes_answer_the_same(server, tmp_path):
    """A store whose letters do not all keep their tallies and rows (built before they existed) has
    no letter index and no index of diagnosis labels, and one without its text index no copy of the
    filters' values: its filtered pages are sorted from every match and its diagnoses' labels compared
    one by one, with the same answers."""
    with Store(tmp_path / "s") as store:
        assert build([samples_dir()], store).ok
        store._store.remove(tallies_complete_mark())
    (tmp_path / "s" / text_index.FILE).unlink()
    base, proc = _start(tmp_path / "s")
    try:
        for flt in ('diagnosis: "Radiculopathy"', 'diagnosis: "radiculopathy", sex: "female", ageFrom: 40',
                    'diagnosis: "no such words"', 'bodyRegion: "knee", outcome: UPHELD', 'decidedFrom: "2017-01-01"'):
            for kind, fields in (("decisions", "letterId sequence"), ("letters", "id")):
                query = f"{{ {kind}(filter: {{{flt}}}, limit: 4, offset: 2) {{ total items {{ {fields} }} }} }}"
                if kind == "letters" and "outcome" in flt:
                    continue
                answer = _gql(base, query)
                assert "errors" not in answer and answer == _gql(server, query), query
        assert _gql(base, '{ letters(filter: {diagnosis: "radiculopathy"}) { total } }')["data"]["letters"] == {
            "total": 5}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_worker_finds_the_diagnosis_labels_holding_words(sample_store):
    status, media, body = execute(sample_store, {"kind": "diagnosis-labels", "words": "Knee"}, max_rows=10)
    assert (status, media) == (200, "application/json")
    assert json.loads(body) == ["persistent left knee pain", "right knee contusion and injury",
                                "sprain of unspecified site of the bilateral knees",
                                "unspecified internal derangement of the bilateral knees"]
    assert json.loads(execute(sample_store, {"kind": "diagnosis-labels", "words": "xyzzy"}, max_rows=10)[2]) == []


def test_a_querys_slots_are_filled_once():
    """A letter's id or a user's words that spell a slot's name are not filled in again."""
    filled = filtered.fill("{ LETTERS ?l x ?y . FILTERS }", LETTERS="VALUES ?l { <http://x/FILTERS> }",
                           FILTERS='?y <p> "LETTERS" .')
    assert filled == '{ VALUES ?l { <http://x/FILTERS> } ?l x ?y . ?y <p> "LETTERS" . }'


needs_text_index = pytest.mark.skipif(not text_index.available(),
                                      reason="this Python's SQLite lacks FTS5's trigram tokenizer (3.34 on)")


class _InProcess:
    """A runner that answers in this process, as a server's worker does."""

    max_rows = 10_000

    def __init__(self, store: Store) -> None:
        self.store = store
        self.generation = 0
        self.asked: list[str] = []  # the SPARQL queries asked
        self.facet_counts = 0  # the counts made by the index of the filters' values

    async def ask(self, request: dict[str, Any], timeout: float | None = None) -> Answer:
        self.asked += [request["query"]] if request["kind"] == "sparql" else []
        answer = Answer(*execute(self.store, request, self.max_rows))
        # a count made by the index of the filters' values (null: it could not tell)
        self.facet_counts += request["kind"] == "facet-page" and request["count"] and answer.content() != b"null"
        return answer


@pytest.mark.parametrize("flt", [
    {"text": "mri"}, {"text": "Physical Therapy", "outcome": "Upheld"},
    {"text": "350", "medication": ("carisoprodol",)}, {"sex": "female"}, {"diagnosis": "radiculopathy", "age_from": 40},
])
def test_a_filtered_page_is_the_same_sorted_here_walked_or_sorted_by_the_store(sample_store, monkeypatch, flt):
    """Few matches are sorted here; more are counted, then walked through the letter index or
    sorted by the store: the three give the same pages, as SQLite's from the filters' values do."""
    runner = _InProcess(sample_store)
    index = LetterIndex.of(json.loads(execute(sample_store, {"kind": "letter-index"}, 10_000)[2]))

    def found(few: int, with_index: bool) -> list[tuple[int, list[dict[str, str]]]]:
        monkeypatch.setattr(filtered, "FEW_MATCHES", few)

        async def every_page() -> list[tuple[int, list[dict[str, str]]]]:
            patterns = await filtered.patterns(runner, flt)
            return [await filtered.filtered_page(runner, index if with_index else None, filtered.DECISIONS,
                                              patterns, offset, limit, filtered.Matched())
                    for limit, offset in [(3, 0), (4, 5), (50, 0), (2, 20), (5, 1000)]]
        return asyncio.run(every_page())

    here = found(2_000, True)  # paged by SQLite where the store's index keeps the filters' values
    monkeypatch.setattr(Store, "page_matching", lambda self, *args: None)  # in SPARQL
    assert here == found(2_000, True) == found(0, True) == found(0, False)
    monkeypatch.setattr(filtered, "WALK_MAX_ROWS", 4)  # deep pages: chunks counted to, then walked
    monkeypatch.setattr(filtered, "WALK_CHUNK", 3)
    assert found(0, True) == here
    assert here[2][0] == len(here[2][1]) > 2  # every match on the page of 50
    assert [r["letter"] for r in here[2][1]] == sorted(r["letter"] for r in here[2][1])


def test_the_next_page_of_the_same_filters_is_not_counted_again(sample_store):
    """A filter's count (or its few rows) is kept for its next pages until the store changes."""
    runner, matched = _InProcess(sample_store), filtered.Matched(size=2)
    index = LetterIndex.of(json.loads(execute(sample_store, {"kind": "letter-index"}, 10_000)[2]))

    def page(flt: dict[str, Any], offset: int) -> tuple[int, list[dict[str, str]]]:
        async def one() -> tuple[int, list[dict[str, str]]]:
            patterns = await filtered.patterns(runner, flt)
            return await filtered.filtered_page(runner, index, filtered.DECISIONS, patterns, offset, 5, matched)
        return asyncio.run(one())

    def counted() -> int:  # by the index of the filters' values (kg.facet_index), or in SPARQL
        return runner.facet_counts + sum("COUNT(DISTINCT ?d)" in q for q in runner.asked)

    upheld = {"outcome": "Upheld"}
    first, second = page(upheld, 0), page(upheld, 5)
    assert first[0] == second[0] == 64 and counted() == 1 and first[1] != second[1]
    runner.generation += 1  # the store changed
    assert page(upheld, 0) == first and counted() == 2
    # words the text index finds: counted once and paged by SQLite with the filters' values
    asked = len(runner.asked)
    assert page({"text": "MRI"}, 0)[0] == page({"text": "MRI"}, 5)[0] == 12
    assert len(runner.asked) == asked and counted() == 3
    asked = len(runner.asked)  # too short for it: every text read, its few rows listed once
    assert page({"text": "ct"}, 0)[0] == page({"text": "ct"}, 5)[0] == 57
    assert len(runner.asked) == asked + 1 and counted() == 3
    page({"sex": "female"}, 0)  # a third filter: the least recently used is dropped
    assert page(upheld, 5) == second and counted() == 5


@needs_text_index
def test_the_text_filter_starts_from_the_decisions_the_text_index_names(sample_store):
    """Words of three characters or more, held by at most kg.text_index.MOST_DECISIONS decisions, are looked up
    in the text index; others are looked for in every text."""
    runner = _InProcess(sample_store)
    looked_up = asyncio.run(filtered.patterns(runner, {"text": "wedge pillow", "outcome": "Upheld"}))
    decisions = ("<https://w3id.org/imr-kg/id/letter/CM16-0248471/decision/3> "
                 "<https://w3id.org/imr-kg/id/letter/CM16-0248471/decision/4>")
    lateral = 'LATERAL { ?d imr:outcome "Upheld" . }'
    assert looked_up.first == f"VALUES ?d {{ {decisions} }} ?l imr:hasDecision ?d . {lateral}"
    assert looked_up.list_first and looked_up.joined and "CONTAINS" in looked_up.in_letters  # a walk's letters
    assert asyncio.run(filtered.patterns(runner, {"text": "no such words"})).first == "FILTER(false)"
    assert "VALUES" not in asyncio.run(filtered.patterns(runner, {"text": "ct"})).first


@needs_text_index
def test_words_held_by_more_decisions_than_the_index_names_are_counted_by_it(sample_store, monkeypatch):
    """Past the cap the index gives the number of matches: a filter of words alone is not counted again;
    with another filter that narrows nothing, the index counts and pages them with the other filter's
    values (kg.facet_index), and its pages are those of reading every text."""
    monkeypatch.setattr("kg.server.execute.MOST_DECISIONS", 10)
    runner, index = _InProcess(sample_store), LetterIndex.of(
        json.loads(execute(sample_store, {"kind": "letter-index"}, 10_000)[2]))

    def page(flt: dict[str, Any], offset: int) -> tuple[int, list[dict[str, str]]]:
        async def one() -> tuple[int, list[dict[str, str]]]:
            patterns = await filtered.patterns(runner, flt)
            return await filtered.filtered_page(runner, index, filtered.DECISIONS, patterns, offset, 5,
                                                filtered.Matched())
        return asyncio.run(one())

    def counted() -> int:  # by the index of the filters' values (kg.facet_index), or in SPARQL
        return runner.facet_counts + sum("COUNT(DISTINCT ?d)" in q for q in runner.asked)

    assert asyncio.run(filtered.patterns(runner, {"text": "is not medically"})).total == 61
    pages = [page({"text": "is not medically"}, offset) for offset in (0, 30, 58)]
    assert counted() == 0 and [total for total, _ in pages] == [61, 61, 61] and len(pages[2][1]) == 3
    looked_up, paged = Store.decisions_with_words, Store.page_matching
    monkeypatch.setattr(Store, "decisions_with_words", lambda self, words, cap: None)  # every text read
    monkeypatch.setattr(Store, "page_matching", lambda self, *args: None)
    assert [page({"text": "is not medically"}, offset) for offset in (0, 30, 58)] == pages
    upheld, female = {"text": "is not medically", "outcome": "Upheld"}, {"text": "is not medically", "sex": "female"}
    every_text = {offset: page(upheld, offset) for offset in (0, 30, 55)}
    assert [total for total, _ in every_text.values()] == [61] * 3 and len(every_text[55][1]) == 5
    every_text_female = {offset: page(female, offset) for offset in (0, 10)}
    assert every_text_female[0][0] == 43
    monkeypatch.setattr(Store, "decisions_with_words", looked_up)
    monkeypatch.setattr(Store, "page_matching", paged)
    asked = len(runner.asked)  # with another filter, counted and paged by the index with the filters' values
    assert {offset: page(upheld, offset) for offset in every_text} == every_text
    assert {offset: page(female, offset) for offset in every_text_female} == every_text_female
    assert runner.facet_counts == 5 and all("COUNT" not in q for q in runner.asked[asked:])
    assert page({"text": "is not medically", "outcome": "Overturned"}, 0) == (0, [])


def test_what_filters_matched_is_forgotten_after_its_time(monkeypatch):
    """A remote store changed by another process keeps its generation: a kept count expires."""
    now = [1000.0]
    monkeypatch.setattr(filtered.time, "monotonic", lambda: now[0])
    matched = filtered.Matched(size=2, seconds=120)
    matched.put((1, 0, b"count"), filtered.Counted(7))
    now[0] += 119
    assert matched.get((1, 0, b"count")) == filtered.Counted(7)
    now[0] += 2
    assert matched.get((1, 0, b"count")) is None


def test_the_text_filter_reads_the_item_and_the_rationale(server):
    """Words of an item's text or of its decision's rationale, in any case; with a medication, among
    its decisions only."""
    found_all = _gql(server, "{ decisions { total } }")["data"]["decisions"]["total"]

    def found(flt: str) -> list[tuple[str, int]]:
        page = _gql(server, f"{{ decisions(filter: {{{flt}}}, limit: 500) {{ total items {{ letterId sequence }} }} }}")
        items = page["data"]["decisions"]["items"]
        assert page["data"]["decisions"]["total"] == len(items)
        return [(i["letterId"], i["sequence"]) for i in items]

    # the cervical pillow's rationale ('to warrant the requested cervical and wedge pillow'), the item 'Wedge pillow'
    assert found('text: "wedge PILLOW"') == [("CM16-0248471", 3), ("CM16-0248471", 4)]
    assert found('text: " wedge\\n  pillow "') == found('text: "wedge pillow"')  # spaced as the letters' texts
    assert len(found('text: "   "')) == found_all == 72  # no words: no filter
    assert found('text: "350", medication: "carisoprodol"') == [("000_ed7318db5454d5ef", 1),
                                                                  ("001_31f77f8318a90c33", 1),
                                                                  ("004_cb07c567c7678ea3", 1)]
    assert found('text: "no such words"') == []


def test_a_walk_through_the_letters_reads_chunks_until_the_page_is_full(monkeypatch):
    """Chunks grow to a cap until the page is found; a walk that would read more letters than there
    are matches to sort, or than the limit, is not begun, and one that finds the matches further on
    than their share said gives up (the matches are sorted then)."""
    index = LetterIndex.of([(f"L{i:04}", 1) for i in range(1000)])
    every_7th = [f"L{i:04}" for i in range(0, 1000, 7)]  # 143 letters match
    asked: list[int] = []

    def walk(matches: int, wanted: int, matching: list[str] = every_7th) -> list[dict[str, str]] | None:
        async def in_letters(ids: list[str], n: int) -> list[dict[str, str]]:
            asked.append(len(ids))
            return [{"id": i} for i in ids if i in matching][:n]

        asked.clear()
        return asyncio.run(filtered.walk(index, matches, 0, wanted, in_letters, {0: 0}, "id"))

    monkeypatch.setattr(filtered, "WALK_MAX_LETTERS", 300)
    monkeypatch.setattr(filtered, "WALK_CHUNK", 100)
    assert walk(143, 5) == [{"id": i} for i in every_7th[:5]]
    assert asked == [61]  # one chunk, sized from the share that matches: 1.5 * 5 * 1000 / 143 + 8
    assert walk(400, 20) == [{"id": i} for i in every_7th[:20]] and asked == [83, 100]  # chunks of 100 at most
    assert walk(1000, 40) is None and asked == [68, 100]  # past twice the 68 letters expected: gives up
    assert walk(100, 5, matching=[f"L{i:04}" for i in range(900, 1000)]) is None and asked == [83, 100]
    assert walk(143, 20) is None and asked == []  # 218 letters to read, 143 matches to sort
    assert walk(10, 20) is None and asked == []  # 3,008 letters > 300
    assert walk(0, 20) is None
    assert asyncio.run(filtered.walk(None, 143, 0, 20, lambda ids, n: None, {0: 0}, "id")) is None


def test_a_next_page_is_walked_to_from_the_last_mark_before_it(monkeypatch):
    """A walk leaves marks (how many matches lie before a letter), and the next page starts from the
    last mark before it: paging on reads a page's letters, not every letter before it."""
    index = LetterIndex.of([(f"L{i:04}", 2) for i in range(1000)])
    every_3rd = [f"L{i:04}" for i in range(0, 1000, 3)]  # 334 letters, two matches each: 668
    read: list[str] = []

    async def in_letters(ids: list[str], n: int) -> list[dict[str, str]]:
        read.extend(ids)
        return [{"id": i, "seq": str(k)} for i in ids if i in every_3rd for k in (1, 2)][:n]

    def page(offset: int, limit: int, marks: dict[int, int]) -> list[tuple[str, str]] | None:
        read.clear()
        rows = asyncio.run(filtered.walk(index, 668, offset, limit, in_letters, marks, "id"))
        return None if rows is None else [(r["id"], r["seq"]) for r in rows]

    everything = [(i, str(k)) for i in every_3rd for k in (1, 2)]
    monkeypatch.setattr(filtered, "WALK_MAX_ROWS", 100)
    marks: dict[int, int] = {0: 0}
    for offset in range(0, 600, 50):  # 12 pages of 50, each within the 100 rows a walk may read
        assert page(offset, 50, marks) == everything[offset:offset + 50], offset
        assert len(read) < 200, offset  # about the page's 75 letters, not the 75 * k before it
        assert all(everything.index(next(r for r in everything if r[0] >= f"L{p:04}")) == n
                   for p, n in marks.items() if p < 1000)  # every mark is right
    assert page(500, 50, {0: 0}) is None  # without marks, 550 rows are more than a walk may read


def test_a_page_far_from_any_mark_is_reached_by_counting_chunks(monkeypatch):
    """Asked for directly, a deep page is reached by counting the matches of chunks of letters (no
    rows), each count a mark, then walked; not when the matches are too sparse to reach it so."""
    index = LetterIndex.of([(f"L{i:04}", 2) for i in range(1000)])
    every_3rd = [f"L{i:04}" for i in range(0, 1000, 3)]  # 668 matches
    everything = [(i, str(k)) for i in every_3rd for k in (1, 2)]
    counted: list[int] = []

    async def in_letters(ids: list[str], n: int) -> list[dict[str, str]]:
        return [{"id": i, "seq": str(k)} for i in ids if i in every_3rd for k in (1, 2)][:n]

    async def count_in(ids: list[str]) -> int:
        counted.append(len(ids))
        return 2 * sum(i in every_3rd for i in ids)

    monkeypatch.setattr(filtered, "WALK_MAX_ROWS", 100)
    monkeypatch.setattr(filtered, "WALK_CHUNK", 100)
    marks: dict[int, int] = {0: 0}
    asyncio.run(filtered.skip(index, 668, 500, 50, count_in, marks))
    assert counted == [100] * 7 and marks[700] == 468  # the 8th chunk holds row 500
    rows = asyncio.run(filtered.walk(index, 668, 500, 50, in_letters, marks, "id"))
    assert [(r["id"], r["seq"]) for r in rows] == everything[500:550]
    monkeypatch.setattr(filtered, "WALK_MAX_ROWS", 60)  # nearer than a chunk: the one holding row 500 is halved
    marks = {0: 0}
    asyncio.run(filtered.skip(index, 668, 500, 50, count_in, marks))
    assert 490 <= max(marks.values()) <= 500
    rows = asyncio.run(filtered.walk(index, 668, 500, 50, in_letters, marks, "id"))
    assert [(r["id"], r["seq"]) for r in rows] == everything[500:550]
    monkeypatch.setattr(filtered, "WALK_MAX_LETTERS", 300)  # 500 rows lie in ~750 letters: not counted to
    counted.clear()
    asyncio.run(filtered.skip(index, 668, 500, 50, count_in, {0: 0}))
    assert counted == []
def test_graphql_limits(server):
    aliases = "{ " + " ".join(f"a{i}: medications {{ name }}" for i in range(30)) + " }"
    assert "errors" in _gql(server, aliases)
    bad_page = _gql(server, "{ decisions(limit: 100000) { total } }")
    assert "limit must be" in bad_page["errors"][0]["message"]
    graphiql = httpx.get(server + "/graphql", headers={"accept": "text/html"})
    assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
    # a body past the server's limit (1 MB), declared or streamed in chunks, is refused before it is read whole
    large = json.dumps({"query": "query($t: String) { decisions(filter: {text: $t}) { total } }",
                        "variables": {"t": "x" * 1_100_000}}).encode()
    declared = httpx.post(server + "/graphql", content=large, headers={"content-type": "application/json"})
    assert (declared.status_code, declared.text) == (413, "request body larger than 1000000 bytes\n")
    chunked = httpx.post(server + "/graphql", content=iter([large[i:i + 65536] for i in range(0, len(large), 65536)]),
                         headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    assert _gql(server, '{ decisions(filter: {text: "wedge pillow"}) { total } }')["data"]["decisions"]["total"] == 2


def test_letter_page_highlights_every_evidence_span(server):
    page = httpx.get(server + "/letters/000_ed7318db5454d5ef")
    assert page.status_code == 200
    assert 'id="span-1043-1045"' in page.text  # the age, 53
    q = f"""SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?node ?ev ?p WHERE {{
        ?ev <{IMR}inLetter> <https://w3id.org/imr-kg/id/letter/000_ed7318db5454d5ef> . ?node <{IMR}evidence> ?ev .
        OPTIONAL {{ ?ev <{IMR}supports> ?p }} }} }}"""
    facts = int(httpx.get(server + "/sparql", params={"query": q}, headers={"accept": "text/csv"}).text.split()[1])
    assert page.text.count('<tr id="fact-') == facts > 20
    assert httpx.get(server + "/letters/nope").status_code == 404


def test_index_and_health(server):
    index = httpx.get(server + "/")
    assert "/sparql" in index.text and "uphold-rate-by-medication" in index.text
    assert httpx.get(server + "/health").json()["status"] == "ok"


def test_graphql_schema_matches_the_shapes():
    from kg.server.graphql import SCHEMA_MAP
    from kg.validate import _short, shapes_graph

    sg = shapes_graph()
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    shaped = {_short(s): {_short(p) for ps in sg.subjects(sh.targetClass, s) for p in sg.objects(ps, sh.path)}
              for s in set(sg.objects(None, sh.targetClass))}
    for gql_type, (cls, fields) in SCHEMA_MAP.items():
        assert cls in shaped, gql_type
        missing = {f: p for f, p in fields.items() if p not in shaped[cls]}
        assert not missing, (gql_type, missing)


def test_serve_without_a_store_exits_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kg.cli", "serve", "--store", str(tmp_path / "none")],
                         capture_output=True, timeout=60)
    assert out.returncode == 2




CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
_HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(shutil.which("roqet") is None, reason="rasqal-utils is not installed (.ci/run installs it)")
def test_roqet_reads_the_endpoint_unchanged(server):
    q = f"SELECT ?o (COUNT(?d) AS ?n) WHERE {{ ?d <{IMR}outcome> ?o }} GROUP BY ?o ORDER BY ?o"
    out = subprocess.run(["roqet", "-q", "-p", server + "/sparql", "-e", q], capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines() == [
        'row: [o=string("Overturned"), n=string("8"^^<http://www.w3.org/2001/XMLSchema#integer>)]',
        'row: [o=string("Upheld"), n=string("64"^^<http://www.w3.org/2001/XMLSchema#integer>)]']


COMUNICA = os.environ.get("KG_COMUNICA") or shutil.which("comunica-sparql") or next(
    (str(p) for p in [Path(__file__).parents[1] / ".node/node_modules/.bin/comunica-sparql"] if p.exists()), None)


def _comunica(server: str, query: str, media_type: str) -> str:
    out = subprocess.run([COMUNICA, f"sparql@{server}/sparql", query, "-t", media_type],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.skipif(COMUNICA is None, reason="@comunica/query-sparql is not installed (.ci/run installs it with npm)")
def test_comunica_reads_the_endpoint_unchanged(server):
    """Comunica's command line, pointed at /sparql as a SPARQL source, gets the same answers."""
    q = f"SELECT ?o (COUNT(?d) AS ?n) WHERE {{ ?d <{IMR}outcome> ?o }} GROUP BY ?o ORDER BY ?o"
    rows = json.loads(_comunica(server, q, "application/sparql-results+json"))["results"]["bindings"]
    assert [(r["o"]["value"], r["n"]["value"]) for r in rows] == [("Overturned", "8"), ("Upheld", "64")]
    label = "<http://www.w3.org/2004/02/skos/core#prefLabel>"
    construct = f"CONSTRUCT {{ ?m {label} ?l }} WHERE {{ ?m a <{IMR}Medication> ; {label} ?l }}"
    graph = rdflib.Graph().parse(data=_comunica(server, construct, "text/turtle"), format="turtle")
    assert len(graph) == 18 and rdflib.Literal("carisoprodol") in set(graph.objects())


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_letter_page_in_a_real_browser(server, tmp_path):
    """Chromium renders the evidence page: every span is a <mark>, and a screenshot is kept."""
    url = server + "/letters/CM17-0003284"
    dom = subprocess.run([CHROMIUM, *_HEADLESS, f"--user-data-dir={tmp_path / 'a'}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    spans = int(dom.split(" evidence spans")[0].rsplit("·", 1)[-1].strip())
    assert spans > 50
    assert dom.count('<mark id="span-') == spans  # each span starts one marked piece
    assert '<mark id="span-15-27" class="">CM17-0003284</mark>' in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "letter-CM17-0003284.png"
    shot.unlink(missing_ok=True)
    subprocess.run([CHROMIUM, *_HEADLESS, f"--user-data-dir={tmp_path / 'b'}", "--window-size=1400,900",
                    f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_updates_only_when_allowed_and_with_the_token(tmp_path):
    store_dir = tmp_path / "store"
    with Store(store_dir) as store:
        assert build([Path(__file__).parent / "fixtures" / "letters" / "000_ed7318db5454d5ef.txt"], store).ok
    base, proc = start_kg_serve(store_dir, "--allow-update", "--workers", "2", env={**os.environ, "KG_TOKEN": "s3cret"})
    try:
        insert = 'INSERT DATA { GRAPH <urn:x:notes> { <urn:x:a> <urn:x:says> "hello" } }'
        assert httpx.post(base + "/sparql", data={"update": insert}).status_code == 401
        wrong = httpx.post(base + "/sparql", data={"update": insert}, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = httpx.post(base + "/sparql", content=insert, timeout=60,
                        headers={"content-type": "application/sparql-update", "authorization": "Bearer s3cret"})
        assert ok.status_code == 204
        for _ in range(8):  # new connections, answered by either process: both see the update
            asked = httpx.get(base + "/sparql", params={"query": 'ASK { <urn:x:a> <urn:x:says> "hello" }'})
            assert asked.json()["boolean"] is True
        load = httpx.post(base + "/sparql", data={"update": "LOAD <http://127.0.0.1:9/x.ttl>"},
                          headers={"authorization": "Bearer s3cret"})
        assert load.status_code == 403
        assert httpx.get(base + "/sparql", params={"update": insert}).status_code == 403
    finally:
        proc.terminate()
        proc.wait(10)


def test_allow_update_without_a_token_is_a_usage_error(tmp_path):
    with Store(tmp_path / "s") as store:
        store.load_ontology()
    out = subprocess.run([sys.executable, "-m", "kg.cli", "serve", "--store", str(tmp_path / "s"), "--allow-update"],
                         capture_output=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "KG_TOKEN"})
    assert out.returncode == 2


def _start(store_dir: Path, *extra: str) -> tuple[str, subprocess.Popen]:
    return start_kg_serve(store_dir, *extra)


def test_the_server_shows_a_build_made_by_another_process_once_it_is_complete(tmp_path, monkeypatch):
    import threading

    letters = Path(__file__).parent / "fixtures" / "letters"
    store_dir = tmp_path / "store"
    with Store(store_dir) as store:
        assert build([letters / "000_ed7318db5454d5ef.txt"], store).ok
    base, proc = _start(store_dir, "--workers", "2")

    def seen() -> set[tuple[int, tuple[str, ...], int, int]]:
        """What 2 requests of each kind (new connections: either process) see: letters, the letters
        of the decisions table, GraphQL's count of letters and of the decisions whose item reads
        'one TID' (the second letter's, found in the text index the build updates)."""
        out = set()
        for _ in range(2):
            count = httpx.get(base + "/sparql", params={"query": f"SELECT (COUNT(?l) AS ?n) {{ ?l a <{IMR}Letter> }}"})
            table = httpx.get(base + "/queries/decisions", params={"format": "csv"})
            letters_total = _gql(base, "{ letters { total } }")["data"]["letters"]["total"]
            tid = _gql(base, '{ decisions(filter: {text: "one TID"}) { total } }')["data"]["decisions"]["total"]
            rows = tuple(sorted({row["letter"] for row in csv.DictReader(io.StringIO(table.text))}))
            out.add((int(count.json()["results"]["bindings"][0]["n"]["value"]), rows, letters_total, tid))
        return out

    written, finish = threading.Event(), threading.Event()
    check = Store.check_tallies

    def paused(self: Store) -> None:  # the letters are written; the tables are not made yet
        written.set()
        finish.wait(60)
        check(self)

    def another_build() -> None:
        with Store(store_dir) as writer:
            build([letters / "001_31f77f8318a90c33.txt"], writer)

    monkeypatch.setattr(Store, "check_tallies", paused)
    builder = threading.Thread(target=another_build)
    try:
        assert seen() == {(1, ("000_ed7318db5454d5ef",), 1, 0)}
        builder.start()
        assert written.wait(60)
        time.sleep(2.5)  # each server process has looked at the store, and found the write going on
        assert seen() == {(1, ("000_ed7318db5454d5ef",), 1, 0)}  # the last complete state
        finish.set()
        builder.join(60)
        both = (2, ("000_ed7318db5454d5ef", "001_31f77f8318a90c33"), 2, 1)
        deadline = time.time() + 20
        while seen() != {both} and time.time() < deadline:
            time.sleep(0.5)
        assert seen() == {both}
    finally:
        finish.set()
        proc.terminate()
        proc.wait(10)
