"""Letter text: decode bytes or PDFs, repair encoding, and build a clean reading text mapped to the source."""

from __future__ import annotations

import codecs
import io
import logging
import re
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import ftfy
import ftfy.fixes

from kg.parser.lexicon import is_compound
from kg.record import Fact, Span

T = TypeVar("T")


class LetterError(Exception):
    """A letter that cannot be read or parsed; the message says why."""


# Lines that a PDF puts between text lines: page numbers and running headers/footers.
_PAGE_FURNITURE = re.compile(
    r"^\s*(?:Page\s+\d+\s+of\s+\d+|Page\s+\d+|"
    r"(?:IMR\s+)?Case\s+(?:Number|No\.?):?\s*CM\d{2}-\d{7}\s+Page\s+\d+.*)\s*$",
    re.IGNORECASE,
)
# A line of one number ("2", "- 3 -") is a page number only if it is the next page's: a number a
# line wrapped onto a line of its own ("Page(s):" / "29") is text.
_BARE_NUMBER = re.compile(r"^\s*-?\s*(\d{1,3})\s*-?\s*$")
# Space-like characters that extraction leaves: NBSP, thin spaces, tabs; and zero-width ones.
_SPACE_CHARS = frozenset(" \t\u00a0\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))
_ZERO_WIDTH_CHARS = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_TRANSLATE = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ad": "-",
                            **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-")})  # hyphens, dashes, minus


def decode(data: bytes, name: str) -> str:
    """Bytes of a text letter -> str: UTF-16 with its BOM (as Windows tools save text), else UTF-8 (BOM
    dropped), else cp1252; mojibake repaired; LF line ends."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as e:
            raise LetterError(f"{name}: not UTF-16 text after a UTF-16 byte order mark ({e.reason})") from None
    if not data.strip():
        raise LetterError(f"{name}: empty file")
    if b"\x00" in data[:4096] or _binary_share(data[:4096]) > 0.05:
        raise LetterError(f"{name}: binary data, not a text letter")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return normalize_source(text)


def normalize_source(text: str) -> str:
    """The stored form of a letter's text: encoding repaired, ligatures a PDF font left spelt out
    ('certi\ufb01ed' -> 'certified'), BOM dropped, LF line ends."""
    text = ftfy.fixes.fix_latin_ligatures(ftfy.fix_encoding(text.lstrip("\ufeff")))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _binary_share(chunk: bytes) -> float:
    controls = sum(1 for b in chunk if b < 9 or 13 < b < 32)
    return controls / max(len(chunk), 1)


def pdf_text(data: bytes, name: str) -> str:
    """Text of a published PDF letter: pages joined by a newline, as pypdf extracts them."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    with _pypdf_warnings() as warnings:
        try:
            reader = PdfReader(io.BytesIO(data))
            text = normalize_source("\n".join(page.extract_text() or "" for page in reader.pages))
        except (PdfReadError, ValueError, KeyError) as exc:
            said = "".join(f"; {w}" for w in dict.fromkeys(warnings))
            raise LetterError(f"{name}: unreadable PDF ({exc}{said})") from exc
    if not text.strip():
        raise LetterError(f"{name}: no text in the PDF's {len(reader.pages)} page(s) (a scan? kg does not read images)")
    return text


class _Kept(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextmanager
def _pypdf_warnings() -> Iterator[list[str]]:
    """pypdf's warnings about a damaged file ('EOF marker not found'), kept for the letter's error
    instead of printed on their own, without the file's name, among the build's report."""
    logger = logging.getLogger("pypdf")
    kept: list[str] = []
    handler, propagate = _Kept(kept), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield kept
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def letter_text(data: bytes, name: str) -> str:
    """The stored text of a letter file's bytes: PDF text or decoded text."""
    if name.lower().endswith(".pdf") or data.startswith(b"%PDF"):
        return pdf_text(data, name)
    return decode(data, name)


@dataclass(frozen=True)
class CleanText:
    """A reading text for the regexes, each character mapped back to the stored source text.

    Blank lines and page furniture are dropped, runs of spaces become one, curly quotes and
    dashes become ASCII, and a word hyphenated across a line break is joined. The map is kept as
    segments (clean start, source start) within which offsets advance together.
    """

    source: str
    text: str
    seg_clean: tuple[int, ...]
    seg_source: tuple[int, ...]

    def origin(self, i: int) -> int:
        """Offset in the source of clean character i."""
        k = bisect_right(self.seg_clean, i) - 1
        return self.seg_source[k] + i - self.seg_clean[k]

    def span(self, start: int, end: int) -> Span:
        """Span of source text covering clean text [start, end), trimmed of surrounding space."""
        while start < end and self.text[start].isspace():
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        if start >= end:
            raise ValueError("empty span")
        s, e = self.origin(start), self.origin(end - 1) + 1
        return Span(s, e, self.source[s:e])

    def fact(self, value: T, start: int, end: int) -> Fact[T]:
        """`value` with the evidence of clean text [start, end)."""
        return Fact(value, self.span(start, end))

    def flat(self, start: int, end: int) -> str:
        """Clean text [start, end) on one line: the wording as written, line-wraps joined."""
        return " ".join(self.text[start:end].split())


class _Builder:
    """Accumulates clean text in pieces, each piece mapped to a contiguous run of the source."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.seg_clean: list[int] = []
        self.seg_source: list[int] = []
        self.length = 0

    def emit(self, text: str, source_at: int) -> None:
        if text:
            self.parts.append(text)
            self.seg_clean.append(self.length)
            self.seg_source.append(source_at)
            self.length += len(text)

    def last_source(self) -> int:
        return self.seg_source[-1] + self.length - 1 - self.seg_clean[-1]

    def tail(self, n: int) -> str:
        out = ""
        for part in reversed(self.parts):
            out = part + out
            if len(out) >= n:
                break
        return out[-n:]

    def drop_last(self) -> None:
        self.parts[-1] = self.parts[-1][:-1]
        self.length -= 1
        if not self.parts[-1]:
            self.parts.pop()
            self.seg_clean.pop()
            self.seg_source.pop()


_SPACE_RUN = re.compile("[" + "".join(sorted(_SPACE_CHARS)) + "]+")
_ZERO_WIDTH_RUN = re.compile("[" + "".join(sorted(_ZERO_WIDTH_CHARS)) + "]+")
# A sentence glued to the one before it, its space lost ("low back pain.The injured worker"): the
# reading text gets the space back, so that every field reads the sentence's end as it is.
_GLUED_SENTENCE = re.compile(r"(?<=[A-Za-z0-9)\]\"']{2}[.?!])(?=[A-Z][A-Za-z-]|[AI]\s)")
_MAYBE_GLUED = re.compile(r"[.?!][A-Z]")
# What makes a line's clean text differ from its source other than in ASCII folding (which keeps
# lengths): a space run to collapse, a space other than " ", a zero-width character, or (maybe) a
# glued sentence.
_RESHAPED = re.compile("  |[" + "".join(sorted((_SPACE_CHARS - {" "}) | _ZERO_WIDTH_CHARS)) + "]|"
                       + _MAYBE_GLUED.pattern)


def clean(source: str) -> CleanText:
    """Build the reading text of `source`."""
    out = _Builder()
    lowered = source.lower().translate(_TRANSLATE)
    words = set(re.findall(r"[a-z]+", lowered)) | set(_HYPHENATED.findall(lowered))
    for offset, line in _source_lines(source):
        pieces = _normalized_pieces(line, offset)
        if out.parts:
            join = _hyphen_join(out.tail(40), "".join(t for t, _ in pieces)[:40], words)
            if join == "drop":
                out.drop_last()
            elif join is None:
                out.emit("\n", out.last_source() + 1)
        for text, at in pieces:
            out.emit(text, at)
    return CleanText(source, "".join(out.parts), tuple(out.seg_clean), tuple(out.seg_source))


def _source_lines(source: str) -> list[tuple[int, str]]:
    """Non-blank, non-furniture lines of the source with their offsets."""
    lines: list[tuple[int, str]] = []
    offset = 0
    pages = (1, 2)  # the page numbers a bare number may be next: page 1 may have none
    for raw in source.split("\n"):
        bare = _BARE_NUMBER.match(raw)
        if bare and int(bare.group(1)) in pages:
            pages = (int(bare.group(1)) + 1,)
        elif raw.strip() and not _PAGE_FURNITURE.match(raw):
            lines.append((offset, raw))
        offset += len(raw) + 1
    return lines


def _normalized_pieces(line: str, offset: int) -> list[tuple[str, int]]:
    """One line with space runs collapsed, zero-width characters dropped and ASCII folding, as
    pieces (text, source offset of its first character)."""
    start, end = len(line) - len(line.lstrip()), len(line.rstrip())
    if not _RESHAPED.search(line, start, end):  # most lines: one piece, offsets advance together
        return [(line[start:end].translate(_TRANSLATE), offset + start)]
    pieces: list[tuple[str, int]] = []
    pos = start
    for run in _SPACE_RUN.finditer(line, start, end):
        if run.start() > pos:
            pieces += _visible(line, pos, run.start(), offset)
        pieces.append((" ", offset + run.end() - 1))  # a run of spaces reads as its last one
        pos = run.end()
    if end > pos:
        pieces += _visible(line, pos, end, offset)
    return pieces


def _visible(line: str, start: int, end: int, offset: int) -> list[tuple[str, int]]:
    """Text without spaces, ASCII-folded, zero-width characters (rare) cut out, and a space put
    back between glued sentences (read as the next sentence's first character)."""
    glued = [at for m in _GLUED_SENTENCE.finditer(line, start, end + 2) if start < (at := m.start()) < end] \
        if _MAYBE_GLUED.search(line, start, end) else []
    if glued:
        pieces: list[tuple[str, int]] = []
        for s, e in zip([start, *glued], [*glued, end], strict=True):
            pieces += [*([(" ", offset + s)] if s != start else []), *_folded(line, s, e, offset)]
        return pieces
    return _folded(line, start, end, offset)


def _folded(line: str, start: int, end: int, offset: int) -> list[tuple[str, int]]:
    """line[start:end] ASCII-folded, without its zero-width characters."""
    if not _ZERO_WIDTH_RUN.search(line, start, end):
        return [(line[start:end].translate(_TRANSLATE), offset + start)]
    out, pos = [], start
    for run in _ZERO_WIDTH_RUN.finditer(line, start, end):
        if run.start() > pos:
            out.append((line[pos:run.start()].translate(_TRANSLATE), offset + pos))
        pos = run.end()
    if end > pos:
        out.append((line[pos:end].translate(_TRANSLATE), offset + pos))
    return out


_WORD_BEFORE_HYPHEN = re.compile(r"([A-Za-z]+)-$")
_WORD_START = re.compile(r"[A-Za-z]+")
_HYPHENATED = re.compile(r"[a-z]+-[a-z]+")


def _hyphen_join(tail: str, nxt: str, words: set[str]) -> str | None:
    """How a line ending in a hyphen joins the next: 'drop' the hyphen ('guide-' + 'lines', 'medi-' +
    'cation'), 'keep' it ('L5-' + 'S1', 'Pre-' + 'operative', 'four-' + 'week'), or None for an
    ordinary line break. `words`: the letter's words, and its hyphenated ones ('pre-operative').

    The letter's own spelling elsewhere decides first. Then a capitalized or short first half keeps
    its hyphen, and two lowercase halves keep it only if they are two common words that are not
    one together: in the PDF text of real letters most line-end hyphens are a compound's
    ('shoulder-' / 'upper arm', 'evidence-' / 'based'), while extraction artefacts break words."""
    if not tail.endswith("-") or not nxt:
        return None
    head = _WORD_BEFORE_HYPHEN.search(tail)
    rest = _WORD_START.match(nxt)
    if not head:  # 'L5-' + 'S1', '29-' + '30': a number's hyphen
        return "keep" if tail[-2:-1].isdigit() and nxt[0].isalnum() else None
    if not rest:
        return "keep" if nxt[0].isdigit() else None
    first, second = head.group(1), rest.group(0)
    if f"{first}-{second}".lower() in words:
        return "keep"
    if (first + second).lower() in words:
        return "drop"
    if not (first.islower() and second.islower()) or len(first) <= 2:
        return "keep"
    return "keep" if is_compound(first, second) else "drop"
