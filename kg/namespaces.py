"""The RDF vocabularies kg writes: its own ontology and the established ones it reuses."""

from __future__ import annotations

from functools import cache

from pyoxigraph import NamedNode

IMR = "https://w3id.org/imr-kg/ontology#"
DATA = "https://w3id.org/imr-kg/id/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = XSD + "string"  # the datatype of a plain literal
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
OA = "http://www.w3.org/ns/oa#"
DRUGBANK = "https://go.drugbank.com/drugs/"

PREFIXES = {"imr": IMR, "rdf": RDF, "rdfs": RDFS, "xsd": XSD, "skos": SKOS, "dcterms": DCTERMS,
            "prov": PROV, "oa": OA}
SPARQL_PREFIXES = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())  # a query's header


@cache
def imr(name: str) -> NamedNode:
    """A term of the kg ontology (cached: the graph builder asks for the same few often)."""
    return NamedNode(IMR + name)


RDF_TYPE = NamedNode(RDF + "type")
RDFS_LABEL = NamedNode(RDFS + "label")
RDFS_SEE_ALSO = NamedNode(RDFS + "seeAlso")
SKOS_PREF_LABEL = NamedNode(SKOS + "prefLabel")
SKOS_NOTATION = NamedNode(SKOS + "notation")
SKOS_IN_SCHEME = NamedNode(SKOS + "inScheme")
DCT_IDENTIFIER = NamedNode(DCTERMS + "identifier")
DCT_SOURCE = NamedNode(DCTERMS + "source")
PROV_DERIVED = NamedNode(PROV + "wasDerivedFrom")
OA_START = NamedNode(OA + "start")
OA_END = NamedNode(OA + "end")
OA_EXACT = NamedNode(OA + "exact")
