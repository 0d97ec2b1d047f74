"""The decision counts kept at build time (kg.tally) answer the aggregate named queries exactly as
the direct queries over every decision would (tests/fixtures/direct-queries/), on real and generated
letters, after changes and removals, and on a remote store."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from pyoxigraph import Literal
from typer.testing import CliRunner

from kg import iris
from kg.answer import answering, table_rows
from kg.build import build
from kg.cli import TABLES, app
from kg.graph import letter_quads
from kg.kept import kept_queries
from kg.kept import predicate as kept_predicate
from kg.parser import parse_file, parse_text
from kg.queries import load_query, named_query
from kg.results import to_csv
from kg.store import SHA256, TALLY_DEFINITIONS, Store, tallies_complete_mark
from kg.summaries import summarize
from kg.tally import decode

from .conftest import ALL_LETTERS, DIRECT, LETTERS, same_as_direct

ROOT = Path(__file__).parents[1]


def test_a_letter_contributes_its_own_decisions():
    record = parse_file(LETTERS / "CM17-0003284.txt")
    counts = {(c.dimension, *(lexical for lexical, _ in c.key), c.outcome): c.decisions
              for c in decode(summarize([(record.letter_id, letter_quads(record))])[0].tallies)}
    assert counts[("outcome", "all", "Upheld")] == 5
    assert counts[("year", "2017", "Upheld")] == 5
    assert counts[("service-type", "imaging", "Upheld")] == 3
    assert counts[("specialty", "Pain Management", "Upheld")] == 5


def test_sample_store_tallies_equal_the_direct_queries(sample_store):
    assert len(DIRECT) == 11
    same_as_direct(sample_store)


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
        same_as_direct(store)
        for letter_id in ("CM17-0003284", "001_31f77f8318a90c33"):
            assert store.remove_letter(letter_id)
        same_as_direct(store)
        for letter_id in store.letter_ids():
            store.remove_letter(letter_id)
        assert list(store.query("SELECT * WHERE { GRAPH <https://w3id.org/imr-kg/id/graph/tallies> { ?s ?p ?o } }",
                                default_graph=[])) == []


def test_indexes_of_kept_rows_are_not_read_during_a_write_nor_after_an_interrupted_one(tmp_path):
    with Store(tmp_path / "s") as store:
        assert build(ALL_LETTERS, store).ok
        csv = store.kept_csv("decisions")
        assert csv.count("\n") == 72
        assert csv.startswith("000_ed7318db5454d5ef,Soma tablets 350mg,Upheld,carisoprodol,350,")
        soma = store.kept_by_value("decisions-for-medication", Literal("carisoprodol"))
        assert soma is not None and [row[1] for row in soma.rows()] == [
            "000_ed7318db5454d5ef", "001_31f77f8318a90c33", "002_d7e3603ed8b34fa0", "004_cb07c567c7678ea3"]
        with pytest.raises(KeyboardInterrupt), store.writing():
            assert store._kept_whole("decisions", "csv") is None  # not read while letters change
            assert store.kept_by_value("decisions-for-medication", Literal("carisoprodol")) is None
            assert store.kept_csv("decisions") == csv  # from every letter's own rows
            raise KeyboardInterrupt
    with Store(tmp_path / "s") as store:
        assert store._kept_whole("decisions", "csv") is None and store.kept_csv("decisions") == csv
        again = build(ALL_LETTERS, store)  # repairs: the indexes are made again from the letters' rows
        assert again.unchanged == 28 and store._kept_whole("decisions", "csv") is not None
        assert store.kept_csv("decisions") == csv
        same_as_direct(store)


def test_indexes_in_another_format_are_not_read_and_the_next_build_makes_them_reading_no_letter(tmp_path,
                                                                                             monkeypatch):
    """An upgrade of the code that writes the indexes of kept rows (kg.kept_index), not of the
    extractor: the old indexes are not read (answers come from every letter's rows), and the next
    build makes them again from those rows without parsing a letter."""
    with Store(tmp_path / "s") as store:
        assert build(ALL_LETTERS, store).ok
        csv = store.kept_csv("decisions")
        assert store.kept_values("decisions-for-medication") is not None
    monkeypatch.setattr("kg.kept_index.index_format", lambda: "a newer format")
    printed = CliRunner().invoke(app, ["table", "decisions", "--store", str(tmp_path / "s")])
    assert printed.exit_code == 0 and printed.stdout.splitlines()[1:] == csv.splitlines()
    assert "table indexes were written by another version of kg" in printed.stderr
    with Store(tmp_path / "s") as store:
        assert store.kept_indexes_outdated()
        assert store._kept_whole("decisions", "csv") is None and list(store.kept_bindings("cases"))
        assert store.kept_values("decisions-for-medication") is None
        assert store.kept_by_value("decisions-for-medication", Literal("carisoprodol")) is None
        assert store.kept_csv("decisions") == csv
        every = list(store.every_letter_rows())  # what the indexes are made from, a letter at a time
        assert [letter_id for letter_id, _ in every] == sorted(store.letter_hashes()) and len(every) == 28
        assert all(rows == {name: store.kept_rows(name, [letter_id])[letter_id] for name in kept_queries()}
                   for letter_id, rows in every)
        again = build(ALL_LETTERS, store)
        assert (again.unchanged, again.rewritten, again.triples) == (28, 0, 0)
        assert store._index(iris.KEPT_INDEX_FORMAT) == "a newer format"
        assert store._kept_whole("decisions", "csv") == csv and not store.kept_indexes_outdated()
        same_as_direct(store)
    assert "another version" not in CliRunner().invoke(app, ["table", "cases", "--store", str(tmp_path / "s")]).stderr


def test_generated_letters_tallies_equal_the_direct_queries(tmp_path):
    out = tmp_path / "corpus"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_corpus.py"), "--letters", "150", "--seed", "3",
                    str(out)], check=True, capture_output=True)
    with Store(tmp_path / "s") as store:
        build([out / "letters"], store, jobs=2)
        same_as_direct(store)


@pytest.mark.parametrize("name", [p.stem for p in DIRECT])
def test_served_queries_read_only_the_tally_graph(name):
    assert "graph/tallies>" in named_query(name).sparql


def test_a_store_without_complete_tallies_answers_from_the_direct_queries(tmp_path):
    """A store written before tallies existed (simulated: one letter's contributions and the mark
    dropped) answers the aggregates by counting every decision, until a build completes the tallies."""
    with Store(tmp_path / "s") as store:
        assert build(ALL_LETTERS[:6], store).ok
        assert store.tallies_complete()
        letter = iris.letter(ALL_LETTERS[0].stem)
        store._store.remove(next(store._store.quads_for_pattern(letter, TALLY_DEFINITIONS, None,
                                                                iris.MANIFEST_GRAPH)))
        store._store.remove(tallies_complete_mark())
        store.check_tallies()
        assert not store.tallies_complete()
        query = named_query("uphold-rate-by-medication")
        assert answering(store, query).path.parent.name == "direct"
        direct_rows = table_rows(store, query)
        assert direct_rows == table_rows(store, load_query(answering(store, query).path))
        assert direct_rows[1]  # the direct form answers
        store._store.remove(next(store._store.quads_for_pattern(letter, SHA256, None, iris.MANIFEST_GRAPH)))
        store.check_tallies()  # the letter without contributions is no longer listed: complete again
        assert store.tallies_complete() and answering(store, query) is query


@pytest.mark.parametrize("name", TABLES)
def test_kg_table_reads_the_rows_letters_kept_and_runs_the_query_until_every_letter_keeps_them(tmp_path, name,
                                                                                                 monkeypatch):
    runner = CliRunner()
    with Store(tmp_path / "s") as store:
        assert build(ALL_LETTERS, store).ok and store.tallies_complete()
        direct = to_csv(*table_rows(store, named_query(name)))
        letter = iris.letter(ALL_LETTERS[0].stem)  # as if built before letters kept their rows
        for prop in (*(kept_predicate(n) for n in kept_queries()), TALLY_DEFINITIONS):
            store._store.remove(next(store._store.quads_for_pattern(letter, prop, None, iris.MANIFEST_GRAPH)))
        store._store.remove(tallies_complete_mark())
    printed = runner.invoke(app, ["table", name, "--store", str(tmp_path / "s")])
    assert printed.exit_code == 0 and printed.stdout == direct
    assert f"\n{ALL_LETTERS[0].stem}," in printed.stdout  # the letter without kept rows is there
    monkeypatch.setattr("kg.extractor.fingerprint", lambda: "an extractor that keeps table rows")
    with Store(tmp_path / "s") as store:
        assert build(ALL_LETTERS, store).ok  # every letter relisted with its rows: complete again
        assert store.tallies_complete()
        kept = list(store.kept(name).cells())
    assert runner.invoke(app, ["table", name, "--store", str(tmp_path / "s")]).stdout == direct
    assert len(kept) == direct.count("\n") - 1 == {"decisions": 72, "cases": 28}[name]


def test_changed_tally_queries_make_the_tallies_incomplete_until_every_letter_is_counted_again(tmp_path,
                                                                                                monkeypatch):
    with Store(tmp_path / "s") as store:
        assert build(ALL_LETTERS[:4], store).ok and store.tallies_complete()
        monkeypatch.setattr("kg.tally.definitions", lambda: "0" * 64)  # new tally queries, new extractor
        monkeypatch.setattr("kg.extractor.fingerprint", lambda: "another extractor")
        assert not store.tallies_complete()
        again = build(ALL_LETTERS[:4], store)  # every letter read again and relisted with its new counts
        assert (again.unchanged, again.triples) == (4, 0) and store.tallies_complete()
        same_as_direct(store)


def test_a_kept_table_over_the_row_cap_stops_reading_its_index():
    """A capped answer (the server's) reads only the chunks it needs to know that the rows are too
    many, and makes no term of them."""
    from kg import kept_tables
    from kg.queries import TooManyRows

    read: list[int] = []

    def runs() -> Iterator[str]:
        for n in range(400):  # 400 chunks of 3 rows
            read.append(n)
            yield f'["CM{n}-1",1],["CM{n}-2",2],["CM{n}-3",3],'

    with pytest.raises(TooManyRows):
        kept_tables.Table("decisions", runs).solutions(max_rows=10)
    assert read == [0, 1, 2, 3]
    assert gc.isenabled()  # paused while the rows are decoded, and back on after the error
    read.clear()
    assert kept_tables.Table("decisions", runs).more_than(10) and read == [0, 1, 2, 3]  # the JSON answer's count
    assert not kept_tables.Table("decisions", runs).more_than(1200)
    read.clear()  # a table whose index counted its rows reads none of them to know
    assert kept_tables.Table("decisions", runs, count=1200).more_than(10) and read == []
    with pytest.raises(TooManyRows):
        kept_tables.Table("decisions", runs, count=1200).solutions(max_rows=1199)
    assert read == []
    assert kept_tables.Table("decisions", lambda: list(runs())[:2]).rows() == [
        ["CM0-1", 1], ["CM0-2", 2], ["CM0-3", 3], ["CM1-1", 1], ["CM1-2", 2], ["CM1-3", 3]]


def test_decision_counts_are_made_from_one_letter_s_tallies_at_a_time(tmp_path, monkeypatch):
    import json
    import tracemalloc

    from kg.store import TALLIES

    # 1,000 letters whose tallies are 20 kB each: 20 MB if they were all held at once
    padding = json.dumps([["medication", "m" * 40, "Upheld", 1]] * 360)[1:]

    def tallies(_subject, _predicate):
        for i in range(1000):
            text = f'[["outcome","","Upheld",{i % 7}],{padding}'
            yield ox.Quad(iris.letter(f"L{i:04d}"), TALLIES, ox.Literal(text), iris.MANIFEST_GRAPH)

    store = Store(tmp_path / "s")
    monkeypatch.setattr(store, "_manifest", tallies)
    tracemalloc.start()
    try:
        counts = store._counts_from_tallies()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(counts) == 1000 and counts["L0013"] == 6
    assert peak < 2_000_000


def test_tallies_applied_from_python_equal_those_the_sparql_update_makes():
    """The local store applies count changes as quads it computes (tally.applied), the remote one with
    SPARQL Update (tally.update_operations): the tally graphs come out the same, tallies that reach
    zero included."""
    from kg.tally import Tallies, applied, change, update_operations

    def tallies(path: Path, text: str | None = None) -> Tallies:
        record = parse_file(path) if text is None else parse_text(text, path.stem, path.name)
        return decode(summarize([(record.letter_id, letter_quads(record))])[0].tallies)

    first, second = tallies(LETTERS / "CM17-0003284.txt"), tallies(LETTERS / "CM17-0013625.txt")
    overturned = tallies(LETTERS / "CM17-0003284.txt", (LETTERS / "CM17-0003284.txt").read_text().replace(
        "cervical spine: Upheld", "cervical spine: Overturned", 1))
    steps = [([first, second], []), ([overturned], [first]), ([], [second]), ([], [overturned])]
    by_sparql, by_python = ox.Store(), ox.Store()
    for added, removed in steps:
        net = change(added, removed)
        by_sparql.update(" ;\n".join(update_operations(net)))
        gone, made = applied(net, lambda nodes: {q.subject: int(q.object.value) for n in nodes
                                                 for q in by_python.quads_for_pattern(n, None, None)
                                                 if q.predicate.value.endswith("Count")})
        for q in gone:
            by_python.remove(q)
        by_python.extend(made)
        assert sorted(map(str, by_python)) == sorted(map(str, by_sparql))
        assert len(by_python) > 0 or (added, removed) == ([], [overturned])
    assert len(by_sparql) == 0
