"""A disputed item's drugs (generic names, classes, percentages), strength, directions, quantity,
refills, and the service type of a non-drug item."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from rapidfuzz import distance, process

from kg.parser.lexicon import TENS, common_words
from kg.parser.text import CleanText, clean
from kg.record import Fact, Ingredient
from kg.vocab import Drug, drug_dictionary, load

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
_WORD_PART = re.compile(r"[A-Za-z][A-Za-z']*")  # a hyphenated word's parts
PERCENT_AFTER = re.compile(r"\s*(?P<v>\d+(?:\.\d+)?)\s*%")
# "10-325mg", and ".5mg" (a leading point: 'Klonopin .5mg')
STRENGTH_MG = re.compile(r"(?<![\d.])(?P<v>\d+(?:\.\d+)?|\.\d+)(?:\s*[/-]\s*\d+(?:\.\d+)?)*\s*mg\b", re.I)
# A strength written without "mg" right after the drug name: "Ambien 12.5 CR", "Norco 10/325",
# "Lyrica 75 #60". Only a release-form code, a combination or a number that cannot be a tablet count
# (a decimal, or 5 and more, then the end, "#" or a comma) makes a bare number a strength: "Percocet
# 1 PO q6h" is one tablet. Units other than mg (mcg, %, gm, ml) never match.
BARE_STRENGTH = re.compile(
    r"\s*(?P<v>\d+(?:\.\d+)?)(?=\s*[/-]\s*\d|\s*(?:CR|ER|SR|XR|XL|DR|IR|ODT)\b)"
    r"|\s*(?P<v2>\d+\.\d+|[5-9]|\d{2,})(?=\s*(?:#|,(?!\d{3})|$))", re.I)  # not "50,000 IU"
# "#90", "QTY: 90", "quantity sixty (60)", "No. 30", and "180 tablets" or "120 count" (ten or more: no dose)
QUANTITY = re.compile(r"#\s*(?P<v>\d+(?:\.\d+)?)"
                      r"|\b(?:QTY|quantity)\s*[:.]?\s*(?:(?:[a-z]+[\s-]+){1,3}\(\s*)?(?P<v2>\d+(?:\.\d+)?)"
                      # "quantity sixty": tens alone, never the start of a larger number ("sixty-two")
                      rf"|\b(?:QTY|quantity)\s*[:.]?\s*(?P<v6>{'|'.join(TENS)})\b(?![\s-]+(?:one|two|three|four|five|six|seven|eight|nine|hundred|\())"
                      r"|(?<![\d.,/-])(?P<v3>[1-9]\d+)\s+(?:\(\s*[a-z-]+\s*\)\s+)?(?:tablets|tabs|capsules|caps|pills|patches|count)\b"
                      r"|\bNo\.\s*(?P<v4>[1-9]\d*)\b"
                      # a count of tens in words, never the end of a larger one ("one hundred twenty")
                      rf"|(?<!hundred\s)(?<!hundred-)(?<!hundred\sand\s)\b(?P<v5>{'|'.join(TENS)})\s+(?:\(\s*\d+\s*\)\s+)?"
                      r"(?:tablets|tabs|capsules|caps|pills|patches|count)\b", re.I)
# A drug's count written "x 60" ("Xanax 0.25mg x 60"): ten or more, no unit of time or sessions after it
X_COUNT = re.compile(r"\bx\s*(?P<v>[1-9]\d+)\b(?!\s*(?:days?|weeks?|months?|hours?|hrs?|refills?|sessions?|visits?|"
                     r"times?|mg|mcg|gm?s?|grams?|ml|%))", re.I)
# "Tylenol #3", "Tylenol with Codeine #4": the product's number, not a count
PRODUCT_NUMBER = re.compile(r"(?:Tylenol|Codeine)\s*(?:#|No\.)\s*[1-4]\b", re.I)
_NUMBER_WORDS = {"no": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
REFILLS = re.compile(
    r"(?<!#)(?<!#\s)\b(?P<v>\d+|no|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+refills?\b"
    r"|\brefills?\s*[:x]?\s*(?P<v2>\d+)|\bx\s*(?P<v3>\d+)\s+refills?\b|\bRF\s*[:x]?\s*(?P<v4>\d+)\b"
    r"|(?<![\w-])(?P<v5>\d)\s*RFs?\b(?!\s*(?:ablation|neurotomy|rhizotomy|lesion|denervation))", re.I)  # "2 RF"
ASSOCIATED_SERVICE = re.compile(r"^\s*Associated\s+surgical\s+services?:\s*", re.I)
# Words that make a stretch of an item its directions ("one TID", "1 TAB, PO QHS PRN sleep").
DOSING = re.compile(
    r"\b(?:t\.?i\.?d|b\.?i\.?d|q\.?i\.?d|q\.?d|qhs|q\d+h|prn|po|daily|nightly|bedtime|by\s+mouth|"
    r"times\s+(?:a|per)\s+day|(?:once|twice)\s+(?:a|per)\s+day|every\s+\d+|as\s+needed|tab(?:let)?s?|cap(?:sule)?s?|"
    r"apply|topical(?:ly)?)\b", re.I)
DIRECTIONS_END = re.compile(r"#|\bQTY\b|\bquantity\b|\bwith\s+\w+\s+refills?|\b\d+\s+refills?|,?\s*\bNo\.\s*\d|"
                            rf",?\s*\b(?:\d+|{'|'.join(TENS)})\s+count\b|"
                            r",?\s*\(?\d+\s*(?:gm?s?|grams|ml)\b", re.I)
# Dosage-form words the dictionary sometimes appends to a generic ("Lidocaine Patch").
_FORM_WORDS = re.compile(r"\s+(?:patch|gel|cream|tablets?|capsules?|er|sr|cr|xr|hcl|hydrochloride)$", re.I)
# The dictionary's name of a combination ("Diclofenac and Misoprostol", "Ibuprofen/Famotidine",
# "Acetaminophen, Butalbital, and Caffeine") names each ingredient; a qualifier in parentheses
# ("Buprenorphine Buccal (chronic pain)") or a route ("Lidocaine Viscous") is not part of a name.
_QUALIFIER = re.compile(r"\s*\([^)]*\)|\b(?:extended-release|sublingual|buccal|otic|viscous|oral|topical)\b", re.I)
_COMBINED = re.compile(r"\s*(?:/|,\s*and\s+|,\s*|\s+and\s+)\s*", re.I)
MISSPELT_MIN = 6  # shorter words are too near each other to tell a misspelling from another word
# A salt written after a drug's name ('Ketorolac tromethamine')
_SALTS = frozenset({"sodium", "potassium", "calcium", "magnesium", "hydrochloride", "hcl", "tromethamine",
                    "sulfate", "citrate", "tartrate", "bitartrate", "besylate", "succinate", "maleate",
                    "mesylate", "phosphate", "acetate", "pamoate", "bromide", "fumarate"})
_SALTS_AFTER = re.compile(r"(?:\s+(?:" + "|".join(sorted(_SALTS)) + r")(?![A-Za-z]))+", re.I)
# Words the drug dictionary reads as drugs but that name services or body parts in items; 'caps'
# (capsules, not the buffer CAPS); and compounding bases, which a misspelling would read as a drug
# ('Lipoderm' is one edit from Lidoderm).
_NOT_DRUGS = frozenset({"pt", "ot", "ct", "mri", "tens", "ice", "heat", "oxygen", "water", "cold", "unit",
                        "support", "brace", "scan", "pillow", "program", "cbc", "bmp", "ekg", "urine",
                        "caps", "lipoderm", "versabase", "pentravan", "lipobase", "mediflo", "ultraderm",
                        "activemax", "emollient"})


@dataclass(frozen=True)
class ItemDetails:
    ingredients: tuple[Ingredient, ...]
    requested_drug_class: Fact[str] | None
    service_type: str | None
    strength_mg: Fact[float] | None
    directions: Fact[str] | None
    quantity: Fact[float] | None
    refills: Fact[int] | None


@cache
def _alias_pattern() -> re.Pattern[str]:
    names = sorted(load().drug_aliases, key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z])", re.I)


def _generic_label(name: str) -> str:
    return _FORM_WORDS.sub("", name.strip()).lower()


def _generic_labels(name: str) -> list[str]:
    """The generic of each ingredient the dictionary's drug name names, in our aliases' words where
    they have their own ('Paracetamol' is acetaminophen, as in 'Aspirin/Paracetamol/Caffeine')."""
    aliases = load().drug_aliases
    parts = (_generic_label(" ".join(part.split())) for part in _COMBINED.split(_QUALIFIER.sub(" ", name)))
    return [generic for part in parts if part for generic in aliases.get(part, (part,))]


def find_ingredients(clean: CleanText, start: int, end: int) -> tuple[list[Ingredient], int]:
    """Every drug named in clean text [start, end), resolved to generic names, in order; and
    where the last drug name ends."""
    vocab = load()
    found: list[tuple[int, int, str, str | None]] = []  # start, end, generic, drugbank id
    taken: list[tuple[int, int]] = []
    for m in _alias_pattern().finditer(clean.text, start, end):
        for generic in vocab.drug_aliases[m.group(0).lower()]:
            found.append((m.start(), m.end(), generic, _drugbank_id(generic)))
        salt = _SALTS_AFTER.match(clean.text, m.end(), end)  # 'Glucosamine sulfate': not a second drug
        taken.append((m.start(), salt.end() if salt else m.end()))
    words = [w for w in _words(clean.text, start, end)
             if not any(s <= w.start() < e for s, e in taken) and w.group(0).lower() not in _NOT_DRUGS]
    named: set[int] = set()
    for drug, first, last in dictionary_drugs([w.group(0) for w in words]):
        generics = _generic_labels(drug.name)
        named.update(range(first, last))
        for generic in generics:
            drugbank = drug.drugbank_id if len(generics) == 1 else None  # a combination's id is not its parts'
            found.append((words[first].start(), words[last - 1].end(), generic, drugbank or _drugbank_id(generic)))
    for i, word in enumerate(words):
        for generic in () if i in named else misspelt_drug(word.group(0)):
            found.append((word.start(), word.end(), generic, _drugbank_id(generic)))
    last_end = max((e for _, e, _, _ in found), default=start)
    return _ingredients(clean, sorted(found), end), last_end


def _words(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    """The words of text [start, end); a hyphenated word the drug dictionary does not name whole is read
    as its parts ('Hydrocodone-acetaminophen', 'Butalbital-APAP-caffeine': a combination's drugs)."""
    names = drug_dictionary()
    for word in WORD.finditer(text, start, end):
        if "-" in word.group(0) and word.group(0).lower() not in names:
            yield from _WORD_PART.finditer(text, word.start(), word.end())
        else:
            yield word


def generics_named(name: str) -> tuple[str, ...]:
    """The generic names a drug's name stands for, as an item naming it is read ('Soma':
    carisoprodol; 'Norco': hydrocodone and acetaminophen); none for a name the vocabulary lacks."""
    words = " ".join(name.split()).lower()
    if words in _generics():  # a generic as the graph names it ('polyethylene glycol 3350', 'senna')
        return (words,)
    reading = clean(name)
    found, _ = find_ingredients(reading, 0, len(reading.text))
    return tuple(dict.fromkeys(i.generic for i in found))


@cache
def _generics() -> frozenset[str]:
    vocab = load()
    return frozenset(vocab.drug_classes) | {g for generics in vocab.drug_aliases.values() for g in generics}


@cache
def _drug_names() -> dict[str, tuple[str, ...]]:
    """One-word drug names to match misspellings to, with their generics: those of kg/vocab/drugs.json
    and the dictionary's names of the drugs it classes (the drugs of workers' comp letters, not all
    20,000 the dictionary knows, whose names would be near too many misspellings)."""
    vocab = load()
    names = {name: tuple(generics) for name, generics in vocab.drug_aliases.items()}
    names.update((generic, (generic,)) for generic in vocab.drug_classes)
    of_drug: dict[str, tuple[str, ...]] = {}  # many names share one drug
    for name, drug in drug_dictionary().items():
        if name.isalpha() and name not in names:
            if drug.name not in of_drug:
                of_drug[drug.name] = tuple(_generic_labels(drug.name))
            generics = of_drug[drug.name]
            if generics and all(g in vocab.drug_classes for g in generics):
                names[name] = generics
    return {name: generics for name, generics in names.items() if name.isalpha()}


def _sound(word: str) -> str:
    """A name as it sounds: 'ph' as 'f' ('Zanaphlex' is Zanaflex, 'Morfine' morphine)."""
    return word.replace("ph", "f")


@cache
def _spellings(by_sound: bool) -> dict[str, set[tuple[str, ...]]]:
    """Each drug name (or its sound) -> the generics of the names written (or sounding) so."""
    out: dict[str, set[tuple[str, ...]]] = {}
    for name, generics in _drug_names().items():
        out.setdefault(_sound(name) if by_sound else name, set()).add(generics)
    return out


@cache
def _spellings_starting(letter: str, by_sound: bool) -> list[str]:
    return [key for key in _spellings(by_sound) if key[0] == letter]


@lru_cache(maxsize=16384)  # item words repeat from letter to letter ('sessions', 'tablets')
def misspelt_drug(word: str) -> tuple[str, ...]:
    """The generics of the drug a misspelt word names ('Flurbiprophen', 'Cyclobenzeprine', 'Lidocane'):
    a word of six letters or more that is no common English word, one edit from exactly one of our
    drug names with its first letter (two edits for ten letters or more; a transposition is one).
    Only when none is that near, 'ph' and 'f' are the same ('Zanaphlex'; but 'Bacofen' is baclofen,
    not Banophen). Else none: 'Orthotics' is two edits from Orthovisc."""
    lowered = word.lower()
    if len(lowered) < MISSPELT_MIN or not lowered.isalpha() or lowered in common_words():
        return ()
    edits = 1 if len(lowered) < 10 else 2
    for by_sound in (False, True):
        key = _sound(lowered) if by_sound else lowered
        closest = process.extract(key, _spellings_starting(key[0], by_sound), scorer=distance.OSA.distance,
                                  score_cutoff=edits, limit=3)
        if closest:
            spellings = _spellings(by_sound)
            best = {g for name, away, _ in closest if away == closest[0][1] for g in spellings[name]}
            return best.pop() if len(best) == 1 else ()
    return ()


def _drugbank_id(generic: str) -> str | None:
    """The DrugBank id of a generic named by one of our own aliases: the one the dictionary gives the
    generic's own name, so that a medication has one id however a letter wrote it."""
    drug = drug_dictionary().get(generic)
    return drug.drugbank_id if drug and _generic_label(drug.name) == generic else None


def dictionary_drugs(words: list[str]) -> Iterator[tuple[Drug, int, int]]:
    """The drugs of the drug dictionary named by `words`, with the words' index range, as
    drug-named-entity-recognition's exact `find_drugs` finds them: two words that name a drug
    together first, then single words not in such a pair. A drug and its salt ('Ketorolac
    tromethamine', 'Docusate sodium') is the drug, which the dictionary names otherwise; a salt
    the dictionary does not pair with the drug before it ('sulfate', 'citrate') is no drug of its own."""
    names = drug_dictionary()
    lowered = [w.lower() for w in words]
    paired: set[int] = set()
    for i in range(len(lowered) - 1):
        if drug := names.get(f"{lowered[i]} {lowered[i + 1]}"):
            if lowered[i + 1] in _SALTS:
                drug = names.get(lowered[i], drug)
            paired.update((i, i + 1))
            yield drug, i, i + 2
    for i, word in enumerate(lowered):
        after_drug = i > 0 and (i - 1 in paired or lowered[i - 1] in names)
        if i not in paired and (drug := names.get(word)) and not (word in _SALTS and after_drug):
            yield drug, i, i + 1


def _ingredients(clean: CleanText, found: list[tuple[int, int, str, str | None]], end: int) -> list[Ingredient]:
    vocab = load()
    out: list[Ingredient] = []
    seen: set[str] = set()
    for s, e, generic, drugbank in found:
        if generic in seen:
            continue
        seen.add(generic)
        pct = PERCENT_AFTER.match(clean.text, e, end)
        out.append(Ingredient(
            generic=generic,
            written=clean.fact(clean.flat(s, e), s, e),
            drug_class=vocab.drug_classes.get(generic),
            drugbank_id=str(drugbank) if drugbank else None,
            percent=float(pct.group("v")) if pct else None,
        ))
    return out


_TESTS = frozenset({"drug test", "laboratory test"})


def service_type(text: str) -> str:
    """The service type of a non-drug item ('other' when no rule names it)."""
    text = ASSOCIATED_SERVICE.sub("", text)
    for label, pattern in load().service_rules:
        if pattern.search(text):
            return label
    return "other"


def _requested_drug_class(clean: CleanText, start: int, end: int) -> Fact[str] | None:
    """The class of drugs an item names when it names no drug and no service ('Muscle relaxant #60',
    'Topical analgesic cream'): the first class whose words the item has."""
    for label, pattern in load().drug_class_names:
        if m := pattern.search(clean.text, start, end):
            return clean.fact(label, *m.span())
    return None


def _number(clean: CleanText, pattern: re.Pattern[str], start: int, end: int,
            skip: re.Pattern[str] | None = None) -> tuple[str, int, int] | None:
    """The first number `pattern` finds in [start, end), but for one inside a match of `skip`."""
    skipped = [m.span() for m in skip.finditer(clean.text, start, end)] if skip else []
    for m in pattern.finditer(clean.text, start, end):
        group = next(name for name, value in m.groupdict().items() if value is not None)
        if not any(s <= m.start(group) < e for s, e in skipped):
            return m.group(group), *m.span(group)
    return None


def item_details(clean: CleanText, start: int, end: int) -> ItemDetails:
    """Drugs, dose and service type of the item written in clean text [start, end)."""
    found, drug_end = find_ingredients(clean, start, end)
    service = service_type(clean.flat(start, end))
    if service in _TESTS:  # a test of a drug's level or use ('Serum B12 level') requests no drug
        found, drug_end = [], start
    ingredients = tuple(found)
    service = None if ingredients else service
    # a drug the dictionary does not know ("Dyotin SR 250mg") still has its strength, when "mg" says so
    strength = (_strength(clean, drug_end, start, end) if ingredients
                else _stated_mg(clean, start, end) if service == "other" else None)
    quantity = _number(clean, QUANTITY, start, end, skip=PRODUCT_NUMBER) or (
        _number(clean, X_COUNT, drug_end, end) if ingredients else None)
    refills = _number(clean, REFILLS, start, end)
    dose_start = max(drug_end, strength[2] if strength else start)
    directions = _directions(clean, dose_start, end) if ingredients else None
    requested = _requested_drug_class(clean, start, end) if service == "other" else None
    return ItemDetails(
        ingredients=ingredients,
        requested_drug_class=requested,
        service_type=None if requested else service,
        strength_mg=clean.fact(float(strength[0]), strength[1], strength[2]) if strength else None,
        directions=directions,
        quantity=clean.fact(float(TENS.get(quantity[0].lower(), quantity[0])), quantity[1], quantity[2])
        if quantity else None,
        refills=clean.fact(_refill_count(refills[0]), refills[1], refills[2]) if refills else None,
    )


def _strength(clean: CleanText, drug_end: int, start: int, end: int) -> tuple[str, int, int] | None:
    """The strength in mg: the first "<n> mg", else a bare strength right after the last drug name."""
    stated = _stated_mg(clean, start, end)
    if stated:
        return stated
    bare = BARE_STRENGTH.match(clean.text, drug_end, end)
    if not bare:
        return None
    group = "v" if bare.group("v") is not None else "v2"
    return bare.group(group), *bare.span(group)


def _stated_mg(clean: CleanText, start: int, end: int) -> tuple[str, int, int] | None:
    """The first "<n> mg": the number, and the words that say it ("10-325mg")."""
    m = STRENGTH_MG.search(clean.text, start, end)
    return (m.group("v"), *m.span()) if m else None


def _refill_count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def _directions(clean: CleanText, after: int, end: int) -> Fact[str] | None:
    """The dosing words after the drug and strength, up to the quantity: "one by mouth three times a day"."""
    stop = DIRECTIONS_END.search(clean.text, after, end)
    s, e = after, stop.start() if stop else end
    while s < e and clean.text[s] in " ,;-":
        s += 1
    while e > s and clean.text[e - 1] in " ,;-(":
        e -= 1
    if e <= s or not DOSING.search(clean.text, s, e):
        return None
    return clean.fact(clean.flat(s, e), s, e)
