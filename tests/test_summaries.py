"""A letter's summary (its tallies and kept rows) is the same whether it is made with the other
letters of its chunk or alone: it never depends on which letters were parsed with it."""

from __future__ import annotations

import json

from kg.graph import letter_quads
from kg.parser import parse_file, parse_text
from kg.summaries import _summarize_group, summarize
from kg.tally import decode

from .conftest import ALL_LETTERS, LETTERS


def _letter(record):  # type: ignore[no-untyped-def]
    return record.letter_id, letter_quads(record)


def test_the_sample_letters_summarized_together_are_each_summarized_as_alone():
    letters = [_letter(parse_file(path)) for path in ALL_LETTERS]
    together = summarize(letters)
    assert together == [summarize([letter])[0] for letter in letters]
    by_id = dict(zip([letter_id for letter_id, _ in letters], together, strict=True))
    cases = json.loads(by_id["CM17-0003284"].rows["cases"])
    assert [row[0] for row in cases] == ["CM17-0003284"] and cases[0][3] == ["32", "http://www.w3.org/2001/XMLSchema#integer"]
    assert len(json.loads(by_id["CM17-0003284"].rows["decisions"])) == 5
    outcomes = {c.outcome: c.decisions for c in decode(by_id["CM17-0003284"].tallies) if c.dimension == "outcome"}
    assert outcomes == {"Upheld": 5}


def test_letters_about_the_same_case_are_summarized_alone():
    """Two letters with one case number share the case's node: in one store, each letter's case
    would show the other's worker."""
    text = (LETTERS / "CM17-0003284.txt").read_text()
    first = _letter(parse_text(text, "first", "first.txt"))
    second = _letter(parse_text(text.replace("now 32-year-old", "now 47-year-old"),
                                "second", "second.txt"))
    other = _letter(parse_file(LETTERS / "CM17-0013625.txt"))
    alone = [summarize([letter])[0] for letter in (first, other, second)]
    assert summarize([first, other, second]) == alone
    mixed = _summarize_group([first, second], [0, 1])  # what the chunk's store would have said
    ages = [sorted({row[3][0] for row in json.loads(s.rows["cases"])}) for s in (alone[0], alone[2], mixed[0])]
    assert ages == [["32"], ["47"], ["32", "47"]]


def test_a_letter_without_rows_of_a_query_keeps_none_in_a_chunk_with_some():
    """004_cb07... gives no injury date (no time-injury-to-review row) and no guideline disagreement."""
    names = ("004_cb07c567c7678ea3.txt", "CM17-0003284.txt")
    summaries = summarize([_letter(parse_file(LETTERS / name)) for name in names])
    counts = [{name: len(json.loads(rows)) for name, rows in s.rows.items()} for s in summaries]
    assert counts == [
        {"cases-with-diagnosis": 13, "cases": 1, "decisions-for-medication": 7, "decisions": 3,
         "guideline-disagreements": 0, "time-injury-to-review": 0},
        {"cases-with-diagnosis": 11, "cases": 1, "decisions-for-medication": 0, "decisions": 5,
         "guideline-disagreements": 4, "time-injury-to-review": 1}]
    assert summaries[0].rows["time-injury-to-review"] == "[]"
