"""Every IRI kg mints, in one place: the same letter always yields the same IRIs."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from pyoxigraph import NamedNode

from kg.namespaces import DATA, DRUGBANK

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slug(label: str) -> str:
    """A readable, stable IRI segment for a label ("Physical Medicine & Rehabilitation" ->
    "physical-medicine-rehabilitation")."""
    s = _NON_SLUG.sub("-", label.lower()).strip("-")
    return s or quote(label, safe="")


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")  # what `quote` leaves as it is


def _iri(*segments: str) -> NamedNode:
    return NamedNode(DATA + "/".join(s if _UNRESERVED.fullmatch(s) else quote(s, safe="-._~") for s in segments))


def letter(letter_id: str) -> NamedNode:
    return _iri("letter", letter_id)


def _id_under(iri: NamedNode, prefix: str) -> str | None:
    rest = iri.value.removeprefix(prefix)
    return unquote(rest) if rest != iri.value and rest and "/" not in rest else None


def letter_id(letter_iri: NamedNode) -> str | None:
    """The letter id of a letter IRI (the inverse of `letter`); None for any other IRI."""
    return _id_under(letter_iri, letter("").value)


def letter_graph_id(graph: NamedNode) -> str | None:
    """The letter id of a letter graph (the inverse of `letter_graph`); None for any other graph."""
    return _id_under(graph, letter_graph("").value)


def letter_graph(letter_id: str) -> NamedNode:
    """The named graph holding one letter's facts."""
    return _iri("graph", "letter", letter_id)


def rejected_file(extraction_key: str) -> NamedNode:
    """A manifest entry for file contents the extractor rejected (see kg.extractor)."""
    return _iri("rejected", extraction_key)


def rejected_file_key(iri: NamedNode) -> str | None:
    """The extraction key of a rejected-file entry (the inverse of `rejected_file`)."""
    return _id_under(iri, rejected_file("").value)


def tally(dimension: str, outcome: str, *key: str) -> NamedNode:
    """The running count of decisions with `outcome` under a key (one or more parts) of a dimension
    (see kg.tally)."""
    return _iri("tally", dimension, outcome, *key)


def kept_rows(query: str) -> NamedNode:
    """The manifest predicate of a letter's kept rows of a per-letter named query (see kg.kept)."""
    return _iri("kept", query)


def kept_index(query: str, *part: str) -> NamedNode:
    """The manifest predicate of an index of the letters' kept rows of a query (see kg.kept_index): all
    rows in one form, or those of one value."""
    return _iri("kept", query, *part)


# the manifest predicate of the format the kept rows' indexes were written in (see kg.kept_index)
KEPT_INDEX_FORMAT = _iri("kept-indexes", "format")
VOCABULARY_GRAPH = _iri("graph", "vocabulary")
# lists the letter graphs written whole (see Store.replace_letters)
MANIFEST_GRAPH = _iri("graph", "manifest")
ONTOLOGY_GRAPH = _iri("graph", "ontology")
TALLY_GRAPH = _iri("graph", "tallies")


def case(case_key: str) -> NamedNode:
    """A case by its case number (CM16-0213037), or by letter id where the letter has no cover."""
    return _iri("case", case_key)


def part(letter_id: str, *path: str) -> NamedNode:
    """A node that belongs to one letter: its worker, injury, decisions, citations..."""
    return _iri("letter", letter_id, *path)


def evidence(letter_id: str, start: int, end: int) -> NamedNode:
    return _iri("letter", letter_id, "evidence", f"{start}-{end}")


def medication(generic: str) -> NamedNode:
    return _iri("medication", slug(generic))


def drug_class(label: str) -> NamedNode:
    return _iri("drug-class", slug(label))


def service_type(label: str) -> NamedNode:
    return _iri("service-type", slug(label))


def guideline(code: str) -> NamedNode:
    return _iri("guideline", code)


def _exact(label: str) -> str:
    """An IRI segment that differs whenever the (canonical) label differs."""
    return label.replace(" ", "_")


def guideline_section(code: str, label: str) -> NamedNode:
    return _iri("guideline", code, "section", _exact(label))


def specialty(label: str) -> NamedNode:
    return _iri("specialty", _exact(label))


def state(usps: str) -> NamedNode:
    return _iri("state", usps)


def body_region(label: str) -> NamedNode:
    return _iri("body-region", slug(label))


def drugbank(drugbank_id: str) -> NamedNode:
    return NamedNode(DRUGBANK + drugbank_id)
