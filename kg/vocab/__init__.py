"""Load the vocabularies (drugs, services, guidelines, states, body regions, specialties) from the JSON
files beside this module, and the drug dictionary of drug-named-entity-recognition from its data file."""

from __future__ import annotations

import bz2
import importlib.util
import json
import pickle
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Vocabulary:
    """Every controlled vocabulary the parser and the graph builder share."""

    drug_aliases: dict[str, tuple[str, ...]]
    drug_classes: dict[str, str]
    drug_class_names: tuple[tuple[str, re.Pattern[str]], ...]  # "muscle relaxant" in an item naming no drug
    service_rules: tuple[tuple[str, re.Pattern[str]], ...]
    guideline_codes: dict[str, str]
    mtus_titles: tuple[tuple[str, re.Pattern[str]], ...]
    mtus_regulations: tuple[tuple[str, re.Pattern[str]], ...]
    non_mtus: tuple[tuple[str, re.Pattern[str]], ...]
    section_names: re.Pattern[str]  # section titles a comma does not split
    states: dict[str, str]
    body_region_rules: tuple[tuple[str, re.Pattern[str]], ...]
    specialty_names: frozenset[str]  # lower case, '&' written 'and'


def _read(name: str) -> dict:
    return json.loads((_HERE / name).read_text(encoding="utf-8"))


def _title(name: str) -> str:
    """A title as a regex: any spacing, and '&' also written ', and' ('GI Symptoms, and Cardiovascular Risk')."""
    return r",?\s+(?:&|and)\s+".join(r"\s+".join(map(re.escape, part.split())) for part in name.split(" & "))


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
        drug_class_names=_rules(drugs["class_names"]),
        service_rules=_rules(_read("services.json")["rules"]),
        guideline_codes=dict(guidelines["codes"]),
        mtus_titles=_rules(guidelines["mtus_titles"]),
        mtus_regulations=_rules(guidelines["mtus_regulations"]),
        non_mtus=_rules(guidelines["non_mtus"]),
        section_names=re.compile("|".join(_title(n) for n in guidelines["section_names"]), re.IGNORECASE),
        states=_read("states.json"),
        body_region_rules=_rules(_read("body_regions.json")["rules"]),
        specialty_names=frozenset(specialty_key(n) for n in _read("specialties.json")["names"]),
    )


def specialty_key(name: str) -> str:
    """How a specialty's name is compared: lower case, one space, '&' as 'and'."""
    return " ".join(name.lower().replace("&", " and ").split())


class Drug(NamedTuple):
    """A drug of drug-named-entity-recognition's dictionary ("" for the few names it lists
    without data)."""

    name: str
    drugbank_id: str | None


_DRUG_PACKAGE = "drug-named-entity-recognition"
_DRUG_DATA = "drug_ner_dictionary.pkl.bz2"  # the package's dictionary (DrugBank, MeSH, Wikipedia names)
_DRUGS_LOADING = threading.Lock()  # a build's pool processes start loading it on a thread of their own


def drug_dictionary() -> dict[str, Drug]:
    """Every lower-case drug name (generic, brand, synonym) of drug-named-entity-recognition's
    dictionary -> its drug. Read from the package's data file: importing the package also builds a
    fuzzy-match index, which exact matching does not use (1.6 s of each parser process's start)."""
    with _DRUGS_LOADING:
        return _drug_dictionary()


@cache
def _drug_dictionary() -> dict[str, Drug]:
    spec = importlib.util.find_spec(_DRUG_PACKAGE.replace("-", "_"))  # finds it without importing it
    folders = spec.submodule_search_locations if spec else None
    if not folders:
        raise RuntimeError(f"the {_DRUG_PACKAGE} package is not installed")
    with bz2.open(Path(next(iter(folders))) / _DRUG_DATA, "rb") as f:
        data = pickle.load(f)  # the package's own file, read as the package reads it
    drugs = data["drug_canonical_to_data"]
    return {variant: Drug(str(drugs.get(canonical, {}).get("name", "")), drugs.get(canonical, {}).get("drugbank_id"))
            for variant, (canonical, *_) in data["drug_variant_to_canonical"].items()
            if is_a_drug(drugs.get(canonical, {}))}


# MeSH trees of what the dictionary lists beside drugs: pharmacologic actions and uses ("Analgesics,
# Opioid", "Anti-Inflammatory Agents, Non-Steroidal"), enzymes, proteins ("Proton Pumps") and
# biological factors; and dosage forms ("Nasal Sprays", "Tablets, Enteric-Coated": D26.255, with their
# twins among colloids, D20.280). A letter's "opioid medication", "topical analgesic" or "nasal spray"
# names no drug.
_NOT_DRUG_TREES = ("D27", "D08", "D12", "D23", "D26.255", "D20.280")


def is_a_drug(data: dict) -> bool:
    """A dictionary entry is a drug unless all it has is MeSH trees of classes, enzymes or proteins:
    no DrugBank or MedlinePlus id (insulin and etanercept, proteins with ids, stay drugs)."""
    trees = data.get("mesh_tree") or ()
    return bool(data.get("drugbank_id") or data.get("medline_plus_id")
                or not trees or not all(tree.startswith(_NOT_DRUG_TREES) for tree in trees))
