"""Every named query over the sample corpus, with rows worked out from the letters."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kg.answer import run, table_rows
from kg.build import build
from kg.cli import app
from kg.kept import definitions
from kg.queries import QueryError, TooManyRows, all_queries, named_query, select_result, without_header
from kg.resources import data_dir
from kg.store import Store

from .conftest import LETTERS

runner = CliRunner()


def rows(store, name, **params):
    return table_rows(store, named_query(name), params)[1]


@pytest.mark.parametrize("query", all_queries(), ids=lambda q: q.name)
def test_every_named_query_is_documented_and_answers(sample_store, query):
    assert query.title and query.description and query.example.startswith("kg ")
    for p in query.parameters:
        assert p.doc and (p.required or p.default)
    _, got = table_rows(sample_store, query, query.example_params)
    assert got, f"{query.name} returns nothing on the sample corpus"


def test_uphold_rate_by_medication(sample_store):
    got = rows(sample_store, "uphold-rate-by-medication")
    assert got[0] == ["carisoprodol", "4", "4", "0", "1"]
    assert got[1] == ["gabapentin", "2", "2", "0", "1"]  # 004's compound and Fanatrex (CM17-0013625)
    assert ["chlorzoxazone", "1", "1", "0", "1"] in got  # Lorzone
    assert [r[0] for r in got[2:]] == [
        "alprazolam", "amitriptyline", "baclofen", "bupivacaine", "celecoxib", "chlorzoxazone", "cyclobenzaprine",
        "dexamethasone", "diphenhydramine", "famotidine", "flurbiprofen", "orphenadrine", "oxycodone",
        "pantoprazole", "ranitidine", "temazepam"]


def test_decisions_for_carisoprodol_with_their_sentences(sample_store):
    got = rows(sample_store, "decisions-for-medication", medication="carisoprodol")
    assert [(r[1], r[2], r[3]) for r in got] == [
        ("000_ed7318db5454d5ef", "Soma tablets 350mg", "Upheld"),
        ("001_31f77f8318a90c33", "Soma 350mg one TID #90", "Upheld"),
        ("002_d7e3603ed8b34fa0", "Soma Unknown prescription", "Upheld"),
        ("004_cb07c567c7678ea3", "Soma 350mg #90", "Upheld")]
    text = sample_store.query('SELECT ?t WHERE { ?l <http://purl.org/dc/terms/identifier> "000_ed7318db5454d5ef" ;'
                              ' <https://w3id.org/imr-kg/ontology#text> ?t }')
    letter = next(iter(text))["t"].value
    assert letter[int(got[0][5]):int(got[0][6])] == got[0][4]
    assert " ".join(got[0][4].split()) == "Therefore, the request for Soma tablets 350mg is not medically necessary."


def test_a_words_parameter_is_read_as_the_parser_writes_a_label(sample_store):
    """Lowercase, one space between words: 'Lumbar  Radiculopathy' is the label lumbar radiculopathy."""
    exact = rows(sample_store, "cases-with-diagnosis", label="lumbar radiculopathy")
    assert [r[1] for r in exact] == ["004_cb07c567c7678ea3", "CM17-0005412"]
    assert rows(sample_store, "cases-with-diagnosis", label=" Lumbar  Radiculopathy") == exact
    assert (rows(sample_store, "cases-by-diagnosis", diagnosis="LUMBAR\tradiculopathy ")
            == rows(sample_store, "cases-by-diagnosis", diagnosis="lumbar radiculopathy"))


def test_what_makes_kept_rows_is_the_queries_not_their_documentation():
    """A store's kept rows and tallies are stale when a query changes, not when its header does."""
    assert without_header("# title: T\n# param: x words required -- X\nSELECT ?x WHERE {}\n# end\n") == (
        "SELECT ?x WHERE {}\n# end\n")
    assert all(not body.startswith("#") for body in definitions().values())


def test_a_medication_parameter_reads_a_brand_as_its_generic(sample_store):
    """'Soma' is carisoprodol, as an item naming it is read; a combination names no one drug."""
    soma = rows(sample_store, "decisions-for-medication", medication=" SOMA ")
    assert soma == rows(sample_store, "decisions-for-medication", medication="carisoprodol") and len(soma) == 4
    assert [r[1] for r in rows(sample_store, "decisions-for-medication", medication="Pepcid")] == ["CM16-0232543"]
    with pytest.raises(QueryError, match="it names acetaminophen and hydrocodone: ask for one of them"):
        rows(sample_store, "decisions-for-medication", medication="Norco")
    assert rows(sample_store, "decisions-for-medication", medication="no such drug") == []


def test_decisions_for_medication_as_shaped_for_the_engine_equal_the_plain_optional(sample_store):
    """The named query looks sentences up with LATERAL; a plain OPTIONAL gives the same rows."""
    query = named_query("decisions-for-medication")
    head, _ = query.sparql.split("SELECT", 1)
    plain = head + """SELECT ?medication ?letter ?item ?outcome ?sentence ?start ?end WHERE {
      ?m a imr:Medication ; skos:prefLabel ?medication .
      ?r imr:medication ?m ; imr:itemText ?item .
      ?d imr:decides ?r ; imr:outcome ?outcome ; imr:sequence ?seq .
      ?l imr:hasDecision ?d ; dcterms:identifier ?letter .
      OPTIONAL { ?d imr:evidence ?ev .
                 ?ev imr:supports imr:medicallyNecessary ; oa:exact ?sentence ; oa:start ?start ; oa:end ?end . }
    } ORDER BY ?letter ?seq"""
    medications = [row[0] for row in rows(sample_store, "uphold-rate-by-medication")]
    assert len(medications) == 18
    for medication in medications:
        subs = query.substitutions({"medication": medication})
        expected = [[t and t.value for t in s] for s in sample_store.query(plain, substitutions=subs)]
        assert [[t and t.value for t in row] for row in run(sample_store, query, {"medication": medication}).rows] \
            == expected, medication


def test_cases_by_diagnosis_as_shaped_for_the_engine_equal_the_plain_form(sample_store):
    """The named query filters distinct labels and looks optional parts up with LATERAL; the plain
    filter over every diagnosis with OPTIONALs gives the same rows."""
    query = named_query("cases-by-diagnosis")
    head, _ = query.sparql.split("SELECT", 1)
    plain = head + """SELECT ?diagnosis ?letter ?case_number ?written
        (GROUP_CONCAT(DISTINCT ?region; separator=";") AS ?body_regions) WHERE {
      ?l dcterms:identifier ?letter ; imr:aboutCase ?case .
      ?case imr:diagnosis ?dx .
      ?dx imr:writtenAs ?written ; imr:label ?label .
      FILTER (CONTAINS(?label, LCASE(?diagnosis)))
      OPTIONAL { ?case imr:caseNumber ?case_number }
      OPTIONAL { ?dx imr:bodyRegion/skos:prefLabel ?region }
    } GROUP BY ?diagnosis ?letter ?case_number ?written ORDER BY ?letter ?written"""
    for words in ["radiculopathy", "Lumbar", "sprain", "pain", "a", "no such diagnosis"]:
        subs = query.substitutions({"diagnosis": words})
        expected = select_result(query, sample_store.query(plain, substitutions=subs))  # body regions sorted
        assert run(sample_store, query, {"diagnosis": words}) == expected, words
        expected = expected.rows
        assert len(expected) == {"radiculopathy": 6, "Lumbar": 13, "sprain": 21, "pain": 21, "a": 96,
                                 "no such diagnosis": 0}[words]


def test_outcome_rates_by_class_service_year_specialty(sample_store):
    assert rows(sample_store, "uphold-rate-by-drug-class")[0] == ["muscle relaxant", "8", "8", "0", "1"]
    services = {r[0]: r[1:] for r in rows(sample_store, "uphold-rate-by-service-type")}
    assert services["imaging"] == ["17", "17", "0", "1"]
    assert services["laboratory test"] == ["3", "1", "2", "0.333"]
    assert rows(sample_store, "uphold-rate-by-year") == [["2017", "63", "55", "8", "0.873"]]
    specialties = {r[0]: r[1:] for r in rows(sample_store, "outcomes-by-specialty")}
    assert specialties["Orthopedic Surgery"] == ["15", "10", "5", "0.667"]
    assert specialties["Anesthesiology"] == ["1", "1", "0", "1"]
    assert rows(sample_store, "stats-by-outcome") == [["Upheld", "64"], ["Overturned", "8"]]


def test_a_request_naming_a_class_of_drugs_counts_for_the_class_not_as_a_service(tmp_path):
    """'Muscle relaxant #60' names no drug: it counts with Lorzone's chlorzoxazone under muscle relaxant,
    in the kept tallies and in the query over every decision, and is no service of type 'other'."""
    text = (LETTERS / "CM17-0005412.txt").read_text(encoding="utf-8")
    (tmp_path / "CM17-0005412.txt").write_text(text, encoding="utf-8")
    (tmp_path / "class-request.txt").write_text(text.replace(
        "Lorzone 750mg one by mouth three times a day #45:", "Muscle relaxant #60:"), encoding="utf-8")
    with Store(tmp_path / "store") as store:
        assert build([tmp_path / "CM17-0005412.txt", tmp_path / "class-request.txt"], store).ok
        assert rows(store, "uphold-rate-by-drug-class") == [["muscle relaxant", "2", "2", "0", "1"]]
        direct = table_rows(store, named_query(str(data_dir("queries") / "direct" / "uphold-rate-by-drug-class.rq")),
                            {})[1]
        assert direct == [["muscle relaxant", "2", "2", "0", "1"]]
        assert rows(store, "uphold-rate-by-service-type") == []
        assert rows(store, "uphold-rate-by-medication") == [["chlorzoxazone", "1", "1", "0", "1"]]


def test_cited_sections_and_pages(sample_store):
    sections = rows(sample_store, "cited-sections-by-outcome")
    assert sections[0] == ["reviewer", "MTUS-ACOEM", "Special studies", "18", "18", "0"]
    admin = rows(sample_store, "cited-sections-by-outcome", party="administrator")
    assert all(r[0] == "administrator" for r in admin)
    pages = rows(sample_store, "cited-pages-by-outcome")
    assert pages[0] == ["reviewer", "MTUS-CPMTG", "29", "3", "3", "0"]


def test_medications_disputed_together(sample_store):
    got = {(a, b): n for a, b, n in rows(sample_store, "medications-disputed-together")}
    assert got[("carisoprodol", "temazepam")] == "1"
    assert got[("alprazolam", "carisoprodol")] == "1"
    assert got[("celecoxib", "gabapentin")] == "1"
    assert ("carisoprodol", "carisoprodol") not in got


def test_cases_by_diagnosis_region_age_and_sex(sample_store):
    dx = rows(sample_store, "cases-by-diagnosis", diagnosis="Radiculopathy")
    assert ["radiculopathy" in r[3].lower() for r in dx] == [True] * len(dx)
    assert ("004_cb07c567c7678ea3", "lumbar radiculopathy", "low back") in {(r[1], r[3], r[4]) for r in dx}
    regions = {r[0]: r[1:] for r in rows(sample_store, "cases-by-body-region")}
    assert regions["low back"][0] == "14"
    bands = {(r[0], r[1]): r[2:] for r in rows(sample_store, "cases-by-age-band-and-sex")}
    assert bands[("50-59", "female")] == ["6", "21", "15", "6"]
    assert bands[("", "female")] == ["1", "1", "1", "0"]  # CM16-0249170 states no age


def test_time_injury_to_review(sample_store):
    got = {r[0]: r[1:] for r in rows(sample_store, "time-injury-to-review")}
    assert got["000_ed7318db5454d5ef"] == ["2007-10-10", "2014-04-24", "2388"]
    assert got["CM17-0003284"] == ["2016-10-20", "2016-12-09", "50"]
    assert "004_cb07c567c7678ea3" not in got  # no UR date stated


def test_guideline_disagreements(sample_store):
    got = rows(sample_store, "guideline-disagreements")
    assert got[0] == ["001_31f77f8318a90c33", "Soma 350mg one TID #90", "Upheld", "MTUS-CPMTG", "MTUS-CPMTG;ODG"]
    assert all(r[3] != r[4] for r in got)


def test_evidence_for_node(sample_store):
    node = "https://w3id.org/imr-kg/id/letter/000_ed7318db5454d5ef/worker"
    got = rows(sample_store, "evidence-for-node", node=node)
    assert [r[1:] for r in got] == [
        ["https://w3id.org/imr-kg/ontology#age", "000_ed7318db5454d5ef", "1043", "1045", "53"],
        ["https://w3id.org/imr-kg/ontology#sex", "000_ed7318db5454d5ef", "1055", "1061", "female"]]


@pytest.mark.parametrize("hostile", ['"} DROP ALL {', "carisoprodol\" } ; DROP ALL ; SELECT * { ?s ?p \"",
                                     "') || true || ('", "\\\" . } }"])
def test_hostile_parameter_is_data(sample_store, hostile):
    """Text around a query is only words: none names a medication, or it is read as the drug it
    names, as an item's words are ('carisoprodol" } ; DROP ALL' is carisoprodol)."""
    before = sample_store.count_quads()
    named = "carisoprodol" in hostile
    expected = rows(sample_store, "decisions-for-medication", medication="carisoprodol") if named else []
    assert rows(sample_store, "decisions-for-medication", medication=hostile) == expected
    assert sample_store.count_quads() == before


def test_bad_parameters_are_refused(sample_store):
    with pytest.raises(QueryError, match="needs --param medication"):
        run(sample_store, named_query("decisions-for-medication"))
    with pytest.raises(QueryError, match="no parameter colour"):
        run(sample_store, named_query("stats-by-outcome"), {"colour": "red"})
    with pytest.raises(QueryError, match="not a valid iri"):
        run(sample_store, named_query("evidence-for-node"), {"node": "x> } DROP ALL { <y"})
    with pytest.raises(QueryError, match="no named query"):
        named_query("nope")


@pytest.fixture()
def store_dir(sample_store):
    return str(sample_store.path)


def test_cli_query_formats(store_dir, tmp_path):
    listing = runner.invoke(app, ["query", "--list", "--store", store_dir])
    assert "decisions-for-medication" in listing.stdout and "medication=<medication>" in listing.stdout
    base = ["query", "uphold-rate-by-medication", "--store", store_dir]
    csv_out = runner.invoke(app, [*base, "--format", "csv"]).stdout
    assert csv_out.splitlines()[:2] == ["medication,decisions,upheld,overturned,uphold_rate", "carisoprodol,4,4,0,1"]
    assert runner.invoke(app, [*base, "-f", "tsv"]).stdout.splitlines()[1] == "carisoprodol\t4\t4\t0\t1"
    data = json.loads(runner.invoke(app, [*base, "-f", "json"]).stdout)
    first = data["results"]["bindings"][0]
    assert data["head"]["vars"][0] == "medication"
    assert first["decisions"] == {"type": "literal", "value": "4",
                                  "datatype": "http://www.w3.org/2001/XMLSchema#integer"}
    assert "carisoprodol" in runner.invoke(app, [*base, "-f", "table"]).stdout
    bad = runner.invoke(app, [*base, "-f", "ttl"])
    assert bad.exit_code == 2


@pytest.mark.parametrize("name", ["decisions", "cases"])
def test_a_kept_table_as_csv_is_the_same_from_kg_query_and_kg_table(store_dir, name):
    table = runner.invoke(app, ["table", name, "--store", store_dir]).stdout
    assert runner.invoke(app, ["query", name, "-f", "csv", "--store", store_dir]).stdout == table
    assert table.count("\n") == {"decisions": 73, "cases": 29}[name]
    data = json.loads(runner.invoke(app, ["query", name, "-f", "json", "--store", store_dir]).stdout)
    assert len(data["results"]["bindings"]) == {"decisions": 72, "cases": 28}[name]
    assert data["head"]["vars"] == table.splitlines()[0].split(",")
    assert data["results"]["bindings"][0]["letter"] == {"type": "literal", "value": "000_ed7318db5454d5ef"}


def test_cli_query_own_files(store_dir, tmp_path):
    construct = tmp_path / "meds.rq"
    construct.write_text("PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
                         "PREFIX imr: <https://w3id.org/imr-kg/ontology#>\n"
                         "CONSTRUCT { ?m skos:prefLabel ?l } WHERE { ?m a imr:Medication ; skos:prefLabel ?l }")
    ttl = runner.invoke(app, ["query", str(construct), "-f", "ttl", "--store", store_dir])
    assert ttl.exit_code == 0 and '"carisoprodol"' in ttl.stdout
    ask = tmp_path / "ask.rq"
    ask.write_text('ASK { ?d <https://w3id.org/imr-kg/ontology#outcome> "Overturned" }')
    assert json.loads(runner.invoke(app, ["query", str(ask), "-f", "json", "--store", store_dir]).stdout) == {
        "head": {}, "boolean": True}
    broken = tmp_path / "broken.rq"
    broken.write_text("SELECT WHERE {")
    result = runner.invoke(app, ["query", str(broken), "--store", store_dir])
    assert result.exit_code == 2 and "not valid SPARQL" in result.stderr


@pytest.mark.parametrize("name", ["decisions", "uphold-rate-by-medication"])
def test_a_result_over_the_row_cap_is_refused_before_its_rows_are_made(sample_store, name):
    from kg.results import sparql_json
    from kg.server.execute import execute, serialize_solutions

    rows = len(run(sample_store, named_query(name)).rows)  # type: ignore[union-attr]
    assert rows == {"decisions": 72, "uphold-rate-by-medication": 18}[name]
    assert len(run(sample_store, named_query(name), max_rows=rows).rows) == rows  # type: ignore[union-attr]
    with pytest.raises(TooManyRows, match=f"more than {rows - 1} rows"):
        run(sample_store, named_query(name), max_rows=rows - 1)
    status, _, body = execute(sample_store, {"kind": "named", "name": name, "accept": ""}, rows - 1)
    assert status == 422 and body == f"the result has more than {rows - 1} rows\n".encode()
    for accept in ("", "text/csv"):  # SPARQL JSON (a kept table: from its index of bindings), CSV
        status, _, body = execute(sample_store, {"kind": "named", "name": name, "accept": accept}, rows)
        assert status == 200
        body = body if isinstance(body, bytes) else b"".join(body)  # a whole kept table is streamed
        assert body == (sparql_json(run(sample_store, named_query(name))).encode() if not accept  # type: ignore[arg-type]
                        else serialize_solutions(run(sample_store, named_query(name)), "csv"))  # type: ignore[arg-type]
