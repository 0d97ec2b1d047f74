"""Decision counts kept current at build time, so that aggregate queries read a few hundred numbers
instead of joining every decision (a group-by over 100k letters takes about a minute in Oxigraph).

A letter's contribution is computed when it is parsed, by the queries of queries/tallies/: each
counts one letter's decisions (it groups by ?l, the letter), so that one run over a chunk of letters
gives each letter's own (kg.summaries). The store keeps it in the manifest and adds it to (or subtracts it from)
the totals in the tally graph in the same transaction that lists (or unlists) the letter, so the
totals always equal the sum over the letters the manifest lists."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from typing import NamedTuple

import pyoxigraph as ox

from kg import iris, kept
from kg.namespaces import RDF_TYPE, XSD, XSD_STRING, imr
from kg.queries import without_header
from kg.resources import data_dir

# A tally query binds ?key, and ?key2 and ?key3 for a composite key; the tally keeps them as these.
KEY_PROPERTIES = {"key": "tallyKey", "key2": "tallyKey2", "key3": "tallyKey3"}
KEY_VARIABLES = tuple(KEY_PROPERTIES)

Key = tuple[tuple[str, str], ...]  # (lexical form, datatype IRI) of each part


LETTERS = ""  # the outcome of a contribution that counts letters (a query's ?letters), not decisions


class Contribution(NamedTuple):
    """How many of one letter's decisions fall under one key of one dimension with one outcome, or,
    with outcome LETTERS, whether the letter itself does (1)."""

    dimension: str  # the tally query's name: medication, drug-class, year, cited-section, ...
    key: Key
    outcome: str
    decisions: int  # or letters, with outcome LETTERS

    @property
    def terms(self) -> list[ox.Literal]:
        return [ox.Literal(lexical, datatype=ox.NamedNode(datatype)) for lexical, datatype in self.key]

    @property
    def node(self) -> ox.NamedNode:
        return _node(self.dimension, self.outcome, self.key)

    @property
    def count_property(self) -> ox.NamedNode:
        return imr("letterCount") if self.outcome == LETTERS else imr("decisionCount")


Tallies = tuple[Contribution, ...]


@lru_cache(maxsize=1 << 16)  # a writer meets the same few thousand tallies in every batch
def _node(dimension: str, outcome: str, key: Key) -> ox.NamedNode:
    return iris.tally(dimension, outcome or "letters", *(lexical for lexical, _ in key))


@cache
def tally_queries() -> dict[str, str]:
    """Dimension name -> the query that tallies one letter's decisions along it."""
    return {p.stem: p.read_text() for p in sorted((data_dir("queries") / "tallies").glob("*.rq"))}


@cache
def definitions() -> str:
    """SHA-256 of the tally queries and the per-letter queries (kg.kept): what a letter's summary in
    the manifest was made by; counts or rows made with other definitions are not these."""
    digest = hashlib.sha256()
    for dimension, sparql in [*tally_queries().items(), *kept.definitions().items()]:
        digest.update(f"{dimension}\n{without_header(sparql)}\n".encode())
    return digest.hexdigest()


def _part(term: ox.NamedNode | ox.Literal | ox.BlankNode | ox.Triple) -> tuple[str, str]:
    return term.value, term.datatype.value if isinstance(term, ox.Literal) else XSD_STRING


def tallies_by_letter(store: ox.Store) -> dict[str, Tallies]:
    """Letter id -> that letter's contributions, from a store of the quads of one or more letters
    (see kg.summaries); a letter without any has no entry."""
    found: dict[str, list[Contribution]] = {}
    for dimension, sparql in tally_queries().items():
        for row in store.query(sparql, use_default_graph_as_union=True):  # type: ignore[union-attr]
            key = tuple(_part(row[v]) for v in KEY_VARIABLES if row[v] is not None)
            if row["letters"] is not None:
                contribution = Contribution(dimension, key, LETTERS, int(row["letters"].value))
            else:
                contribution = Contribution(dimension, key, row["outcome"].value, int(row["decisions"].value))
            found.setdefault(iris.letter_id(row["l"]) or "", []).append(contribution)
    return {letter_id: tuple(sorted(contributions)) for letter_id, contributions in found.items()}


def encode(tallies: Tallies) -> str:
    return json.dumps([[c.dimension, [list(part) for part in c.key], c.outcome, c.decisions] for c in tallies],
                      separators=(",", ":"))


def decode(text: str) -> Tallies:
    return tuple(Contribution(dimension, tuple((lexical, datatype) for lexical, datatype in key), outcome, n)
                 for dimension, key, outcome, n in json.loads(text))


def decisions_in(text: str) -> int:
    """How many decisions a letter has, from its encoded tallies (the `outcome` dimension; read
    without making every contribution: 5x faster over 100k letters)."""
    return sum(n for dimension, _, _, n in json.loads(text) if dimension == "outcome")


def change(added: Iterable[Tallies], removed: Iterable[Tallies]) -> dict[Contribution, int]:
    """Net change per tally (keyed by a contribution with decisions=0) of adding and removing letters."""
    net: Counter[Contribution] = Counter()
    for tallies, sign in [(t, 1) for t in added] + [(t, -1) for t in removed]:
        for c in tallies:
            net[c._replace(decisions=0)] += sign * c.decisions
    return {c: n for c, n in net.items() if n}


def update_operations(net: dict[Contribution, int]) -> list[str]:
    """SPARQL Update operations that apply `net` to the tally graph; a tally that reaches 0 goes."""
    if not net:
        return []
    graph = iris.TALLY_GRAPH
    keys = " ".join(f"?{v}" for v in KEY_VARIABLES)
    about = " ; ".join([f"{imr('tallyDimension')} ?dimension", f"{imr('tallyOutcome')} ?outcome",
                        *(f"{imr(prop)} ?{v}" for v, prop in KEY_PROPERTIES.items())])
    rows = " ".join(f"({c.node} {ox.Literal(c.dimension)} {' '.join(_padded(c.terms))} "
                    f"{ox.Literal(c.outcome) if c.outcome != LETTERS else 'UNDEF'} {c.count_property} {n})"
                    for c, n in sorted(net.items()))
    counts = f"{imr('decisionCount')} {imr('letterCount')}"
    return [  # a template triple with an unbound variable (a key part the tally lacks) is not inserted
        f"DELETE {{ GRAPH {graph} {{ ?t ?count ?old }} }}\n"
        f"INSERT {{ GRAPH {graph} {{ ?t a {imr('Tally')} ; {about} ; ?count ?new }} }}\n"
        f"WHERE {{ VALUES (?t ?dimension {keys} ?outcome ?count ?delta) {{ {rows} }}\n"
        f"  OPTIONAL {{ GRAPH {graph} {{ ?t ?count ?old }} }} BIND (COALESCE(?old, 0) + ?delta AS ?new) }}",
        f"DELETE {{ GRAPH {graph} {{ ?t ?p ?o }} }} "
        f"WHERE {{ VALUES ?count {{ {counts} }} GRAPH {graph} {{ ?t ?count 0 ; ?p ?o }} }}",
    ]


def applied(net: dict[Contribution, int], counts: Callable[[list[ox.NamedNode]], dict[ox.NamedNode, int]]
            ) -> tuple[list[ox.Quad], list[ox.Quad]]:
    """The quads to delete and those to insert that apply `net` to the tally graph, as
    `update_operations` would, given the counts these tallies have there (`counts`: for a store its
    writer reads as it writes; this costs half of running those operations)."""
    deleted: list[ox.Quad] = []
    inserted: list[ox.Quad] = []
    now = counts([c.node for c in net])
    for c, delta in sorted(net.items()):
        old = now.get(c.node)
        new = (old or 0) + delta
        if old is None:
            inserted += _quads(c, new) if new else []
        elif new == 0:
            deleted += _quads(c, old)
        else:
            deleted.append(_tally_quad(c.node, c.count_property, _integer(old)))
            inserted.append(_tally_quad(c.node, c.count_property, _integer(new)))
    return deleted, inserted


def _quads(c: Contribution, count: int) -> list[ox.Quad]:
    """A tally's quads (those of the template of `update_operations`)."""
    about: list[tuple[ox.NamedNode, ox.NamedNode | ox.Literal]] = [
        (RDF_TYPE, imr("Tally")), (imr("tallyDimension"), ox.Literal(c.dimension))]
    if c.outcome != LETTERS:
        about.append((imr("tallyOutcome"), ox.Literal(c.outcome)))
    about += [(imr(prop), term) for prop, term in zip(KEY_PROPERTIES.values(), c.terms, strict=False)]
    return [_tally_quad(c.node, p, o) for p, o in [*about, (c.count_property, _integer(count))]]


def _tally_quad(node: ox.NamedNode, predicate: ox.NamedNode, value: ox.NamedNode | ox.Literal) -> ox.Quad:
    return ox.Quad(node, predicate, value, iris.TALLY_GRAPH)


def _integer(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=ox.NamedNode(XSD + "integer"))


def _padded(terms: list[ox.Literal]) -> list[str]:
    return [str(t) for t in terms] + ["UNDEF"] * (len(KEY_VARIABLES) - len(terms))
