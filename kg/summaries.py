"""What the build keeps of each letter besides its graph: its contributions to the decision counts
(kg.tally) and its rows of the per-letter queries (kg.kept), for a chunk of parsed letters at once.

Both are defined over one letter's quads. They are computed with one run of each query over a store
of the whole chunk, each letter's results read off by its letter (?l, ?letter): parsing and planning
a query costs more than running it over one letter (the 18 queries took 4.1 ms a letter one letter
at a time, 1.15 ms in chunks of 25). Letters that would see each other's facts in such a store (a
node of their own graphs in common: the same case number, the same letter id) are computed alone,
so that what is kept of a letter does not depend on the letters parsed with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from kg import iris, kept, tally


@dataclass(frozen=True)
class Summary:
    tallies: str  # the letter's contributions, encoded (kg.tally.encode)
    rows: kept.Rows  # query name -> its rows of that per-letter query, encoded (kg.kept)


def summarize(letters: Sequence[tuple[str, list[ox.Quad]]]) -> list[Summary]:
    """The summary of each (letter id, the letter's quads), in order."""
    alone = _entangled(letters)
    together = [i for i in range(len(letters)) if i not in alone]
    made: dict[int, Summary] = {}
    for group in [together, *([i] for i in sorted(alone))]:
        if group:
            made |= _summarize_group(letters, group)
    return [made[i] for i in range(len(letters))]


def _summarize_group(letters: Sequence[tuple[str, list[ox.Quad]]], group: list[int]) -> dict[int, Summary]:
    """The summaries of the letters at these positions, from one store of all of them."""
    store = ox.Store()
    store.extend(q for i in group for q in letters[i][1])
    tallies = tally.tallies_by_letter(store)
    rows = kept.rows_by_letter(store, [letters[i][0] for i in group])
    return {i: Summary(tally.encode(tallies.get(letters[i][0], ())), rows[letters[i][0]]) for i in group}


def _entangled(letters: Sequence[tuple[str, list[ox.Quad]]]) -> set[int]:
    """The positions of the letters that have a node of their own graphs (a subject outside the
    shared vocabulary) in common with another letter of the chunk."""
    owner: dict[ox.NamedNode | ox.BlankNode | ox.Triple, int] = {}
    entangled: set[int] = set()
    for i, (_, quads) in enumerate(letters):
        for node in {q.subject for q in quads if q.graph_name != iris.VOCABULARY_GRAPH}:
            first = owner.setdefault(node, i)
            if first != i:
                entangled |= {first, i}
    return entangled
