"""The decision counts kept at build time (kg.tally) answer the aggregate named queries exactly as
the direct queries over every decision would (tests/fixtures/direct-queries/), on real and generated
letters, after changes and removals, and on a remote store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg.build import build
from kg.graph import letter_quads
from kg.parser import parse_file
from kg.queries import named_query
from kg.store import Store
from kg.tally import letter_tallies

from .conftest import ALL_LETTERS, DIRECT, LETTERS, same_aggregates

ROOT = Path(__file__).parents[1]


def test_a_letter_contributes_its_own_decisions():
    counts = {(c.dimension, c.key, c.outcome): c.decisions
              for c in letter_tallies(letter_quads(parse_file(LETTERS / "CM17-0003284.txt")))}
    assert counts[("outcome", "all", "Upheld")] == 5
    assert counts[("year", "2017", "Upheld")] == 5
    assert counts[("service-type", "imaging", "Upheld")] == 3
    assert counts[("specialty", "Pain Management", "Upheld")] == 5


def test_sample_store_tallies_equal_the_direct_queries(sample_store):
    assert len(DIRECT) == 6
    same_aggregates(sample_store)


def test_tallies_follow_changed_and_removed_letters(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for path in ALL_LETTERS:
        shutil.copy(path, folder)
    with Store(tmp_path / "s") as store:
        assert build([folder], store).ok
        changed = folder / "CM17-0003284.txt"  # one of its five decisions becomes Overturned
        changed.write_text(changed.read_text().replace("cervical spine: Upheld", "cervical spine: Overturned", 1))
        again = build([folder], store)
        assert again.ok and again.accepted - again.unchanged == 1
        same_aggregates(store)
        for letter_id in ("CM17-0003284", "001_31f77f8318a90c33"):
            assert store.remove_letter(letter_id)
        same_aggregates(store)
        for letter_id in store.letter_ids():
            store.remove_letter(letter_id)
        assert list(store.query("SELECT * WHERE { GRAPH <https://w3id.org/imr-kg/id/graph/tallies> { ?s ?p ?o } }",
                                default_graph=[])) == []


def test_generated_letters_tallies_equal_the_direct_queries(tmp_path):
    out = tmp_path / "corpus"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_corpus.py"), "--letters", "150", "--seed", "3",
                    str(out)], check=True, capture_output=True)
    with Store(tmp_path / "s") as store:
        build([out / "letters"], store, jobs=2)
        same_aggregates(store)


@pytest.mark.parametrize("name", [p.stem for p in DIRECT])
def test_served_queries_read_only_the_tally_graph(name):
    assert "graph/tallies>" in named_query(name).sparql
