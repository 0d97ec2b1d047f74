"""Load the vocabularies (drugs, services, guidelines, states, body regions) from the JSON files beside this module."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Vocabulary:
    """Every controlled vocabulary the parser and the graph builder share."""

    drug_aliases: dict[str, tuple[str, ...]]
    drug_classes: dict[str, str]
    service_rules: tuple[tuple[str, re.Pattern[str]], ...]
    guideline_codes: dict[str, str]
    mtus_titles: tuple[tuple[str, re.Pattern[str]], ...]
    non_mtus: tuple[tuple[str, re.Pattern[str]], ...]
    states: dict[str, str]
    body_region_rules: tuple[tuple[str, re.Pattern[str]], ...]


def _read(name: str) -> dict:
    return json.loads((_HERE / name).read_text(encoding="utf-8"))


def _rules(pairs: list[list[str]]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((label, re.compile(pattern, re.IGNORECASE)) for label, pattern in pairs)


@cache
def load() -> Vocabulary:
    """Read and compile every vocabulary file once per process."""
    drugs = _read("drugs.json")
    guidelines = _read("guidelines.json")
    return Vocabulary(
        drug_aliases={k: tuple(v) for k, v in drugs["aliases"].items()},
        drug_classes=dict(drugs["classes"]),
        service_rules=_rules(_read("services.json")["rules"]),
        guideline_codes=dict(guidelines["codes"]),
        mtus_titles=_rules(guidelines["mtus_titles"]),
        non_mtus=_rules(guidelines["non_mtus"]),
        states=_read("states.json"),
        body_region_rules=_rules(_read("body_regions.json")["rules"]),
    )
