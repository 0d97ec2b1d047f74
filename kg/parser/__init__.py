"""The letter parser: letter text -> LetterRecord. Raises LetterError saying why a letter cannot be read."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from kg.parser.cover import parse_cover
from kg.parser.decisions import parse_decisions
from kg.parser.reviewer import parse_reviewer
from kg.parser.sections import split
from kg.parser.summary import parse_summary
from kg.parser.text import LetterError, clean, letter_text
from kg.record import LetterRecord, letter_id_of

__all__ = ["LetterError", "letter_id_of", "parse_file", "parse_text"]


def parse_file(path: Path) -> LetterRecord:
    """Read and parse one .txt or .pdf letter; the record keeps the SHA-256 of the file's bytes."""
    data = path.read_bytes()
    record = parse_text(letter_text(data, path.name), letter_id_of(path), path.name)
    return dataclasses.replace(record, source_sha256=hashlib.sha256(data).hexdigest())


def parse_text(text: str, letter_id: str, source_name: str) -> LetterRecord:
    """Parse the stored text of one letter."""
    reading = clean(text)
    sections = split(reading, source_name)
    summary = parse_summary(reading, *sections.summary)
    decisions = parse_decisions(reading, *sections.issues, source_name)
    cover = parse_cover(reading, *sections.cover) if sections.cover else None
    injury = (cover.injury_date if cover and cover.injury_date else None) or summary.injury_date
    return LetterRecord(
        letter_id=letter_id,
        source_name=source_name,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        layout=sections.layout,
        cover=cover,
        reviewer=parse_reviewer(reading, *sections.qualifications),
        age=summary.age,
        sex=summary.sex,
        injury_date=injury,
        body_regions=summary.body_regions,
        diagnoses=summary.diagnoses,
        utilization_review=summary.utilization_review,
        decisions=tuple(decisions),
    )
