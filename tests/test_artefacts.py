"""The same letter through every extraction artefact of the primer gives the same facts."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Callable

import pytest

from kg.parser import parse_text
from kg.parser.dates import DATE, date_from_match
from kg.parser.text import LetterError, decode

from .conftest import ALL_LETTERS


def facts(record) -> object:
    """Every value of a record, without the spans and the text (which move with the artefacts)."""
    def strip(value):
        if dataclasses.is_dataclass(value):
            return {f.name: strip(getattr(value, f.name)) for f in dataclasses.fields(value)
                    if f.name not in ("span", "text", "sha256", "source_name")}
        if isinstance(value, tuple | list):
            return [strip(v) for v in value]
        return value
    return strip(record)


def crlf(t: str) -> bytes:
    return t.replace("\n", "\r\n").encode()


def blank_lines(t: str) -> bytes:
    return t.replace("\n", "\n \n").encode()


def no_blank_lines(t: str) -> bytes:
    return re.sub(r"\n\s*\n", "\n", t).encode()


def page_furniture(t: str) -> bytes:
    lines = t.split("\n")
    for at in range(len(lines) - 1, 0, -25):
        lines.insert(at, "Page 2 of 5")
    return "\n".join(lines).encode()


def page_numbers(t: str) -> bytes:
    """A bare page number between lines every 25 lines, as some PDFs' footers read: "2", "- 3 -"."""
    lines = t.split("\n")
    breaks = range(25, len(lines), 25)
    for page, at in reversed(list(enumerate(breaks, start=2))):
        lines.insert(at, str(page) if page % 2 else f"- {page} -")
    return "\n".join(lines).encode()


def numbers_on_their_own_lines(t: str) -> bytes:
    """A number that ends a line wrapped onto a line of its own ("3 times a week for" / "4"), as
    a page a few characters narrower breaks it: text, not a page number."""
    return re.sub(r"(?m) (\d{1,3})[ \t]*$", r"\n\1", t).encode()


def glued_sentences(t: str) -> bytes:
    """The space after a sentence's period lost, as some PDFs' text has it: "sprain.X-rays of the"."""
    return re.sub(r"(?<=[a-z]{2})\.[ \t]+(?=[A-Z])", ".", t).encode()


def ligatures(t: str) -> bytes:
    """The ligature characters a PDF font may leave in its text: 'certi\ufb01ed', '\ufb02exion'."""
    return t.replace("fi", "\ufb01").replace("fl", "\ufb02").replace("ffi", "\ufb03").encode()


def unicode_hyphens(t: str) -> bytes:
    """Every hyphen as a word processor's hyphen or non-breaking hyphen: '1\u201031\u20111985', 'L5\u2010S1'."""
    return "".join("\u2010\u2011"[i % 2] if ch == "-" else ch for i, ch in enumerate(t)).encode()


def hyphenation(t: str) -> bytes:
    # break a long lowercase word at the end of every 4th line: "medication" -> "medi-" / "cation"
    lines = t.split("\n")
    for i in range(0, len(lines) - 1, 4):
        m = re.search(r"\b([a-z]{4})([a-z]{4,})\s*$", lines[i])
        if m:
            lines[i] = lines[i][: m.start()] + m.group(1) + "-"
            lines[i + 1] = m.group(2) + " " + lines[i + 1].lstrip()
    return "\n".join(lines).encode()


def curly_quotes(t: str) -> bytes:
    return t.replace("'", "\u2019").replace('"', "\u201c").encode()


def nbsp_and_trailing(t: str) -> bytes:
    return "\n".join(line.replace(" ", "\u00a0", 2) + "   " for line in t.split("\n")).encode()


def zero_width(t: str) -> bytes:
    return t.replace("tion", "ti\u200bon").replace(" the ", " the\u200b ").encode()


def bom(t: str) -> bytes:
    return b"\xef\xbb\xbf" + t.encode()


def utf16(t: str) -> bytes:  # as Windows tools save text: a byte order mark, then UTF-16
    return t.encode("utf-16")


def cp1252(t: str) -> bytes:
    return t.replace("'", "\u2019").encode("cp1252")


def mojibake(t: str) -> bytes:
    # UTF-8 bytes read as cp1252 and written back as UTF-8: "’" becomes "â€™"
    return t.replace("'", "\u2019").encode("utf-8").decode("cp1252", errors="ignore").encode("utf-8")


def narrower(width: int) -> Callable[[str], bytes]:
    """Lines re-wrapped at `width`, as a PDF with narrower pages would break them: an item over two
    or three lines, a reviewer's field, an age ("42 year" / "old"), a citation's title, a number
    on a line of its own ("Page(s):" / "29"). Headings stay whole."""
    def narrow(t: str) -> bytes:
        out: list[str] = []
        for line in t.split("\n"):
            pieces = [line] if len(line) <= width or line.isupper() else \
                textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False) or [line]
            out += pieces
        return "\n".join(out).encode()
    narrow.__name__ = f"wrapped_at_{width}"
    return narrow


VARIANTS: dict[str, Callable[[str], bytes]] = {
    f.__name__: f for f in (crlf, blank_lines, no_blank_lines, page_furniture, page_numbers, numbers_on_their_own_lines,
                            glued_sentences, ligatures, unicode_hyphens, hyphenation, curly_quotes, nbsp_and_trailing,
                            zero_width, bom, utf16, cp1252, mojibake, narrower(50), narrower(65), narrower(80))
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", ALL_LETTERS, ids=lambda p: p.stem)
def test_same_facts_through_artefacts(path, variant):
    original = decode(path.read_bytes(), path.name)
    want = facts(parse_text(original, path.stem, path.name))
    changed = decode(VARIANTS[variant](original), path.name)
    got = facts(parse_text(changed, path.stem, path.name))
    assert got == want


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"   \n\n", "empty file"),
    (bytes(range(256)) * 8, "binary data"),
    (b"\xff\xfe" + "Case Number".encode("utf-16-le") + b"\x00\xd8", "not UTF-16 text"),
    (b"Dear customer, your order has shipped.\n", "not an IMR determination letter"),
    (b"NOTICE OF INDEPENDENT MEDICAL REVIEW DETERMINATION\n1) MAXIMUS Federal Services, Inc. has "
     b"determined the request for a 28 day functional restoration program is not medically necessary.\n",
     "2013 'Notice of Independent Medical Review Determination' layout"),
])
def test_bad_inputs_say_why(data, reason):
    with pytest.raises(LetterError, match=re.escape(reason)):
        parse_text(decode(data, "bad.txt"), "bad", "bad.txt")


@pytest.mark.parametrize("cut_at", ["Decision rationale: As stated on pages 29", "IMR ISSUES", "MAXIMUS guideline"])
def test_letter_cut_short_is_rejected(cut_at):
    text = (ALL_LETTERS[0]).read_text()
    short = text[: text.index(cut_at) + len(cut_at)]
    with pytest.raises(LetterError, match=r"cut short|no disputed item"):
        parse_text(short, "short", "short.txt")


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
DATE_FORMS = {
    "month name": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "abbreviated month": lambda d: f"{MONTHS[d.month - 1][:3]}. {d.day}, {d.year}",
    "m-d-yy": lambda d: f"{d.month}-{d.day}-{d.year % 100:02d}",
    "mm/dd/yyyy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
}


def _dated_facts(record) -> object:
    """Every date of a record, and how many citations and sections each decision has."""
    cover = record.cover
    return (facts(cover) if cover else None, facts(record.injury_date), facts(record.utilization_review),
            [(len(d.citations), [len(c.sections) for c in d.citations], [c.pages for c in d.citations])
             for d in record.decisions])


@pytest.mark.parametrize("form", DATE_FORMS)
@pytest.mark.parametrize("path", ALL_LETTERS, ids=lambda p: p.stem)
def test_same_dates_in_every_written_form(path, form):
    """Every date of the letter written in another of the forms letters use: the same dates, and
    a date inside a citation ('Low Back Chapter, updated December 20, 2016') splits no section."""
    original = decode(path.read_bytes(), path.name)
    rewritten = DATE.sub(lambda m: DATE_FORMS[form](day) if (day := date_from_match(m)) else m.group(0), original)
    assert _dated_facts(parse_text(rewritten, path.stem, path.name)) == \
        _dated_facts(parse_text(original, path.stem, path.name))


def _items(record) -> list[object]:
    return [(d.item.value, d.outcome.value, [i.generic for i in d.ingredients],
             d.medically_necessary.value if d.medically_necessary else None)
            for d in record.decisions]


@pytest.mark.parametrize("path", ALL_LETTERS, ids=lambda p: p.stem)
def test_a_rationale_that_lost_its_last_period_still_ends_its_block(path):
    """'... is not medically necessary' without its period (a character the PDF lost) still ends
    the decision: the next item's text does not take in the rationale's last lines."""
    original = decode(path.read_bytes(), path.name)
    last = original.rstrip().rfind("necessary")  # the letter's own last period stays
    lost = re.sub(r"(medically\s+necessary)\.([ \t]*\n)", r"\1\2", original[:last]) + original[last:]
    assert _items(parse_text(lost, path.stem, path.name)) == _items(parse_text(original, path.stem, path.name))


@pytest.mark.parametrize("label", ["Claims Administrator guideline", "MAXIMUS guideline", "Decision rationale"])
@pytest.mark.parametrize("path", ALL_LETTERS, ids=lambda p: p.stem)
def test_a_label_that_lost_its_colon_still_starts_its_part(path, label):
    original = decode(path.read_bytes(), path.name)
    lost = original.replace(f"{label}:", label)

    def blocks(record) -> list[object]:
        return [(*item, [(c.party, c.guideline, c.pages, c.sections) for c in d.citations], d.no_evidence_cited)
                for item, d in zip(_items(record), record.decisions, strict=True)]

    assert blocks(parse_text(lost, path.stem, path.name)) == blocks(parse_text(original, path.stem, path.name))


COVERED = [p for p in ALL_LETTERS if p.stem.startswith("CM")]


@pytest.mark.parametrize("label", ["Case Number", "Date Assigned", "Date of Injury", "Decision Date", "UR Denial Date",
                                   "Priority", "Received", "State(s) of Licensure", "Certification(s)/Specialty"])
@pytest.mark.parametrize("path", COVERED, ids=lambda p: p.stem)
def test_a_cover_or_reviewer_label_that_lost_its_colon_still_gives_its_value(path, label):
    original = decode(path.read_bytes(), path.name)
    lost = original.replace(f"{label}:", label)
    got, want = parse_text(lost, path.stem, path.name), parse_text(original, path.stem, path.name)
    assert (facts(got.cover), facts(got.reviewer)) == (facts(want.cover), facts(want.reviewer))


@pytest.mark.parametrize("where", [r"\1 \2\3", r"\n\2\3"], ids=["same line", "own line"])
@pytest.mark.parametrize("path", ALL_LETTERS, ids=lambda p: p.stem)
def test_an_outcome_that_lost_its_colon_still_ends_its_item(path, where):
    """'Soma 350mg #90  Upheld' (the colon lost), or the outcome alone on the next line, is still an
    item line with its outcome: the word is written as the form writes it and the block's next part
    follows it."""
    original = decode(path.read_bytes(), path.name)
    lost = re.sub(r"(?:\s+is)?:(\s*)(Upheld|Overturned)([ \t]*\n)", where, original)
    assert lost != original
    assert _items(parse_text(lost, path.stem, path.name)) == _items(parse_text(original, path.stem, path.name))


_LEFT = (("Case Number", "case_number"), ("Date Assigned", "date_assigned"), ("Decision Date", "decision_date"),
         ("Priority", "priority"))
_RIGHT = (("Date of Injury", "injury_date"), ("UR Denial Date", "ur_denial_date"),
          ("Application Received", "application_received"))


def _label_column_then_values(cover) -> str:
    """The cover as pdftotext reads it: each column's labels, then its values."""
    blocks = []
    for column in (_LEFT, _RIGHT):
        blocks += ["\n".join(f"{label}:" for label, _ in column),
                   "\n".join(getattr(cover, field).span.quote for _, field in column)]
    return "\n\n".join(blocks) + "\n\n"


def _label_wrapped_around_value(cover) -> str:
    """The cover as pdftotext -layout reads it: two columns side by side, 'Application' /
    'Received:' wrapped in its column around the value beside it."""
    def cell(label: str, field: str) -> str:
        return f"{label + ':':<22} {getattr(cover, field).span.quote:<20}"
    rows = [cell(*_LEFT[0])] + [cell(*left) + "  " + cell(*right) for left, right in zip(_LEFT[1:3], _RIGHT[:2],
                                                                                          strict=True)]
    rows.append(cell(*_LEFT[3]) + "  " + f"{'Application':<22} {cover.application_received.span.quote}")
    rows.append(" " * 45 + "Received:")
    return "\n".join(rows) + "\n\n"


@pytest.mark.parametrize("layout", [_label_column_then_values, _label_wrapped_around_value], ids=lambda f: f.__name__)
@pytest.mark.parametrize("path", COVERED, ids=lambda p: p.stem)
def test_the_cover_as_columns_gives_the_same_facts(path, layout):
    original = decode(path.read_bytes(), path.name)
    want = parse_text(original, path.stem, path.name)
    body = original[original.index("HOW THE IMR"):]
    got = parse_text(layout(want.cover) + body, path.stem, path.name)
    assert facts(got.cover) == facts(want.cover)


@pytest.mark.parametrize("path", COVERED, ids=lambda p: p.stem)
def test_a_column_of_values_short_of_its_labels_reads_only_what_it_can_tell(path):
    """A value lost from a column of values: which date is whose cannot be told, so that column's
    dates are not read; its case number and priority, each the one value of its kind, are. The
    other column is read whole. Nothing is misassigned."""
    original = decode(path.read_bytes(), path.name)
    want = parse_text(original, path.stem, path.name).cover
    short = _label_column_then_values(want).replace(f"\n{want.date_assigned.span.quote}\n", "\n", 1)
    got = parse_text(short + original[original.index("HOW THE IMR"):], path.stem, path.name).cover
    assert (got.date_assigned, got.decision_date) == (None, None)
    assert (facts(got.case_number), facts(got.priority)) == (facts(want.case_number), facts(want.priority))
    assert [facts(getattr(got, field)) for _, field in _RIGHT] == [facts(getattr(want, field)) for _, field in _RIGHT]
