"""Property-based tests of the small parsers (dates, pages, quantities) and vocabulary integrity."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.parser.citations import parse_pages
from kg.parser.dates import parse_date
from kg.parser.medications import item_details
from kg.parser.text import clean
from kg.record import Span
from kg.vocab import load

DATES = st.dates(min_value=dt.date(1960, 1, 1), max_value=dt.date(2039, 12, 31))


@given(DATES, st.sampled_from(["%B %d, %Y", "%m/%d/%Y", "%m-%d-%Y", "%b %d, %Y", "%Y-%m-%d", "%d %B %Y",
                               "%m.%d.%Y"]))
def test_dates_round_trip(day, fmt):
    assert parse_date(f"injured on {day.strftime(fmt)}.") == day


@given(st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2039, 12, 31)))
def test_two_digit_years_and_unpadded_fields(day):
    text = f"{day.month}-{day.day}-{day.year % 100:02d}"
    assert parse_date(text) == day


@given(st.lists(st.integers(1, 400), min_size=1, max_size=6, unique=True),
       st.sampled_from(["Page(s): ", "Page ", "pages ", "Pages: ", "pg. ", "pp. ", "p. ", "pgs ", "pp ", "p ",
                        "page #"]),
       st.sampled_from(["; ", ", ", " and "]))
def test_page_lists(pages, label, sep):
    assert parse_pages(label + sep.join(map(str, pages)) + ".") == sorted(pages)


@given(st.lists(st.integers(1, 400), min_size=1, max_size=6, unique=True),
       st.sampled_from(["9792.26", "9792.24.2", "2009", "12.20.2016", "1000"]), st.sampled_from([", ", "; ", " and "]))
def test_a_regulation_or_a_year_after_pages_is_no_page(pages, number, sep):
    """'Page(s): 111-113, 9792.26': a number with a decimal part, or past any guideline's length, is no page."""
    assert parse_pages("Page(s): " + ", ".join(map(str, pages)) + sep + number + ".") == sorted(pages)


@given(st.integers(1, 390), st.integers(0, 10), st.sampled_from(["-", " - ", " to ", " through ", " thru "]))
def test_page_ranges_expand(start, width, to):
    assert parse_pages(f"Page(s): {start}{to}{start + width}") == list(range(start, start + width + 1))


@given(st.lists(st.tuples(st.integers(1, 390), st.integers(0, 5)), min_size=1, max_size=4),
       st.sampled_from(["; ", ", ", " and "]), st.sampled_from(["", " (NSAIDs)", " (Opioids, dosing)"]))
def test_page_lists_with_ranges_and_a_label(ranges, sep, label):
    """Every range of a list is read whole, also when a label in brackets follows the last one."""
    text = "Page(s): " + sep.join(f"{a}-{a + w}" if w else str(a) for a, w in ranges) + label + "."
    assert parse_pages(text) == sorted({p for a, w in ranges for p in range(a, a + w + 1)})


@given(st.integers(1, 390), st.integers(1, 10), st.sampled_from(["-", " - ", "–"]), st.sampled_from(["", ".", "; X"]))
def test_a_bare_range_after_a_topic(start, width, to, after):
    """'LOW BACK COMPLAINTS, 303-305': a range after a comma is pages, a bare date's numbers never are."""
    assert parse_pages(f"Opioids, {start}{to}{start + width}{after}") == list(range(start, start + width + 1))
    assert parse_pages(f"Opioids, {start % 12 + 1}{to}{width}{to}2014") == []


@settings(deadline=None)  # the first example loads the drug dictionary (~1 s)
@given(st.integers(1, 999), st.sampled_from(["#{}", "QTY {}.00", "Qty: {}.00", "QTY: {}"]))
def test_quantities(n, form):
    text = f"Soma 350mg {form.format(n)}"
    reading = clean(text)
    details = item_details(reading, 0, len(reading.text))
    assert details.quantity.value == n
    assert details.strength_mg.value == 350


def test_vocabulary_files_load_without_duplicate_keys():
    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
        return dict(pairs)
    for path in (Path(__file__).parents[1] / "kg" / "vocab").glob("*.json"):
        json.loads(path.read_text(), object_pairs_hook=no_dupes)
    vocab = load()
    assert vocab.states["West Virginia"] == "WV"
    assert all(isinstance(p, re.Pattern) for _, p in vocab.service_rules + vocab.mtus_titles)


def test_every_alias_generic_has_a_drug_class():
    vocab = load()
    missing = {g for generics in vocab.drug_aliases.values() for g in generics} - set(vocab.drug_classes)
    assert missing == set()


@pytest.mark.parametrize("item, strength", [
    ("Ambien 12.5 CR 1 TAB, PO QHS PRN sleep #30 with 2 refills", 12.5),  # the primer's example
    ("Norco 10/325 #120", 10), ("Lyrica 75 #60", 75), ("Xanax 0.5", 0.5), ("Ultram 50, #60", 50),
    ("Soma 350mg one TID #90", 350), ("Flexeril 7.5mg #60", 7.5),
    ("Percocet 1 PO q6h #60", None), ("Ativan 1", None),  # a tablet count, not a strength
    ("Fentanyl 25mcg patch", None), ("Lidoderm 5% patch #30", None),  # not in mg
])
def test_strength_with_and_without_mg(item, strength):
    reading = clean(item)
    details = item_details(reading, 0, len(reading.text))
    assert (details.strength_mg.value if details.strength_mg else None) == strength


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=30))
def test_letter_ids_round_trip_through_their_iris(letter_id):
    from kg import iris

    assert iris.letter_id(iris.letter(letter_id)) == letter_id
    assert iris.letter_graph_id(iris.letter_graph(letter_id)) == letter_id
    assert iris.letter_graph_id(iris.letter(letter_id)) is None
    assert iris.letter_graph_id(iris.VOCABULARY_GRAPH) is None


@given(st.text(st.characters(blacklist_categories=("Cs",))) | st.from_regex(r"[A-Za-z0-9._~-]*", fullmatch=True))
def test_iri_segments_are_percent_encoded_as_quote_does(segment):
    """Segments of unreserved characters skip `quote` (a fifth of minting a letter's quads)."""
    from urllib.parse import quote

    from kg import iris
    from kg.namespaces import DATA

    assert iris.part("a b", segment).value == DATA + "letter/a%20b/" + quote(segment, safe="-._~")


BLOCKS = st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=8), max_size=12)


@given(BLOCKS, st.dictionaries(st.text(min_size=1, max_size=6), st.none() | st.text(max_size=8), max_size=6))
def test_an_index_of_kept_rows_changes_as_its_letters_do(blocks, changes):
    from kg.kept_index import body, join_blocks, replace_blocks

    expected = {i: b for i, b in (blocks | changes).items() if b is not None}
    changed = replace_blocks(join_blocks(blocks), changes)
    assert changed == join_blocks(expected)
    assert body(changed) == "".join(expected[i] for i in sorted(expected))


LETTER_IDS = st.sampled_from([f"CM17-{n:07d}" for n in range(12)])


def _compact(rows: list[list[str]]) -> str:
    return json.dumps(rows, separators=(",", ":"))  # as the store keeps a letter's rows


def _kept_row(name: str, letter_id: str, k: int) -> list[str]:
    """Row k of a letter: its by-value column (if the query has one) holds "value 0" or "value 1"."""
    from kg import kept

    return [f"value {k % 2}" if column == kept.by_value(name) else f"{letter_id} row {k}"
            for column in kept.columns(name)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(LETTER_IDS, st.none() | st.integers(0, 3), max_size=6), min_size=1, max_size=5))
def test_chunked_indexes_of_all_letters_follow_the_letters(steps):
    """Writes that add, change and remove letters: after each, the chunked index of every query in
    every form, and of each value of a `by_value` query, reads as the blocks of the letters then
    present, the count of its rows is theirs, and no chunk outgrows its limit."""
    from kg import kept, kept_index, kept_tables

    literals: dict[object, str] = {}
    letters: dict[str, dict[str, str]] = {}

    def put(iri: object, value: str | None) -> None:
        literals.pop(iri, None) if value is None else literals.__setitem__(iri, value)

    def rows_of(name: str, ids: object) -> dict[str, str]:
        return {i: letters[i][name] for i in (letters if ids is None else ids)}

    def every() -> list[tuple[str, dict[str, str]]]:
        return sorted(letters.items())

    indexes = kept_index.Indexes(literals.get, put, rows_of, every, chunk_letters=2)
    for step in steps:
        for letter_id, n in step.items():
            before = letters.pop(letter_id, None)
            after = None if n is None else {name: _compact([_kept_row(name, letter_id, k) for k in range(n)])
                                            for name in kept.kept_queries()}
            if after is not None:
                letters[letter_id] = after
            indexes.changed(letter_id, before, after)
        indexes.save()
        for name in kept.kept_queries():
            if column := kept.by_value(name):
                at = kept.columns(name).index(column)
                had = {row[at] for rows in rows_of(name, None).values() for row in json.loads(rows)}
                assert set(indexes.values(name) or ()) == {json.dumps(v) for v in had}  # a value none has is gone
                for value in ("value 0", "value 1"):
                    expected = kept_tables.Table.of_letters(name, [
                        (i, _compact([row for row in json.loads(rows) if row[at] == value]))
                        for i, rows in rows_of(name, None).items()])
                    assert indexes.of_value(name, json.dumps(value)) == expected.json_rows
                continue
            expected = kept_tables.Table.of_letters(name, rows_of(name, None).items())
            assert indexes.whole(name, "json") == expected.json_rows
            assert indexes.whole(name, "csv") == expected.csv()
            assert indexes.whole(name, "srj") == "".join(expected.bindings())
            assert "".join(indexes.runs(name, "json") or ()) == expected.json_rows
            assert indexes.rows(name) == len(expected.rows())  # counted as chunks are written
    chunks = [v for iri, v in literals.items() if str(iri).rstrip(">").split("/")[-1].isdigit()]
    assert chunks and all(len(json.loads(c.split("\n")[0])) <= 4 for c in chunks)


@given(st.lists(st.text(alphabet="ab.-_ ", max_size=6), min_size=1, max_size=3))
def test_a_letter_id_is_the_file_name_without_its_extension(parts):
    from kg.record import letter_id_of

    path = "/".join(["", "letters", *parts])
    if not parts[-1]:
        return
    assert letter_id_of(path) == os.path.splitext(os.path.basename(path))[0]


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # quotes, controls, non-ASCII
NAME = st.text("abcXYZ019", min_size=1, max_size=6)
CELLS = st.one_of(st.none(), TEXT, NAME.map(lambda n: [f"https://w3id.org/imr-kg/data/{n}"]),
                  NAME.map(lambda n: [n, "_"]),
                  st.tuples(TEXT, st.sampled_from(["@en", "@es-mx"])).map(list),
                  st.tuples(TEXT, st.sampled_from([
                      "http://www.w3.org/2001/XMLSchema#date", "http://www.w3.org/2001/XMLSchema#integer"])).map(list))


@given(st.lists(st.lists(CELLS, min_size=3, max_size=3), max_size=5))
def test_kept_bindings_are_what_json_dumps_writes_of_the_terms(rows):
    """The SPARQL JSON bindings written from encoded cells are, byte for byte, json.dumps of the
    terms' SPARQL JSON (kg.queries.json_term), which the typed path writes."""
    from kg.kept import term
    from kg.kept_index import binding_text
    from kg.queries import json_term

    names = ["a", "b", "c"]
    expected = "".join(json.dumps({n: json_term(term(c)) for n, c in zip(names, row, strict=True) if c is not None},
                                  separators=(",", ":")) + "," for row in rows)
    assert binding_text(names, rows) == expected


CSV_CELLS = st.text('a ,"\t\r\n\u2028', max_size=5) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)


@given(st.lists(st.lists(CSV_CELLS, max_size=4), max_size=6))
def test_tsv_made_from_the_csv_lines_is_the_tsv_of_the_rows(rows):
    """`kg query -f tsv` of a kept table writes its CSV index again with tabs: the same text as the
    TSV of the rows, whatever quotes, commas, tabs and line breaks the cells hold (or None, for
    the rows to be written again, if a cell holds a carriage return)."""
    from kg.kept_index import csv_lines
    from kg.results import delimited

    tsv = delimited(csv_lines(rows), "\t")
    assert tsv == csv_lines(rows, "\t") or (tsv is None and any("\r" in cell for row in rows for cell in row))
    assert delimited(csv_lines(rows), ",") == csv_lines(rows)


@given(st.text(min_size=1), st.data())
def test_every_nonempty_slice_of_a_letter_is_a_span_and_no_empty_one_is(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    assert Span(start, end, text[start:end]).quote == text[start:end]
    with pytest.raises(ValueError):
        Span(start, start, "")


@given(st.text(alphabet="aeAT .!-1\n\t", max_size=80))
def test_every_reading_character_is_the_letter_s_own(source):
    """The reading text only leaves out, folds spaces and puts a space back between glued
    sentences ("pain.The"): each of its other characters maps to the same one of the letter, in order."""
    reading = clean(source)
    origins = [reading.origin(i) for i in range(len(reading.text))]
    assert origins == sorted(origins)
    assert all(source[at] == ch for at, ch in zip(origins, reading.text, strict=True) if not ch.isspace())


def test_a_glued_sentence_reads_with_its_space_and_quotes_as_written():
    reading = clean("low back pain.The worker fell.A physician saw him.")
    assert reading.text == "low back pain. The worker fell. A physician saw him."
    at = reading.text.index("pain. The")
    assert reading.span(at, at + len("pain. The")).quote == "pain.The"


_LETTERS = sorted((Path(__file__).parent / "fixtures" / "letters").glob("*.txt"))
_PIECES = ["\n", ":", " Upheld", " Overturned", "Page(s):", "#", "1.", "Decision rationale:", "MAXIMUS guideline:",
           "(", ")", "\u00a0", "-\n", "Case Number:", "CM16-", "12/31/", "Diagnoses include:", " and ", ";", "\ufffd",
           "mg", "%", "/"]
_EDIT = st.tuples(st.sampled_from(["cut", "insert", "repeat", "upper"]), st.floats(0, 1), st.integers(0, 300),
                  st.sampled_from(_PIECES))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_LETTERS), st.lists(_EDIT, min_size=1, max_size=6))
def test_a_damaged_letter_is_read_or_rejected_with_a_reason(path, edits):
    """Text cut, repeated, shouted or with stray labels inserted: the parser gives a record that maps
    to RDF, or a LetterError naming the file; never another exception, which would stop a build."""
    from kg.graph import letter_quads
    from kg.parser import parse_text
    from kg.parser.text import LetterError, decode

    text = decode(path.read_bytes(), path.name)
    for op, where, length, piece in edits:
        a = int(where * (len(text) - 1))
        b = min(len(text), a + length)
        text = {"cut": text[:a] + text[b:], "insert": text[:a] + piece + text[a:],
                "repeat": text[:a] + text[a:b] + text[a:], "upper": text[:a] + text[a:b].upper() + text[b:]}[op]
    try:
        letter_quads(parse_text(text, path.stem, path.name))
    except LetterError as e:
        assert path.name in str(e)
