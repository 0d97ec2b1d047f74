"""The core SHACL shapes: real letters conform, a broken graph fails on the exact shape and path."""

from __future__ import annotations

import pyoxigraph as ox
import pyshacl
import pytest
import rdflib

from kg.graph import letter_quads
from kg.parser import parse_file
from kg.resources import data_dir

from .conftest import ALL_LETTERS

IMR = rdflib.Namespace("https://w3id.org/imr-kg/ontology#")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")


def _graph(path) -> rdflib.Graph:
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in letter_quads(parse_file(path))]
    return rdflib.Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    g = rdflib.Graph()
    for path in data_dir("shapes").glob("*.ttl"):
        g.parse(path)
    return g


@pytest.mark.parametrize("path", ALL_LETTERS[:6], ids=lambda p: p.stem)
def test_real_letters_conform(path, shapes):
    conforms, _, text = pyshacl.validate(_graph(path), shacl_graph=shapes)
    assert conforms, text


@pytest.mark.parametrize("path_, mutate", [
    (IMR.outcome, lambda g, d: (g.remove((d, IMR.outcome, None)), g.add((d, IMR.outcome, rdflib.Literal("Maybe"))))),
    (IMR.outcome, lambda g, d: g.remove((d, IMR.outcome, None))),
    (IMR.evidence, lambda g, d: g.remove((d, IMR.evidence, None))),
])
def test_broken_decision_fails_on_its_path(path_, mutate, shapes):
    g = _graph(ALL_LETTERS[0])
    decision = next(g.subjects(rdflib.RDF.type, IMR.Decision))
    mutate(g, decision)
    conforms, report, _ = pyshacl.validate(g, shacl_graph=shapes)
    assert not conforms
    paths = {report.value(r, SH.resultPath) for r in report.subjects(rdflib.RDF.type, SH.ValidationResult)}
    assert paths == {path_}


def test_age_out_of_range_fails(shapes):
    g = _graph(ALL_LETTERS[0])
    worker = next(g.subjects(rdflib.RDF.type, IMR.InjuredWorker))
    g.set((worker, IMR.age, rdflib.Literal(430)))
    conforms, report, _ = pyshacl.validate(g, shacl_graph=shapes)
    assert not conforms
    assert {report.value(r, SH.resultPath) for r in report.subjects(rdflib.RDF.type, SH.ValidationResult)} == {IMR.age}
