"""SHACL validation of letter graphs with the shapes of shapes/, each result attributed to its letter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import rdflib
from rdflib.namespace import RDF, SH

from kg.memory import collector_paused
from kg.namespaces import DATA, IMR, XSD_STRING
from kg.parallel import CHUNK_SIZE, chunked, ordered_map
from kg.resources import data_dir

_LETTER_IRI = re.compile(re.escape(DATA) + r"letter/(?P<id>[^/]+)")
SHAPES_NS = "https://w3id.org/imr-kg/shapes#"
_SHORT = {SHAPES_NS: "s:", IMR: "imr:", "http://www.w3.org/ns/oa#": "oa:",
          "http://www.w3.org/2004/02/skos/core#": "skos:", "http://purl.org/dc/terms/": "dcterms:"}


@dataclass(frozen=True)
class Violation:
    """One SHACL result: which letter, which rule, where, what value, and the rule's message."""

    letter: str | None  # None: a shared concept (medication, guideline, ...) or unknown
    severity: str  # Violation, Warning or Info
    shape: str
    focus: str
    path: str | None
    value: str | None
    message: str


@dataclass
class ValidationResult:
    violations: list[Violation]
    report: rdflib.Graph

    @property
    def conforms(self) -> bool:
        """Warnings are reported but do not break conformance."""
        return not any(v.severity == "Violation" for v in self.violations)


@cache
def shapes_graph() -> rdflib.Graph:
    """The shapes of shapes/*.ttl, parsed once per process."""
    g = rdflib.Graph()
    for path in sorted(data_dir("shapes").glob("*.ttl")):
        g.parse(path, format="turtle")
    return g


# Nodes that kg.graph makes whole whatever a letter says. An evidence node gets its one start, end,
# quote, letter and supported property where it is minted, from a `Span` that refuses an empty or
# reversed range and a quote that is not the letter's words there. `kg build` checks letters
# without the shapes of these classes (they were half of pyshacl's work and of the graph it reads);
# `kg validate` checks the store with every shape.
BUILT_WHOLE = (rdflib.URIRef(IMR + "Evidence"),)


@cache
def letter_shapes_graph() -> rdflib.Graph:
    """The shapes `kg build` checks each letter with: all but those of the BUILT_WHOLE classes."""
    full = shapes_graph()
    skipped = {s for cls in BUILT_WHOLE for s in full.subjects(SH.targetClass, cls)}
    g = rdflib.Graph()
    for triple in full:
        if triple[0] not in skipped:
            g.add(triple)
    return g


@cache
def _unchecked_predicates() -> frozenset[str]:
    """The properties only the left-out shapes read: a letter's graph is checked without them."""
    full, kept = shapes_graph(), letter_shapes_graph()
    mentioned = {str(o) for o in kept.objects() if isinstance(o, rdflib.URIRef)}
    return frozenset(str(p) for p in full.objects(None, SH.path)
                     if isinstance(p, rdflib.URIRef) and str(p) not in mentioned)


def _short(term: rdflib.term.Node | None) -> str | None:
    if term is None:
        return None
    if isinstance(term, rdflib.URIRef):
        for ns, prefix in _SHORT.items():
            if term.startswith(ns):
                return prefix + term[len(ns):]
        return str(term)
    if isinstance(term, rdflib.BNode):
        return "(path expression)"
    return str(term)


def _term(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    return rdflib.Literal(term.value, datatype=None if datatype == XSD_STRING else rdflib.URIRef(datatype))




def to_rdflib(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    """Quads (any graphs) as one rdflib graph of triples, converted term by term (parsing N-Triples
    back would cost several times more), each term once, straight into the graph's store (what
    `Graph.add` adds is checks of the terms' types)."""
    g = rdflib.Graph()
    add = g.store.add
    terms: dict[object, rdflib.term.Node] = {}

    def term(t: ox.NamedNode | ox.BlankNode | ox.Literal) -> rdflib.term.Node:
        found = terms.get(t)
        if found is None:
            found = terms[t] = _term(t)
        return found

    for q in quads:
        add((term(q.subject), term(q.predicate), term(q.object)), g, False)
    return g


def _letter_of(focus: rdflib.term.Node, data: rdflib.Graph, default: str | None) -> str | None:
    m = _LETTER_IRI.match(str(focus))
    if m:
        return m.group("id")
    for letter in data.subjects(rdflib.URIRef(IMR + "aboutCase"), focus):
        m = _LETTER_IRI.match(str(letter))
        if m:
            return m.group("id")
    return default


def _path_text(report: rdflib.Graph, result: rdflib.term.Node, prop: rdflib.URIRef = SH.resultPath) -> str | None:
    """A readable SHACL path: imr:outcome, imr:injury/imr:injuryDate, ^imr:utilizationReview/..."""
    path = report.value(result, prop)
    if isinstance(path, rdflib.BNode):
        items = list(rdflib.collection.Collection(report, path)) if report.value(path, RDF.first) else []
        inverse = report.value(path, SH.inversePath)
        if inverse is not None:
            return f"^{_short(inverse)}"
        return "/".join(p for p in (_path_text_node(report, i) for i in items) if p) or "(path expression)"
    return _short(path)


def _path_text_node(report: rdflib.Graph, node: rdflib.term.Node) -> str | None:
    inverse = report.value(node, SH.inversePath) if isinstance(node, rdflib.BNode) else None
    return f"^{_short(inverse)}" if inverse is not None else _short(node)


def validate_graph(data: rdflib.Graph, letter: str | None = None,
                   shapes: rdflib.Graph | None = None) -> ValidationResult:
    """Validate one graph (with every shape, by default); results name the letter of their focus
    node (or `letter`)."""
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes if shapes is not None else shapes_graph(),
                                    inference="none", allow_warnings=True)
    violations = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        value = report.value(result, SH.value)
        shape = report.value(result, SH.sourceShape)
        severity = report.value(result, SH.resultSeverity)
        message = report.value(result, SH.resultMessage)
        violations.append(Violation(
            letter=_letter_of(focus, data, letter),
            severity=str(severity).rsplit("#", 1)[-1],
            shape=_short(shape) or "",
            focus=str(focus),
            path=_path_text(report, result),
            value=None if value == focus else _short(value),
            message=str(message) if message else "",
        ))
    return ValidationResult(_sorted(violations), report)


def _sorted(violations: Iterable[Violation]) -> list[Violation]:
    return sorted(violations, key=lambda v: (v.letter or "", v.shape, v.focus, v.path or "", v.value or ""))


def validate_quads(quads: Iterable[ox.Quad], letter: str | None = None) -> ValidationResult:
    return validate_graph(to_rdflib(quads), letter)


def validate_letter_quads(quads: Iterable[ox.Quad], letter: str | None = None) -> ValidationResult:
    """What `kg build` checks of new letters: their graphs with `letter_shapes_graph()`."""
    unchecked = _unchecked_predicates()
    return validate_graph(to_rdflib(q for q in quads if q.predicate.value not in unchecked), letter,
                          letter_shapes_graph())


def by_letter(violations: Iterable[Violation], letters: dict[str, list[ox.Quad]]) -> dict[str | None, list[Violation]]:
    """The results of a check of several letters at once, each under its letter. One on a shared
    concept (a medication, a guideline) goes to every letter that links to it; one that no letter
    claims, under None."""
    found: dict[str | None, list[Violation]] = {lid: [] for lid in letters}
    for v in violations:
        owners = [v.letter] if v.letter in letters else [
            lid for lid, quads in letters.items() if any(q.object.value == v.focus for q in quads)]
        for owner in owners or [None]:
            found.setdefault(owner, []).append(v if v.letter == owner else replace(v, letter=owner))
    return found


def validate_letters(letters: Iterable[tuple[str, list[ox.Quad]]], jobs: int = 1) -> ValidationResult:
    """Stored letters (each with the vocabulary it links to) against every shape: CHUNK_SIZE letters a
    pyshacl call, in `jobs` processes, each result under its letter."""
    chunks = ([(lid, ox.serialize(quads, format=ox.RdfFormat.N_QUADS)) for lid, quads in chunk]
              for chunk in chunked(letters, CHUNK_SIZE))
    with ProcessPoolExecutor(jobs) if jobs > 1 else nullcontext() as pool:
        merged = merge(ordered_map(_validate_chunk, chunks, pool, 2 * jobs))
    return ValidationResult(_sorted(merged.violations), merged.report)  # one group per letter in a report


def _validate_chunk(chunk: list[tuple[str, bytes]]) -> ValidationResult:
    with collector_paused(collect_after=True):  # as kg.build's chunks: pyshacl leaves cycles behind
        letters = {lid: list(ox.parse(data, format=ox.RdfFormat.N_QUADS)) for lid, data in chunk}
        result = validate_quads(q for quads in letters.values() for q in quads)
        found = by_letter(result.violations, letters)
        return ValidationResult(_sorted(v for violations in found.values() for v in violations), result.report)


def merge(results: Iterable[ValidationResult]) -> ValidationResult:
    """One result (and one sh:ValidationReport) from the results of several letters."""
    results = list(results)
    report = rdflib.Graph()
    node = rdflib.BNode()
    report.add((node, RDF.type, SH.ValidationReport))
    violations: list[Violation] = []
    for r in results:
        violations += r.violations
        for result in r.report.subjects(RDF.type, SH.ValidationResult):
            report.add((node, SH.result, result))
        for triple in r.report:
            if triple[0] != node and triple[1] != SH.conforms and triple[2] != SH.ValidationReport:
                report.add(triple)
    merged = ValidationResult(violations, report)
    report.add((node, SH.conforms, rdflib.Literal(merged.conforms)))
    return merged


def summary_line(violations: list[Violation]) -> str:
    errors = sum(v.severity == "Violation" for v in violations)
    warnings = len(violations) - errors
    letters = len({v.letter for v in violations})
    return f"{errors} violation(s), {warnings} warning(s) in {letters} letter(s)" if violations else "conforms"


def text_report(violations: list[Violation]) -> str:
    """Grouped by letter, then by rule: focus node, path, offending value, the rule's message."""
    lines: list[str] = []
    current: tuple[str | None, str] | None = None
    for v in violations:
        if v.letter != (current or (None,))[0] or current is None:
            lines.append(f"letter {v.letter or '(shared concepts)'}:")
        key = (v.letter, v.shape)
        if key != current:
            lines.append(f"  {v.severity} {v.shape}: {v.message}")
            current = key
        where = f"    at <{v.focus}>" + (f" {v.path}" if v.path else "")
        lines.append(where + (f" = {v.value}" if v.value is not None else ""))
    lines.append(summary_line(violations))
    return "\n".join(lines) + "\n"


def json_report(result: ValidationResult) -> str:
    return json.dumps({"conforms": result.conforms, "summary": summary_line(result.violations),
                       "results": [asdict(v) for v in result.violations]}, indent=1) + "\n"


RDF_SUFFIXES = {".ttl": "turtle", ".nt": "nt", ".nq": "nquads", ".trig": "trig", ".jsonld": "json-ld",
                ".json": "json-ld", ".rdf": "xml", ".owl": "xml"}


def load_files(paths: Iterable[Path]) -> rdflib.Graph:
    """The union of RDF files (by extension) as one graph; raises ValueError naming a bad file."""
    union = rdflib.Graph()
    for path in paths:
        fmt = RDF_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"{path}: unknown RDF file type (use {', '.join(RDF_SUFFIXES)})")
        try:
            ds = rdflib.Dataset()
            ds.parse(path, format=fmt)
        except Exception as exc:
            raise ValueError(f"{path}: cannot parse as {fmt}: {exc}") from exc
        for s, p, o, _ in ds.quads((None, None, None, None)):
            union.add((s, p, o))
    return union
