"""SPARQL SELECTs the GraphQL layer asks of the query runner: user values written as terms, VALUES
blocks of IRIs, and the answer as rows of plain strings."""

from __future__ import annotations

import datetime as dt
import json

import pyoxigraph as ox

from kg.iris import letter as letter_iri
from kg.server.runner import QueryRunner, QueryTimeout

PREFIXES = """PREFIX imr: <https://w3id.org/imr-kg/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""


def term(value: str | int | dt.date) -> str:
    """A user value as a SPARQL term, written by pyoxigraph's serializer (quotes escaped)."""
    if isinstance(value, dt.date):
        return str(ox.Literal(value.isoformat(), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")))
    if isinstance(value, int):
        return str(ox.Literal(value))  # an xsd:integer, compared as a number
    return str(ox.Literal(str(value)))


async def select(runner: QueryRunner, sparql: str) -> list[dict[str, str]]:
    """The rows of a SELECT (PREFIXES added), each a variable's value as text; a timeout or an error
    of the store as a ValueError, which GraphQL reports in its errors."""
    try:
        answer = await runner.ask({"kind": "sparql", "query": PREFIXES + sparql,
                                 "accept": "application/sparql-results+json"})
    except QueryTimeout as exc:
        raise ValueError(str(exc)) from exc
    if answer.status != 200:
        raise ValueError(answer.content().decode(errors="replace").strip())
    rows = json.loads(answer.content())["results"]["bindings"]
    return [{k: v["value"] for k, v in row.items()} for row in rows]


def values(var: str, iris: list[str]) -> str:
    """A VALUES block binding ?var to these IRIs (each written by pyoxigraph, so none can break out)."""
    return f"VALUES ?{var} {{ {' '.join(str(ox.NamedNode(i)) for i in iris)} }}"


def letter_values(ids: list[str]) -> str:
    return values("l", [letter_iri(i).value for i in ids])
