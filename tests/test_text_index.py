"""The text index (kg.text_index): it finds what SPARQL's CONTAINS finds, follows every write, and is
not used while it and the store disagree."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kg import text_index
from kg.build import build
from kg.cli import app
from kg.search import excerpt
from kg.server.selects import PREFIXES, term
from kg.store import TEXT_INDEX_STAMP, Store
from kg.text_index import FILE

from .conftest import LETTERS

runner = CliRunner()
# what needs the index itself: a Python whose SQLite lacks FTS5's trigram tokenizer builds without one
needs_index = pytest.mark.skipif(not text_index.available(),
                                 reason="this Python's SQLite lacks FTS5's trigram tokenizer (3.34 on)")


def contains(store: Store, words: str) -> list[str]:
    """The decisions whose item text or rationale holds the words, as the SPARQL fallback finds them."""
    sparql = (f"{PREFIXES} SELECT DISTINCT ?d WHERE {{ {{ ?d imr:decides/imr:itemText ?t . "
              f"FILTER(CONTAINS(LCASE(?t), LCASE({term(words)}))) }} UNION {{ ?d imr:rationale ?r . "
              f"FILTER(CONTAINS(LCASE(?r), LCASE({term(words)}))) }} }}")
    return sorted(s["d"].value for s in store.query(sparql))  # type: ignore[union-attr,index]


def indexed(store: Store, words: str, cap: int = 1000) -> list[str] | int | None:
    found = store.decisions_with_words(words, cap)
    return sorted(found) if isinstance(found, list) else found


@needs_index
@pytest.mark.parametrize(("words", "count"), [
    ("wedge pillow", 2), ("WEDGE PILLOW", 2), ("carisoprodol", 4), ("Soma", 4), ("350mg", 3),
    ("is not medically necessary", 61), ("urine drug", 1), ("Functional Restoration", 2), ("Norco", 0),
    ("MR", None), ('"', None),
])
def test_the_text_index_finds_what_contains_finds(sample_store, words, count):
    """Counts read off the 28 sample letters; a phrase under three characters is not looked up."""
    found = indexed(sample_store, words)
    if count is None:
        assert found is None
    else:
        assert found == contains(sample_store, words) and len(found) == count


def _texts(store: Store) -> list[str]:
    sparql = f"{PREFIXES} SELECT ?t WHERE {{ {{ ?r imr:itemText ?t }} UNION {{ ?d imr:rationale ?t }} }} ORDER BY ?t"
    return [s["t"].value for s in store.query(sparql)]  # type: ignore[union-attr,index]


@needs_index
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_piece_of_a_letter_s_text_is_found_as_contains_finds_it(sample_store, data):
    texts = _texts(sample_store)
    text = data.draw(st.sampled_from(texts))
    start = data.draw(st.integers(0, max(0, len(text) - 3)))
    words = text[start:start + data.draw(st.integers(3, 40))]
    if len(words) < 3:
        return
    assert indexed(sample_store, words) == contains(sample_store, words) != []


@needs_index
def test_more_matches_than_the_cap_are_counted_not_listed(sample_store):
    assert indexed(sample_store, "medically necessary", cap=71) == 72
    assert len(contains(sample_store, "medically necessary")) == 72
    assert len(indexed(sample_store, "medically necessary", cap=72) or []) == 72
    assert indexed(sample_store, "is not medically necessary", cap=10) == 61


@needs_index
def test_the_index_counts_words_with_another_filter(sample_store):
    """Words with another filter are counted by the index with the filters' values (kg.facet_index): the
    Upheld decisions that say 'is not medically necessary', as reading their texts finds them."""
    upheld = {s["d"].value for s in sample_store.query(
        'PREFIX imr: <https://w3id.org/imr-kg/ontology#> SELECT ?d WHERE { ?d imr:outcome "Upheld" }')}
    holding = set(contains(sample_store, "is not medically necessary"))
    total, page = sample_store.page_matching({"text": "is not medically necessary", "outcome": "Upheld"},
                                             "decisions", 0, 100)
    assert total == len(holding & upheld) == 61 and {d for d, _, _ in page} == holding & upheld
    assert sample_store.page_matching({"text": "is not medically necessary", "outcome": "Overturned"},
                                      "decisions", 0, 5) == (len(holding - upheld), []) == (0, [])
    assert sample_store.page_matching({"text": "ct", "outcome": "Upheld"}, "decisions", 0, 5) is None  # too short


@pytest.fixture
def letters(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("000_ed7318db5454d5ef.txt", "CM16-0248471.txt"):
        shutil.copy(LETTERS / name, folder)
    return folder


@needs_index
def test_the_index_follows_changed_and_removed_letters(tmp_path, letters):
    with Store(tmp_path / "store") as store:
        assert build([letters], store).ok
        assert len(indexed(store, "wedge pillow") or []) == 2 and len(indexed(store, "Soma") or []) == 1
        changed = letters / "CM16-0248471.txt"
        changed.write_text(re.sub("(?i)wedge pillow", "wedge cushion", changed.read_text()))
        assert build([letters], store).ok
        assert indexed(store, "wedge pillow") == []
        assert indexed(store, "wedge cushion") == contains(store, "wedge cushion")
        assert len(indexed(store, "wedge cushion") or []) == 2
        assert store.remove_letter("000_ed7318db5454d5ef")
        assert indexed(store, "Soma") == [] and indexed(store, "cushion") == contains(store, "cushion")


@needs_index
def test_an_index_that_disagrees_with_the_store_is_not_read_and_the_next_write_makes_it_whole(tmp_path, letters):
    path = tmp_path / "store"
    with Store(path) as store:
        assert build([letters], store).ok
        soma = indexed(store, "Soma")
        with pytest.raises(RuntimeError), store.writing():  # a write that fails: the store's stamp is gone
            raise RuntimeError("interrupted")
        assert store._index(TEXT_INDEX_STAMP) is None and indexed(store, "Soma") is None
    result = runner.invoke(app, ["build", str(letters), "--store", str(path)])  # nothing to parse
    assert "accepted: 2 (2 unchanged)" in result.stderr
    with Store(path) as store:
        assert indexed(store, "Soma") == soma == contains(store, "Soma")
    (path / FILE).write_bytes(b"not a database" * 100)  # damaged
    with Store(path, read_only=True) as store:
        assert indexed(store, "Soma") is None
    assert runner.invoke(app, ["build", str(letters), "--store", str(path)]).exit_code == 0
    with Store(path, read_only=True) as store:
        assert indexed(store, "Soma") == soma
    (path / FILE).unlink()  # an index lost (or a store from before it)
    with Store(path, read_only=True) as store:
        assert indexed(store, "Soma") is None
    assert runner.invoke(app, ["build", str(letters), "--store", str(path)]).exit_code == 0
    with Store(path, read_only=True) as store:
        assert indexed(store, "Soma") == soma


def test_without_fts5_there_is_no_index_and_nothing_fails(tmp_path, letters, monkeypatch):
    """A Python whose SQLite lacks FTS5's trigrams builds as usual; the text filter reads every text."""
    monkeypatch.setattr(text_index, "available", lambda: False)
    with Store(tmp_path / "store") as store:
        assert build([letters], store).ok
        assert not (tmp_path / "store" / FILE).exists() and indexed(store, "Soma") is None
        assert store.letter_count() == 2


def _search(store: Path, *args: str) -> tuple[list[dict[str, str]], str]:
    result = runner.invoke(app, ["search", *args, "-f", "csv", "--store", str(store)])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout))), result.stderr


@needs_index
def test_kg_search_lists_the_decisions_in_letter_order_with_the_words_in_context(closed_sample_store):
    rows, said = _search(closed_sample_store, "Carisoprodol", "--limit", "3")
    assert said == "4 decisions hold 'Carisoprodol'; 3 shown\n"
    assert [(r["letter"], r["decision"], r["outcome"], r["item"]) for r in rows] == [
        ("000_ed7318db5454d5ef", "1", "Upheld", "Soma tablets 350mg"),
        ("001_31f77f8318a90c33", "1", "Upheld", "Soma 350mg one TID #90"),
        ("002_d7e3603ed8b34fa0", "1", "Upheld", "Soma Unknown prescription")]
    assert rows[2]["excerpt"] == ("MTUS does not recommend use of Carisoprodol (Soma), particularly for long-term use "
                                  "or in combination with hydroco…")
    pillows, _ = _search(closed_sample_store, "wedge  pillow")  # spaces as the letters' texts have them
    assert [(r["item"], "wedge pillow" in r["excerpt"]) for r in pillows] == [("Cervical pillow", True),
                                                                              ("Wedge pillow", True)]


@needs_index
def test_kg_search_without_the_index_finds_the_same(closed_sample_store, monkeypatch):
    """As on a remote store, or for words held by too many decisions: SPARQL's CONTAINS."""
    indexed_rows, said = _search(closed_sample_store, "physical therapy")
    monkeypatch.setattr(Store, "decisions_with_words", lambda self, words, cap: None)
    rows, unsaid = _search(closed_sample_store, "physical therapy")
    assert rows == indexed_rows and len(rows) == 12 and said.startswith("12 decisions") and unsaid == ""


@needs_index
def test_kg_search_walks_the_letters_for_words_very_many_decisions_hold(closed_sample_store, monkeypatch):
    """Past the index's cap, the first rows come from the first letters that hold the words, a chunk at a
    time: the same rows as sorting every match."""
    monkeypatch.setattr("kg.search.MOST_DECISIONS", 10)
    monkeypatch.setattr("kg.search.WALK_CHUNK", 3)  # several chunks to a page
    walked, said = _search(closed_sample_store, "is not medically", "--limit", "20")
    monkeypatch.setattr(Store, "decisions_with_words", lambda self, words, cap: None)
    sorted_rows, _ = _search(closed_sample_store, "is not medically", "--limit", "20")
    assert walked == sorted_rows and len(walked) == 20 and said == "61 decisions hold 'is not medically'; 20 shown\n"


@needs_index
def test_the_default_store_a_relative_path_has_its_index_read(tmp_path, letters, monkeypatch):
    """`kg build` and `kg search` in the folder that holds ./kg-store, the default."""
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["build", str(letters)]).exit_code == 0
    result = runner.invoke(app, ["search", "wedge pillow", "-f", "csv"])
    assert result.exit_code == 0 and result.stderr == "2 decisions hold 'wedge pillow'; 2 shown\n"


def test_kg_search_needs_words(closed_sample_store):
    result = runner.invoke(app, ["search", "  ", "--store", str(closed_sample_store)])
    assert result.exit_code == 2 and "no words to look for" in result.stderr


@pytest.mark.parametrize(("text", "words", "expected"), [
    ("Soma is not\n  recommended.", "NOT RECOMMENDED", "Soma is not recommended."),
    ("x" * 100 + " needle " + "y" * 100, "needle", "…" + "x" * 69 + " needle " + "y" * 69 + "…"),
    ("no match here", "needle", ""),
])
def test_an_excerpt_shows_the_words_with_their_context(text, words, expected):
    assert excerpt(text, words) == expected
