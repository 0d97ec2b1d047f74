"""Parsed record -> RDF quads: the letter's facts in its own named graph, shared concepts in the
vocabulary graph, and every fact linked to the evidence it came from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Quad

from kg import iris
from kg.namespaces import (
    DCT_IDENTIFIER,
    OA_END,
    OA_EXACT,
    OA_START,
    PROV_DERIVED,
    RDF_TYPE,
    RDFS_SEE_ALSO,
    SKOS_NOTATION,
    SKOS_PREF_LABEL,
    XSD,
    imr,
)
from kg.record import Citation, Decision, Diagnosis, Fact, Ingredient, LetterRecord
from kg.vocab import load

Value = str | int | float | bool | dt.date | NamedNode


def literal(value: str | int | float | bool | dt.date) -> Literal:
    """A typed literal: integers, decimals (canonical, no trailing .0), booleans, ISO dates, strings."""
    if isinstance(value, bool):
        return Literal("true" if value else "false", datatype=NamedNode(XSD + "boolean"))
    if isinstance(value, int):
        return Literal(str(value), datatype=NamedNode(XSD + "integer"))
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
        return Literal(text, datatype=NamedNode(XSD + "decimal"))
    if isinstance(value, dt.date):
        return Literal(value.isoformat(), datatype=NamedNode(XSD + "date"))
    return Literal(value)


@dataclass
class _Emitter:
    """Collects the quads of one letter."""

    record: LetterRecord
    quads: list[Quad] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.graph = iris.letter_graph(self.record.letter_id)
        self.letter = iris.letter(self.record.letter_id)

    def add(self, s: NamedNode, p: NamedNode, o: Value, graph: NamedNode | None = None) -> None:
        obj = o if isinstance(o, NamedNode) else literal(o)
        self.quads.append(Quad(s, p, obj, graph or self.graph))

    def shared(self, s: NamedNode, p: NamedNode, o: Value) -> None:
        """A triple about a concept shared across letters (medication, guideline, ...)."""
        self.add(s, p, o, iris.VOCABULARY_GRAPH)

    def fact(self, node: NamedNode, prop: str, fact: Fact | None, value: Value | None = None) -> None:
        """`node prop value`, with evidence pointing at the words it was read from."""
        if fact is None:
            return
        self.add(node, imr(prop), fact.value if value is None else value)
        self.evidence(node, fact, prop)

    def evidence(self, node: NamedNode, fact: Fact, prop: str | None = None) -> None:
        span = fact.span
        if self.record.text[span.start:span.end] != span.quote:  # a parser bug: see Span
            raise ValueError(f"evidence {span.start}-{span.end} does not quote the letter: {span.quote!r}")
        ev = iris.evidence(self.record.letter_id, span.start, span.end)
        self.add(node, imr("evidence"), ev)
        self.add(ev, RDF_TYPE, imr("Evidence"))
        self.add(ev, imr("inLetter"), self.letter)
        self.add(ev, OA_START, span.start)
        self.add(ev, OA_END, span.end)
        self.add(ev, OA_EXACT, span.quote)
        if prop:
            self.add(ev, imr("supports"), imr(prop))

    def concept(self, node: NamedNode, cls: str, label: str) -> NamedNode:
        self.shared(node, RDF_TYPE, imr(cls))
        self.shared(node, SKOS_PREF_LABEL, label)
        return node


def letter_quads(record: LetterRecord) -> list[Quad]:
    """All quads of one parsed letter, each once (a concept or an evidence span met twice is emitted
    twice: a tenth of a letter's quads, which the store would only write again)."""
    e = _Emitter(record)
    _letter(e)
    case = _case(e)
    _reviewer(e)
    _utilization_review(e, case)
    for decision in record.decisions:
        _decision(e, decision)
    return list(dict.fromkeys(e.quads))


def _letter(e: _Emitter) -> None:
    r = e.record
    e.add(e.letter, RDF_TYPE, imr("Letter"))
    e.add(e.letter, DCT_IDENTIFIER, r.letter_id)
    e.add(e.letter, imr("sourceFile"), r.source_name)
    e.add(e.letter, imr("text"), r.text)
    e.add(e.letter, imr("sha256"), r.sha256)
    if r.source_sha256:
        e.add(e.letter, imr("sourceSha256"), r.source_sha256)
    e.add(e.letter, imr("layout"), r.layout)


def _case(e: _Emitter) -> NamedNode:
    r = e.record
    cover = r.cover
    key = cover.case_number.value if cover and cover.case_number else r.letter_id
    case = iris.case(key)
    e.add(e.letter, imr("aboutCase"), case)
    e.add(case, RDF_TYPE, imr("Case"))
    e.add(case, PROV_DERIVED, e.letter)
    if cover:
        for prop, fact in (("caseNumber", cover.case_number), ("dateAssigned", cover.date_assigned),
                           ("decisionDate", cover.decision_date), ("urDenialDate", cover.ur_denial_date),
                           ("priority", cover.priority), ("applicationReceived", cover.application_received)):
            e.fact(case, prop, fact)
    worker = iris.part(r.letter_id, "worker")
    e.add(case, imr("injuredWorker"), worker)
    e.add(worker, RDF_TYPE, imr("InjuredWorker"))
    e.fact(worker, "age", r.age)
    e.fact(worker, "sex", r.sex)
    injury = iris.part(r.letter_id, "injury")
    e.add(case, imr("injury"), injury)
    e.add(injury, RDF_TYPE, imr("Injury"))
    e.fact(injury, "injuryDate", r.injury_date)
    for region in r.body_regions:
        e.fact(injury, "bodyRegion", region, _region(e, region.value))
    for n, dx in enumerate(r.diagnoses, start=1):
        _diagnosis(e, case, n, dx)
    return case


def _region(e: _Emitter, label: str) -> NamedNode:
    return e.concept(iris.body_region(label), "BodyRegion", label)


def _diagnosis(e: _Emitter, case: NamedNode, n: int, dx: Diagnosis) -> None:
    node = iris.part(e.record.letter_id, "diagnosis", str(n))
    e.add(case, imr("diagnosis"), node)
    e.add(node, RDF_TYPE, imr("Diagnosis"))
    e.fact(node, "writtenAs", dx.written)
    e.add(node, imr("label"), dx.label)
    for region in dx.body_regions:
        e.add(node, imr("bodyRegion"), _region(e, region))


def _reviewer(e: _Emitter) -> None:
    r = e.record
    reviewer = iris.part(r.letter_id, "reviewer")
    e.add(e.letter, imr("reviewedBy"), reviewer)
    e.add(reviewer, RDF_TYPE, imr("Reviewer"))
    for sp in r.reviewer.specialties:
        node = e.concept(iris.specialty(sp.name.value), "Specialty", sp.name.value)
        e.fact(reviewer, "subspecialty" if sp.subspecialty else "specialty", sp.name, node)
    for st in r.reviewer.states:
        node = e.concept(iris.state(st.value), "State", st.value)
        e.shared(node, SKOS_NOTATION, st.value)
        e.fact(reviewer, "licensedIn", st, node)


def _utilization_review(e: _Emitter, case: NamedNode) -> None:
    ur = e.record.utilization_review
    if ur.date is None and ur.action is None:
        return
    node = iris.part(e.record.letter_id, "utilization-review")
    e.add(case, imr("utilizationReview"), node)
    e.add(node, RDF_TYPE, imr("UtilizationReview"))
    e.fact(node, "reviewDate", ur.date)
    e.fact(node, "action", ur.action)


def _decision(e: _Emitter, d: Decision) -> None:
    lid = e.record.letter_id
    node = iris.part(lid, "decision", str(d.number))
    request = iris.part(lid, "decision", str(d.number), "request")
    e.add(e.letter, imr("hasDecision"), node)
    e.add(node, RDF_TYPE, imr("Decision"))
    e.add(node, imr("sequence"), d.number)
    e.fact(node, "outcome", d.outcome)
    e.add(node, imr("decides"), request)
    e.fact(node, "rationale", d.rationale)
    if d.medically_necessary:
        e.fact(node, "medicallyNecessary", d.medically_necessary)
        e.add(node, imr("conclusion"), d.medically_necessary.span.quote)
    for party in d.no_evidence_cited:
        e.add(node, imr("noEvidenceCitedBy"), party)
    for n, citation in enumerate(d.citations, start=1):
        _citation(e, node, iris.part(lid, "decision", str(d.number), "citation", str(n)), citation)
    e.add(request, RDF_TYPE, imr("TreatmentRequest"))
    e.fact(request, "itemText", d.item)
    e.fact(request, "originalRequest", d.original_request)
    e.fact(request, "authorizedPortion", d.authorized_portion)
    for prop, fact in (("strengthMg", d.strength_mg), ("directions", d.directions),
                       ("quantity", d.quantity), ("refills", d.refills)):
        e.fact(request, prop, fact)
    if d.service_type:
        e.add(request, imr("serviceType"), e.concept(iris.service_type(d.service_type), "ServiceType",
                                                      d.service_type))
    if d.requested_drug_class:
        label = d.requested_drug_class.value
        e.fact(request, "requestedDrugClass", d.requested_drug_class,
               e.concept(iris.drug_class(label), "DrugClass", label))
    for n, ing in enumerate(d.ingredients, start=1):
        _ingredient(e, request, iris.part(lid, "decision", str(d.number), "ingredient", str(n)), ing)


def _ingredient(e: _Emitter, request: NamedNode, node: NamedNode, ing: Ingredient) -> None:
    med = e.concept(iris.medication(ing.generic), "Medication", ing.generic)
    if ing.drug_class:
        e.shared(med, imr("drugClass"), e.concept(iris.drug_class(ing.drug_class), "DrugClass",
                                                  ing.drug_class))
    if ing.drugbank_id:
        e.shared(med, imr("drugbankId"), ing.drugbank_id)
        e.shared(med, RDFS_SEE_ALSO, iris.drugbank(ing.drugbank_id))
    e.fact(request, "medication", ing.written, med)
    e.add(request, imr("ingredient"), node)
    e.add(node, RDF_TYPE, imr("Ingredient"))
    e.fact(node, "medication", ing.written, med)
    if ing.percent is not None:
        e.add(node, imr("percent"), ing.percent)


def _citation(e: _Emitter, decision: NamedNode, node: NamedNode, c: Citation) -> None:
    e.add(decision, imr("citation"), node)
    e.add(node, RDF_TYPE, imr("GuidelineCitation"))
    e.add(node, imr("citedBy"), c.party)
    guideline = e.concept(iris.guideline(c.guideline), "Guideline", load().guideline_codes[c.guideline])
    e.shared(guideline, SKOS_NOTATION, c.guideline)
    e.fact(node, "guideline", c.written, guideline)
    if c.source_name:
        e.add(node, imr("sourceName"), c.source_name)
    for label in c.sections:
        section = e.concept(iris.guideline_section(c.guideline, label), "GuidelineSection", label)
        e.shared(section, imr("inGuideline"), guideline)
        e.add(node, imr("section"), section)
    for page in c.pages:
        e.add(node, imr("page"), page)


def iter_vocabulary_quads() -> Iterator[Quad]:
    """Labels of every guideline code, so that uncited guidelines are still named."""
    for code, label in load().guideline_codes.items():
        node = iris.guideline(code)
        yield Quad(node, RDF_TYPE, imr("Guideline"), iris.VOCABULARY_GRAPH)
        yield Quad(node, SKOS_PREF_LABEL, literal(label), iris.VOCABULARY_GRAPH)
        yield Quad(node, SKOS_NOTATION, literal(code), iris.VOCABULARY_GRAPH)
