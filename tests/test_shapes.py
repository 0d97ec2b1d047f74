"""SHACL shapes: real letters conform; every shape fails on a graph made to break it, on the exact
shape and path; shapes and ontology agree; `kg validate` exit codes and reports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from functools import cache

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import OWL, RDF, SH, XSD
from typer.testing import CliRunner

from kg.build import build
from kg.cli import app
from kg.extractor import extraction_key
from kg.graph import letter_quads
from kg.parser import parse_file, parse_text
from kg.record import Span
from kg.resources import data_dir
from kg.store import LetterGraph, RejectedFile, Store, manifest_entries, rejection_entries
from kg.summaries import summarize
from kg.tally import change, decode, update_operations
from kg.validate import (
    BUILT_WHOLE,
    _path_text,
    _short,
    _unchecked_predicates,
    letter_shapes_graph,
    shapes_graph,
    to_rdflib,
    validate_graph,
    validate_letter_quads,
)

from .conftest import ALL_LETTERS, LETTERS

IMR = rdflib.Namespace("https://w3id.org/imr-kg/ontology#")
runner = CliRunner()


MANIFEST = "manifest"  # not a letter: the manifest graph's entries for one letter and one rejected file
CLASS_REQUEST = "class-request"  # a real letter whose item names a class of drugs, no drug: "Muscle relaxant #60"


@cache
def letter_graph(stem: str) -> rdflib.Graph:
    if stem == MANIFEST:
        record = parse_file(LETTERS / "CM17-0003284.txt")
        letter = LetterGraph(record.letter_id, record.sha256, b"", extraction_key("ab" * 32))
        rejected = RejectedFile(extraction_key("cd" * 32), "bad.txt", "binary data, not a text letter")
        tallies = ox.Store()
        own = decode(summarize([(record.letter_id, letter_quads(record))])[0].tallies)
        tallies.update(" ;\n".join(update_operations(change([own], []))))
        return to_rdflib(manifest_entries(letter) + rejection_entries(rejected) + list(tallies))
    if stem == CLASS_REQUEST:
        text = (LETTERS / "CM17-0005412.txt").read_text(encoding="utf-8").replace(
            "Lorzone 750mg one by mouth three times a day #45:", "Muscle relaxant #60:")
        return to_rdflib(letter_quads(parse_text(text, "class-request", "class-request.txt")))
    return to_rdflib(letter_quads(parse_file(LETTERS / f"{stem}.txt")))


def copy(stem: str) -> rdflib.Graph:
    g = rdflib.Graph()
    for t in letter_graph(stem):
        g.add(t)
    return g


def test_all_sample_letters_conform():
    union = rdflib.Graph()
    for path in ALL_LETTERS:
        for t in letter_graph(path.stem):
            union.add(t)
    result = validate_graph(union)
    assert result.conforms, [v for v in result.violations if v.severity == "Violation"]
    assert [v for v in result.violations] == []


# ---------------------------------------------------------------- a broken graph for every shape

def _property_shapes() -> list[rdflib.URIRef]:
    sg = shapes_graph()
    return sorted(s for s in sg.subjects(RDF.type, SH.PropertyShape) if isinstance(s, rdflib.URIRef))


def _bad_value(sg: rdflib.Graph, shape: rdflib.URIRef, current: rdflib.term.Node | None) -> rdflib.term.Node | None:
    """A value that breaks the first value constraint of `shape`, or None if it has none."""
    if sg.value(shape, SH["in"]) is not None:
        return rdflib.Literal("Bogus")
    if sg.value(shape, SH.pattern) is not None:
        return rdflib.Literal("Bad Value!")
    for bound, step in ((SH.minInclusive, -1), (SH.minExclusive, 0), (SH.maxInclusive, 1)):
        limit = sg.value(shape, bound)
        if limit is not None:
            v = limit.toPython()
            if isinstance(v, dt.date):
                return rdflib.Literal(v + dt.timedelta(days=step), datatype=XSD.date)
            return rdflib.Literal(v + step, datatype=limit.datatype)
    if sg.value(shape, SH.minLength) is not None:
        return rdflib.Literal("")
    if sg.value(shape, SH["class"]) is not None:
        return rdflib.URIRef("https://example.org/untyped")
    if sg.value(shape, SH.nodeKind) == SH.IRI:
        return rdflib.Literal("not an IRI")
    datatype = sg.value(shape, SH.datatype)
    if datatype is not None:
        return rdflib.Literal(7) if datatype == XSD.string else rdflib.Literal("not typed")
    return None


def _break(shape: rdflib.URIRef) -> tuple[rdflib.Graph, str]:
    """A copy of a real letter graph changed so that `shape` fails on one focus node."""
    sg = shapes_graph()
    path = sg.value(shape, SH.path)
    classes = list(sg.objects(shape, SH.targetClass))
    for stem in ("004_cb07c567c7678ea3", "CM17-0003284", "001_31f77f8318a90c33", "CM16-0249170",
                 "CM17-0007142", "000_ed7318db5454d5ef", MANIFEST, CLASS_REQUEST):
        g = copy(stem)
        for cls in classes:
            for focus in g.subjects(RDF.type, cls):
                if isinstance(path, rdflib.URIRef) and _mutate(g, sg, shape, focus, path):
                    return g, str(focus)
                if not isinstance(path, rdflib.URIRef) and _mutate_other(g, sg, shape, focus):
                    return g, str(focus)
    raise AssertionError(f"no sample letter can be broken for {shape}")


def _mutate(g: rdflib.Graph, sg: rdflib.Graph, shape, focus, path) -> bool:
    values = list(g.objects(focus, path))
    other = sg.value(shape, SH.lessThan) or sg.value(shape, SH.lessThanOrEquals)
    if other is not None and values and g.value(focus, other) is not None:
        g.set((focus, other, _smaller(values[0])))
        return True
    bad = _bad_value(sg, shape, values[0] if values else None)
    if bad is not None and values:
        g.set((focus, path, bad))
        return True
    if sg.value(shape, SH.minCount) is not None and values:
        g.remove((focus, path, None))
        return True
    if sg.value(shape, SH.maxCount) is not None and values:
        g.add((focus, path, rdflib.Literal("a second value") if isinstance(values[0], rdflib.Literal)
               else rdflib.URIRef(str(values[0]) + "-second")))
        return True
    return False


def _mutate_other(g: rdflib.Graph, sg: rdflib.Graph, shape, focus) -> bool:
    """Shapes over path expressions: a date comparison where the later date is moved back."""
    other = sg.value(shape, SH.lessThanOrEquals)
    if other is not None and g.value(focus, other) is not None:
        g.set((focus, other, rdflib.Literal(dt.date(1900, 1, 1), datatype=XSD.date)))
        return True
    return False


def _smaller(value: rdflib.term.Node) -> rdflib.Literal:
    v = value.toPython()
    if isinstance(v, dt.date):
        return rdflib.Literal(v - dt.timedelta(days=1), datatype=XSD.date)
    return rdflib.Literal(v - 1, datatype=value.datatype)


def _built_whole(shape: rdflib.URIRef) -> bool:
    return any(cls in BUILT_WHOLE for cls in shapes_graph().objects(shape, SH.targetClass))


@pytest.mark.parametrize("shape", _property_shapes(), ids=lambda s: _short(s))
def test_every_property_shape_catches_a_broken_graph(shape):
    graph, focus = _break(shape)
    expected_path = _path_text(shapes_graph(), shape, SH.path)
    # `kg validate` checks with every shape; `kg build` with all but those of nodes made whole
    for shapes in (shapes_graph(),) if _built_whole(shape) else (shapes_graph(), letter_shapes_graph()):
        result = validate_graph(graph, shapes=shapes)
        hits = [v for v in result.violations if v.shape == _short(shape)]
        assert hits, result.violations
        assert {(v.focus, v.path) for v in hits} == {(focus, expected_path)}
        assert all(v.message for v in hits)


def test_the_build_checks_letters_with_every_shape_but_those_of_evidence():
    full, build_shapes = shapes_graph(), letter_shapes_graph()
    shapes = set(full.subjects(RDF.type, SH.PropertyShape)) | set(full.subjects(RDF.type, SH.NodeShape))
    left_out = {s for s in shapes if (s, None, None) not in build_shapes}
    assert sorted(_short(s) for s in left_out) == [
        "s:Evidence", "s:Evidence-end", "s:Evidence-exact", "s:Evidence-inLetter", "s:Evidence-start",
        "s:Evidence-supports"]
    assert {str(p) for p in _unchecked_predicates()} == {
        "http://www.w3.org/ns/oa#start", "http://www.w3.org/ns/oa#end", "http://www.w3.org/ns/oa#exact",
        str(IMR.inLetter), str(IMR.supports)}
    # what links to an evidence node still checks that it is one (its rdf:type is kept)
    record = parse_file(LETTERS / "CM17-0003284.txt")
    quads = letter_quads(record)
    assert validate_letter_quads(quads).violations == []
    untyped = [q for q in quads if not (q.predicate.value == str(RDF.type) and q.object.value == str(IMR.Evidence))]
    assert {v.shape for v in validate_letter_quads(untyped).violations} >= {
        "s:Decision-evidence", "s:Diagnosis-evidence", "s:TreatmentRequest-evidence"}


def test_a_letter_whose_evidence_would_break_an_evidence_shape_is_rejected_by_the_build(tmp_path, monkeypatch):
    """The evidence shapes hold by construction: a span that is not the letter's words is a parser
    bug, and the letter is rejected as one (the other letters go on)."""
    import kg.parser

    parse = kg.parser.parse_file

    def misquoting(path):
        record = parse(path)
        if path.name != "001_31f77f8318a90c33.txt":
            return record
        span = record.decisions[0].item.span
        wrong = Span(span.start, span.end, "x" * (span.end - span.start))
        item = dataclasses.replace(record.decisions[0].item, span=wrong)
        return dataclasses.replace(record, decisions=(dataclasses.replace(record.decisions[0], item=item),
                                                      *record.decisions[1:]))

    monkeypatch.setattr(kg.parser, "parse_file", misquoting)
    report = build([LETTERS / "001_31f77f8318a90c33.txt", LETTERS / "000_ed7318db5454d5ef.txt"], Store(tmp_path / "s"))
    assert report.accepted == 1
    [rejected] = report.rejected
    assert rejected.name == "001_31f77f8318a90c33.txt"
    assert rejected.reason.startswith("internal parser error: ValueError: evidence ")
    assert "does not quote the letter" in rejected.reason


@pytest.mark.parametrize("start, end, quote", [(5, 5, ""), (6, 5, "x"), (-1, 2, "abc"), (0, 3, "ab"), (0, 2, "abc")])
def test_a_span_is_one_or_more_characters_with_the_words_in_it(start, end, quote):
    with pytest.raises(ValueError, match="not a span of the letter"):
        Span(start, end, quote)


def test_manifest_entries_conform():
    assert validate_graph(letter_graph(MANIFEST)).violations == []


@pytest.mark.parametrize("cls, shape", [(IMR.LetterGraph, "s:LetterGraph"), (IMR.RejectedFile, "s:RejectedFile"),
                                        (IMR.Tally, "s:Tally")])
def test_manifest_node_shapes_catch_a_foreign_iri(cls, shape):
    g = copy(MANIFEST)
    g.add((rdflib.URIRef("https://example.org/elsewhere"), RDF.type, cls))
    hits = [v for v in validate_graph(g).violations if v.shape == shape]
    assert [(v.focus, v.severity) for v in hits] == [("https://example.org/elsewhere", "Violation")]


def _tally(g: rdflib.Graph, count: rdflib.URIRef) -> rdflib.term.Node:
    return next(t for t in sorted(g.subjects(RDF.type, IMR.Tally)) if g.value(t, count) is not None)


@pytest.mark.parametrize("name, mutate", [
    ("a decision tally without its count", lambda g: g.remove((_tally(g, IMR.decisionCount), IMR.decisionCount, None))),
    ("a letter tally with an outcome", lambda g: g.add((_tally(g, IMR.letterCount), IMR.tallyOutcome,
                                                         rdflib.Literal("Upheld")))),
])
def test_a_tally_counts_decisions_of_one_outcome_or_letters(name, mutate):
    g = copy(MANIFEST)
    assert g.value(_tally(g, IMR.letterCount), IMR.tallyDimension) is not None  # the sample has both kinds
    mutate(g)
    hits = [v for v in validate_graph(g).violations if v.shape == "s:Tally-counts"]
    assert len(hits) == 1 and hits[0].severity == "Violation"


def test_every_shape_has_message_and_severity():
    sg = shapes_graph()
    for shape in set(sg.subjects(RDF.type, SH.PropertyShape)) | set(sg.subjects(SH.targetClass, None)):
        if isinstance(shape, rdflib.URIRef) and (sg.value(shape, SH.path) or sg.value(shape, SH["or"])
                                                 or sg.value(shape, SH.xone) or sg.value(shape, SH["not"])):
            assert sg.value(shape, SH.message) is not None, shape
            assert sg.value(shape, SH.severity) is not None, shape


@pytest.mark.parametrize("name, mutate, shape, path", [
    ("missing outcome", lambda g: g.remove((_first(g, IMR.Decision), IMR.outcome, None)),
     "s:Decision-outcome", "imr:outcome"),
    ("age of 430", lambda g: g.set((_first(g, IMR.InjuredWorker), IMR.age, rdflib.Literal(430))),
     "s:InjuredWorker-age", "imr:age"),
    ("injury after the review", lambda g: g.set((_first(g, IMR.Injury), IMR.injuryDate,
                                                 rdflib.Literal(dt.date(2016, 12, 31), datatype=XSD.date))),
     "s:Case-injuryBeforeUrDenial", "imr:injury/imr:injuryDate"),
    ("unknown state code", lambda g: g.set((_first(g, IMR.State), rdflib.URIRef(
        "http://www.w3.org/2004/02/skos/core#notation"), rdflib.Literal("XX"))), "s:State-notation", "skos:notation"),
    ("decision without evidence", lambda g: g.remove((_first(g, IMR.Decision), IMR.evidence, None)),
     "s:Decision-evidence", "imr:evidence"),
])
def test_named_errors(name, mutate, shape, path):
    g = copy("CM17-0003284")
    mutate(g)
    result = validate_graph(g)
    assert not result.conforms
    assert (shape, path) in {(v.shape, v.path) for v in result.violations if v.severity == "Violation"}


def _first(g: rdflib.Graph, cls: rdflib.URIRef) -> rdflib.term.Node:
    return sorted(g.subjects(RDF.type, cls))[0]


def test_item_both_drug_and_service_violates_xone():
    g = copy("000_ed7318db5454d5ef")
    g.add((_first(g, IMR.TreatmentRequest), IMR.serviceType, rdflib.URIRef("https://w3id.org/imr-kg/id/service-type/imaging")))
    assert ("s:TreatmentRequest", None) in {(v.shape, v.path) for v in validate_graph(g).violations}


def test_an_item_naming_a_class_of_drugs_conforms_and_is_neither_drug_nor_service():
    g = copy(CLASS_REQUEST)
    assert validate_graph(g).conforms
    request = _first(g, IMR.TreatmentRequest)
    drug_class = g.value(request, IMR.requestedDrugClass)
    assert str(g.value(drug_class, rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"))) == "muscle relaxant"
    assert g.value(request, IMR.serviceType) is None and g.value(request, IMR.medication) is None
    g.add((request, IMR.serviceType, rdflib.URIRef("https://w3id.org/imr-kg/id/service-type/imaging")))
    assert ("s:TreatmentRequest", None) in {(v.shape, v.path) for v in validate_graph(g).violations}


@pytest.mark.parametrize("outcome, necessary, shape", [
    ("Upheld", True, "s:Decision-upheldButNecessary"),
    ("Overturned", False, "s:Decision-overturnedButNotNecessary"),
])
def test_outcome_conclusion_mismatch_is_a_warning_only(outcome, necessary, shape):
    g = copy("000_ed7318db5454d5ef")
    decision = _first(g, IMR.Decision)
    g.set((decision, IMR.outcome, rdflib.Literal(outcome)))
    g.set((decision, IMR.medicallyNecessary, rdflib.Literal(necessary)))
    for shapes in (shapes_graph(), letter_shapes_graph()):  # `kg validate` and `kg build`
        result = validate_graph(g, shapes=shapes)
        assert result.conforms
        assert [(v.severity, v.shape, v.focus) for v in result.violations] == [("Warning", shape, str(decision))]


@pytest.mark.parametrize("outcome, necessary", [("Upheld", False), ("Overturned", True), ("Upheld", None),
                                                ("Overturned", None)])
def test_an_outcome_that_agrees_with_the_conclusion_or_has_none_draws_no_warning(outcome, necessary):
    g = copy("000_ed7318db5454d5ef")
    decision = _first(g, IMR.Decision)
    g.set((decision, IMR.outcome, rdflib.Literal(outcome)))
    g.remove((decision, IMR.medicallyNecessary, None))
    g.remove((decision, IMR.conclusion, None))
    if necessary is not None:
        g.add((decision, IMR.medicallyNecessary, rdflib.Literal(necessary)))
    assert validate_graph(g).violations == []


def test_violations_are_attributed_to_their_letter():
    union = copy("000_ed7318db5454d5ef")
    for t in letter_graph("001_31f77f8318a90c33"):
        union.add(t)
    union.set((_first(union, IMR.InjuredWorker), IMR.age, rdflib.Literal(430)))
    letters = {v.letter for v in validate_graph(union).violations}
    assert letters == {"000_ed7318db5454d5ef"}


# ---------------------------------------------------------------- shapes and ontology agree

def _ontology() -> rdflib.Graph:
    g = rdflib.Graph()
    for path in data_dir("ontology").glob("*.ttl"):
        g.parse(path)
    return g


def test_shapes_name_only_declared_terms_and_every_class_has_a_shape():
    onto, sg = _ontology(), shapes_graph()
    classes = set(onto.subjects(RDF.type, OWL.Class))
    properties = set(onto.subjects(RDF.type, OWL.ObjectProperty)) | set(onto.subjects(RDF.type, OWL.DatatypeProperty))
    targeted = set(sg.objects(None, SH.targetClass)) | set(sg.objects(None, SH["class"]))
    assert {c for c in targeted if str(c).startswith(str(IMR))} <= classes
    paths = {p for p in sg.objects(None, SH.path) if isinstance(p, rdflib.URIRef)}
    assert {p for p in paths if str(p).startswith(str(IMR))} <= properties
    assert classes <= set(sg.objects(None, SH.targetClass)), classes - set(sg.objects(None, SH.targetClass))


# ---------------------------------------------------------------- kg validate

@pytest.fixture(scope="module")
def dumped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("validate")
    store = folder / "store"
    assert runner.invoke(app, ["build", str(LETTERS / "CM17-0003284.txt"), "--store", str(store)]).exit_code == 0
    ttl = folder / "dump.ttl"
    assert runner.invoke(app, ["dump", "-o", str(ttl), "--store", str(store)]).exit_code == 0
    return store, ttl


def test_kg_validate_store_and_files_conform(dumped):
    store, ttl = dumped
    result = runner.invoke(app, ["validate", "--store", str(store)])
    assert (result.exit_code, result.stdout) == (0, "conforms\n")
    assert runner.invoke(app, ["validate", str(ttl)]).exit_code == 0


def test_kg_validate_edited_file_exits_1_and_names_the_rule(dumped, tmp_path):
    _, ttl = dumped
    broken = tmp_path / "broken.ttl"
    broken.write_text(ttl.read_text().replace('imr:outcome "Upheld"', 'imr:outcome "Maybe"', 1))
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "letter CM17-0003284:" in result.stdout
    assert "Violation s:Decision-outcome: A decision has exactly one outcome, Upheld or Overturned." in result.stdout
    assert 'imr:outcome = Maybe' in result.stdout
    # one result: an outcome that is neither is not also reported as contradicting the conclusion
    assert result.stdout.rstrip().endswith("1 violation(s), 0 warning(s) in 1 letter(s)")
    data = json.loads(runner.invoke(app, ["validate", str(broken), "-f", "json"]).stdout)
    assert data["conforms"] is False
    assert {r["shape"] for r in data["results"] if r["severity"] == "Violation"} == {"s:Decision-outcome"}
    report = rdflib.Graph().parse(data=runner.invoke(app, ["validate", str(broken), "-f", "ttl"]).stdout,
                                  format="turtle")
    assert report.value(next(report.subjects(RDF.type, SH.ValidationReport)), SH.conforms).toPython() is False


def test_kg_validate_input_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle <<<")
    assert runner.invoke(app, ["validate", str(bad)]).exit_code == 2
    assert runner.invoke(app, ["validate", str(tmp_path / "x.csv")]).exit_code == 2
    assert runner.invoke(app, ["validate", "-f", "xml"]).exit_code == 2


def test_build_rejects_a_letter_that_breaks_a_shape(tmp_path):
    text = (LETTERS / "001_31f77f8318a90c33.txt").read_text().replace("68-year-old", "430-year-old")
    (tmp_path / "old.txt").write_text(text)
    result = runner.invoke(app, ["build", str(tmp_path / "old.txt"), str(LETTERS / "000_ed7318db5454d5ef.txt"),
                                 "--store", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "rejected old.txt: fails SHACL shape s:InjuredWorker-age imr:age = 430" in result.stderr
    assert "accepted: 1" in result.stderr
    unchecked = runner.invoke(app, ["build", str(tmp_path / "old.txt"), "--no-validate",
                                    "--store", str(tmp_path / "t")])
    assert unchecked.exit_code == 0


def test_kg_validate_checks_a_store_in_chunks_and_processes_and_names_each_letter(tmp_path):
    """28 letters: two chunks of pyshacl calls. Two letters broken in the store, in either chunk, and
    a medication they share with others: each result under its letter, whatever the processes."""
    from kg import iris

    store_dir = tmp_path / "s"
    with Store(store_dir) as store:
        assert build([LETTERS], store, validate=False).ok
        lids = store.letter_ids()
        broken = [lids[0], lids[-1]]
        for lid in broken:
            store._store.update(f"""DELETE {{ GRAPH ?g {{ ?w <{IMR.age}> ?a }} }}
                INSERT {{ GRAPH ?g {{ ?w <{IMR.age}> 430 }} }}
                WHERE {{ GRAPH ?g {{ ?w <{IMR.age}> ?a }} FILTER(?g = {iris.letter_graph(lid)}) }}""")
        [row] = store.query(f"""SELECT ?m (GROUP_CONCAT(DISTINCT ?id) AS ?ids) WHERE {{
            GRAPH ?g {{ ?r <{IMR.medication}> ?m . ?l <http://purl.org/dc/terms/identifier> ?id }} }}
            GROUP BY ?m HAVING (COUNT(DISTINCT ?g) = 2) ORDER BY ?m LIMIT 1""")
        label = "<http://www.w3.org/2004/02/skos/core#prefLabel>"
        store._store.update(f"DELETE WHERE {{ GRAPH ?v {{ {row['m']} {label} ?x }} }}")
    sharing = sorted(row["ids"].value.split())
    reports = [runner.invoke(app, ["validate", "--store", str(store_dir), "-f", "json", "-j", jobs])
               for jobs in ("1", "2")]
    assert [r.exit_code for r in reports] == [1, 1]
    assert reports[0].stdout == reports[1].stdout
    results = json.loads(reports[0].stdout)["results"]
    assert sorted((r["letter"], r["shape"]) for r in results) == sorted(
        [(lid, "s:InjuredWorker-age") for lid in broken] + [(lid, "s:Medication-prefLabel") for lid in sharing])
