"""The index of the values GraphQL's filters compare (kg.facet_index) counts what the filters' SPARQL
counts, for every value the sample letters hold, alone and in pairs; and it follows the store's letters."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from kg import text_index
from kg.build import build
from kg.resources import samples_dir
from kg.server import filtered
from kg.server.selects import PREFIXES
from kg.store import Store

pytestmark = pytest.mark.skipif(not text_index.available(),
                                reason="this Python's SQLite lacks FTS5's trigram tokenizer (3.34 on)")


_NOT_KEPT = frozenset({"medication", "service_type", "guideline_section"})  # narrowing: counted in SPARQL


def _counted(store: Store, given: dict[str, Any], of: str) -> int | None:
    """The count the index gives with a page (None: it cannot tell)."""
    found = store.page_matching(given, of, 0, 1)
    return None if found is None else found[0]


def _sparql_count(store: Store, given: dict[str, Any], of: str) -> int:
    """The count as the server's SPARQL makes it (kg.server.filtered), every label read."""
    patterns = filtered.filter_patterns(given)
    if of == "decisions":
        query = f"{PREFIXES} SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE {{ {patterns} {filtered.DECISION_JOIN} }}"
    else:
        query = f"{PREFIXES} SELECT (COUNT(DISTINCT ?l) AS ?n) WHERE {{ {patterns} }}"
    return int(next(iter(store.query(query)))["n"].value)  # type: ignore[index,union-attr,call-overload]


def _values(store: Store, path: str) -> list[str]:
    rows = store.query(f"{PREFIXES} SELECT DISTINCT ?v WHERE {{ {path} }} ORDER BY ?v")
    return [s["v"].value for s in rows]  # type: ignore[index,union-attr]


def _filters(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every value of each decision filter and of each letter filter the sample letters hold."""
    of_decision: list[dict[str, Any]] = [{"outcome": v} for v in ("Upheld", "Overturned")]
    of_decision += [{"medication": (v,)} for v in _values(store, "?d imr:decides/imr:medication/skos:prefLabel ?v")]
    of_decision += [{"medication": ("hydrocodone", "acetaminophen")}]
    of_decision += [{"drug_class": v} for v in _values(store, f"?d imr:decides/{filtered.DRUG_CLASS} ?v")]
    of_decision += [{"service_type": v.upper()} for v in _values(store, "?r imr:serviceType/skos:prefLabel ?v")]
    of_decision += [{"guideline": v.lower()} for v in _values(store, "?c imr:guideline/skos:notation ?v")]
    of_decision += [{"guideline_section": v.upper()}
                    for v in _values(store, "?s a imr:GuidelineSection ; skos:prefLabel ?v")[::7]]
    of_decision += [{"text": words} for words in ("mri", "Medically Necessary", "xyzzy")]
    of_letter: list[dict[str, Any]] = [{"sex": v} for v in ("female", "MALE")]
    of_letter += [{"specialty": v} for v in _values(store, "?r imr:specialty/skos:prefLabel ?v")]
    of_letter += [{"state": v.lower()} for v in _values(store, "?r imr:licensedIn/skos:notation ?v")]
    of_letter += [{"body_region": v} for v in _values(store, "?x imr:bodyRegion/skos:prefLabel ?v")]
    of_letter += [{"diagnosis": words} for words in ("radiculopathy", "Lumbar", "pain", "no such words")]
    of_letter += [{"age_from": 50}, {"age_to": 45}, {"age_from": 40, "age_to": 60},
                  {"decided_from": dt.date(2017, 1, 15)}, {"decided_to": dt.date(2017, 1, 15)}]
    return of_decision, of_letter


def test_the_index_counts_every_filter_as_sparql_does(sample_store):
    of_decision, of_letter = _filters(sample_store)
    assert len(of_decision) > 40 and len(of_letter) > 20
    for given in of_decision + of_letter:
        got = _counted(sample_store, filtered._as_json(given), "decisions")
        if _NOT_KEPT.isdisjoint(given):
            assert got == _sparql_count(sample_store, given, "decisions"), given
        else:  # a filter of the request itself: counted in SPARQL
            assert got is None, given
    for given in of_letter:
        assert _counted(sample_store, filtered._as_json(given), "letters") == _sparql_count(
            sample_store, given, "letters"), given
    # the values read off the letters: 64 Upheld decisions, 15 letters of female workers, 44 decisions both
    assert _counted(sample_store, {"outcome": "Upheld"}, "decisions") == 64
    assert _counted(sample_store, {"sex": "female"}, "letters") == 15
    assert _counted(sample_store, {"outcome": "Upheld", "sex": "female"}, "decisions") == 44


def test_the_index_counts_pairs_of_filters_as_sparql_does(sample_store):
    of_decision, of_letter = _filters(sample_store)
    for a, b in product([f for f in of_decision if _NOT_KEPT.isdisjoint(f)], of_letter[::3]):
        given = {**a, **b}
        assert _counted(sample_store, filtered._as_json(given), "decisions") == _sparql_count(
            sample_store, given, "decisions"), given
    for a, b in product(of_letter[::4], of_letter[1::5]):
        given = {**a, **b}
        assert _counted(sample_store, filtered._as_json(given), "letters") == _sparql_count(
            sample_store, given, "letters"), given


def _sparql_page(store: Store, given: dict[str, Any], of: str) -> list[list[Any]]:
    """Every match in letter order (then sequence), as the server's SPARQL sorts them."""
    patterns = filtered.filter_patterns(given)
    if of == "decisions":
        query = (f"{PREFIXES} SELECT DISTINCT ?d ?letter ?seq WHERE {{ {patterns} {filtered.DECISION_JOIN} "
                 f"?l dcterms:identifier ?letter . ?d imr:sequence ?seq }} ORDER BY ?letter ?seq")
        return [[s["d"].value, s["letter"].value, int(s["seq"].value)]  # type: ignore[index,union-attr]
                for s in store.query(query)]  # type: ignore[union-attr]
    query = f"{PREFIXES} SELECT DISTINCT ?letter WHERE {{ {patterns} ?l dcterms:identifier ?letter }} ORDER BY ?letter"
    return [[s["letter"].value] for s in store.query(query)]  # type: ignore[index,union-attr]


@pytest.mark.parametrize("given", [
    {"outcome": "Upheld"}, {"sex": "female"}, {"outcome": "Upheld", "sex": "female", "age_from": 40},
    {"guideline": "ODG", "body_region": "knee"}, {"diagnosis": "pain", "text": "physical therapy"},
    {"decided_from": dt.date(2017, 1, 1), "guideline": "MTUS-CPMTG"}, {"state": "CA", "specialty": "Internal Medicine"},
])
def test_the_index_pages_the_matches_in_letter_order(sample_store, given):
    for of in ("decisions", "letters"):
        if sample_store.page_matching(filtered._as_json(given), of, 0, 1) is None:
            assert of == "letters"  # letters are listed by the letter's filters only
            continue
        every = _sparql_page(sample_store, given, of)
        assert len(every) >= 2, (given, of)
        for offset, limit in [(0, 3), (2, 4), (0, 100), (len(every) - 1, 5), (len(every) + 3, 5)]:
            assert sample_store.page_matching(filtered._as_json(given), of, offset, limit) == (
                len(every), every[offset:offset + limit]), (given, of, offset)


def test_what_the_index_cannot_count_is_counted_in_sparql(sample_store):
    assert _counted(sample_store, {"text": "ct"}, "decisions") is None  # too short for the text index
    assert _counted(sample_store, {"outcome": "Upheld"}, "letters") is None  # letters take their own filters


def test_the_index_follows_the_letters_written_and_removed(tmp_path):
    letters = tmp_path / "letters"
    shutil.copytree(samples_dir(), letters)
    female_upheld = {"outcome": "Upheld", "sex": "female"}
    with Store(tmp_path / "s") as store:
        assert build([letters], store).ok
        assert _counted(store, female_upheld, "decisions") == 44
        # a worker read as male now: her letter's rows are replaced
        path = letters / "CM16-0248655.txt"
        path.write_text(path.read_text().replace("61 year old female", "61 year old male"))
        assert build([letters], store).ok
        assert _counted(store, female_upheld, "decisions") == _sparql_count(
            store, female_upheld, "decisions") == 43
        assert store.remove_letter("CM16-0248655")
        assert _counted(store, {"outcome": "Upheld"}, "decisions") == _sparql_count(
            store, {"outcome": "Upheld"}, "decisions") == 63


def test_an_index_without_the_filters_values_is_made_whole_again(tmp_path):
    """An index written before it kept the filters' values (or in another format) does not agree with
    the store: nothing is counted from it, and the next write makes it whole."""
    with Store(tmp_path / "s") as store:
        assert build([samples_dir()], store).ok
    path = Path(tmp_path / "s" / text_index.FILE)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM meta WHERE name = 'format'")
        db.execute("DROP TABLE lvalues")
    with Store(tmp_path / "s") as store:
        assert _counted(store, {"sex": "female"}, "letters") is None
        assert store.decisions_with_words("mri", 100) is None
        assert build([samples_dir()], store).ok
        assert _counted(store, {"sex": "female"}, "letters") == 15
