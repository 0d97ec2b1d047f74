"""The 'IMR ISSUES, DECISIONS AND RATIONALES' section: one block per disputed item."""

from __future__ import annotations

import re

from kg.parser.citations import parse_guideline_line
from kg.parser.medications import item_details
from kg.parser.text import CleanText, LetterError
from kg.record import Decision, Fact, Outcome

# "<item>: Upheld" ends an item line; so does "<item>  Upheld" without its colon (lost by the PDF), or
# with the word wrapped onto a line of its own, when the word is written as the form writes it and
# the block's next part follows.
_NEXT_PART = r"\n\s*(?:Claims\s+Administrator\s+guideline|MAXIMUS\s+guideline|Decision\s+rationale)"
_WITHOUT_COLON = r"(?:\s+is\b)?\s+(?=(?-i:Upheld|Overturned)\.?[ \t]*" + _NEXT_PART + ")"
# "Upheld." too, and a dash for the colon ("#45 - Upheld", "#45 -- Upheld")
OUTCOME_LINE = re.compile(r"(?:(?:\s+is)?\s*(?::|\s-{1,2})\s*|" + _WITHOUT_COLON
                          + r")(?P<v>Upheld|Overturned)\.?[ \t]*$", re.I | re.M)


def _label(words: str) -> re.Pattern[str]:
    """A block's label, its last word perhaps plural ('MAXIMUS guidelines', 'guideline(s)'): 'Words:'
    anywhere, or the words as written starting a line without the colon (a character the PDF lost)."""
    spaced = r"\s+".join(words.split()) + r"(?:s|\(s\))?"
    return re.compile(rf"(?i:{spaced}\s*:)|^[ \t]*{spaced}(?!\w)", re.M)


ADMIN_GUIDELINE = _label("Claims Administrator guideline")
REVIEWER_GUIDELINE = _label("MAXIMUS guideline")
RATIONALE = _label("Decision rationale")
PARTIAL = re.compile(
    r"(?P<orig>.+?)\s+was\s+the\s+original\s+request\.\s*(?P<auth>.+?)\s+was\s+authorized\s+by\s+the\s+"
    r"Claims\s+Administrator\.\s*The\s+remaining\s+IMR\s+eligible\s+portion\s+of\s+the\s+original\s+"
    r"request,?\s*(?P<item>.+)", re.I | re.S)
# "is (not) medically necessary", and "is deemed not / is not shown to be / cannot be considered /
# will be considered not / is no longer / is not recommended as medically necessary", "is not medically
# reasonable or necessary", "is not reasonable and not medically necessary", "is not medically indicated";
# "medical necessity ... has (not) been established", "... is (not) established";
# "does not meet medical necessity". Not a condition: "... would / could / may be medically necessary".
CONCLUSION = re.compile(
    r"\b(?P<cannot>cannot\s+|can\s+not\s+)?(?:is|are|was|were|(?<!would\s)(?<!could\s)(?<!might\s)(?<!may\s)be)\s+"
    r"(?P<words>(?:(?:not|no\s+longer|deemed|determined|considered|shown|found|felt|certified|recommended|therefore|"
    r"thus|also|to|be|as|reasonable|appropriate|and)\s+){0,5})medically\s+(?:reasonable\s+(?:and|or)\s+)?(?:necessary|indicated)[^.]*\.?"
    r"|\bmedical\s+necessity\b[^.]{0,80}?\b(?:has|have|was|is)\s+(?P<words2>not\s+)?(?:been\s+)?established[^.]*\.?"
    # "the request does not meet (the criteria for) medical necessity", "meets medical necessity"
    r"|\b(?:(?:does|do|did)\s+(?P<words3>not\s+)?)?meets?\s+(?:the\s+)?(?:criteria\s+(?:for|of)\s+)?"
    r"medical\s+necessity\b[^.]*\.?",
    re.I)
_NEGATION = re.compile(r"\bnot\b|\bno\s+longer\b", re.I)
SENTENCE_END = re.compile(r"[.!?)\"']\s*$")
MAX_ITEM_LINES = 4
# "...the disputed items/services set forth below:" ends the intro; other colons (Qty:) do not.
INTRO_END = re.compile(r"below\s*:$")
# A line of an item may end in an abbreviation ("one p.o. t.i.d.", "Dr.") without ending a sentence.
ABBREVIATION_END = re.compile(r"(?:\b[a-z]\.){2,}$|\b(?:mg|Dr|No|vs|approx|q|p|e\.g|i\.e)\.$", re.I)
# The last words of a rationale end its block even when the PDF lost their period.
CONCLUSION_END = re.compile(r"medically\s+necessary(?:\s+(?:and|or)\s+appropriate)?$", re.I)
# A number before an item, as a list numbers it ("1. Norco 10/325mg #90: Upheld", "(2) MRI"): not the item's words
ITEM_NUMBER = re.compile(r"(?:\d{1,2}[.)]|\(\d{1,2}\))[ \t]+(?=\S)")
PARTIAL_TAIL = re.compile(r"remaining\s+IMR\s+eligible\s+portion", re.I)
PARTIAL_HEAD = re.compile(r"was\s+the\s+original\s+request\.", re.I)


def parse_decisions(clean: CleanText, start: int, end: int, name: str) -> list[Decision]:
    """Every decision block in clean text [start, end), in letter order."""
    outcomes = list(OUTCOME_LINE.finditer(clean.text, start, end))
    if not outcomes:
        raise LetterError(f"{name}: no disputed item with an outcome (Upheld/Overturned) found")
    item_starts = [_partial_start(clean.text, start, _item_start(clean.text, start, m.start()), m.start())
                   for m in outcomes]
    decisions: list[Decision] = []
    for i, m in enumerate(outcomes):
        block_end = item_starts[i + 1] if i + 1 < len(outcomes) else end
        decisions.append(_decision(clean, i + 1, item_starts[i], m, block_end, name))
    if not SENTENCE_END.search(clean.text, start, end):
        raise LetterError(f"{name}: the last decision rationale stops mid-sentence (letter cut short?)")
    return decisions


def _item_start(text: str, floor: int, outcome_at: int) -> int:
    """Where the item line(s) before an outcome begin: after the last line that ends a sentence."""
    line_start = text.rfind("\n", floor, outcome_at) + 1 or floor
    for _ in range(MAX_ITEM_LINES - 1):
        if line_start <= floor:
            return floor
        prev_end = line_start - 1
        if (text[prev_end - 1: prev_end] == "." and not ABBREVIATION_END.search(text, floor, prev_end)) \
                or CONCLUSION_END.search(text, floor, prev_end) \
                or INTRO_END.search(text, floor, prev_end) or _is_heading(text, floor, prev_end):
            return line_start
        line_start = text.rfind("\n", floor, prev_end) + 1 or floor
    return max(line_start, floor)


def _partial_start(text: str, floor: int, item_start: int, outcome_at: int) -> int:
    """A partial-authorization item runs over several sentences: start it at 'X was the original
    request.', which the line walk stops after."""
    if not PARTIAL_TAIL.search(text, item_start, outcome_at) or PARTIAL_HEAD.search(text, item_start, outcome_at):
        return item_start
    heads = list(PARTIAL_HEAD.finditer(text, max(floor, item_start - 1000), item_start))
    return _item_start(text, floor, heads[-1].start()) if heads else item_start


def _is_heading(text: str, floor: int, line_end: int) -> bool:
    line = text[text.rfind("\n", floor, line_end) + 1: line_end]
    return line.isupper()


def _decision(clean: CleanText, number: int, item_start: int, outcome: re.Match[str], end: int,
              name: str) -> Decision:
    text = clean.text
    admin = ADMIN_GUIDELINE.search(text, outcome.end(), end)
    reviewer = REVIEWER_GUIDELINE.search(text, outcome.end(), end)
    rationale = RATIONALE.search(text, outcome.end(), end)
    if rationale is None:
        raise LetterError(f"{name}: decision {number} has no 'Decision rationale' (letter cut short?)")
    item_end = outcome.start()
    if numbered := ITEM_NUMBER.match(text, item_start, item_end):
        item_start = numbered.end()
    partial = PARTIAL.fullmatch(text, item_start, item_end)
    decided = partial.span("item") if partial else (item_start, item_end)
    details = item_details(clean, *decided)
    citations, no_evidence = [], []
    for party, head, stop in (("administrator", admin, reviewer or rationale), ("reviewer", reviewer, rationale)):
        if head is None:
            continue
        line = parse_guideline_line(clean, head.end(), stop.start(), party)  # type: ignore[arg-type]
        citations += line.citations
        if line.no_evidence:
            no_evidence.append(party)
    conclusion = _conclusion(clean, rationale.end(), end)
    outcome_value: Outcome = "Upheld" if outcome.group("v").lower() == "upheld" else "Overturned"
    return Decision(
        number=number,
        item=clean.fact(clean.flat(*decided), *decided),
        outcome=clean.fact(outcome_value, *outcome.span("v")),
        original_request=clean.fact(clean.flat(*partial.span("orig")), *partial.span("orig")) if partial else None,
        authorized_portion=clean.fact(clean.flat(*partial.span("auth")), *partial.span("auth")) if partial else None,
        ingredients=details.ingredients,
        requested_drug_class=details.requested_drug_class,
        service_type=details.service_type,
        strength_mg=details.strength_mg,
        directions=details.directions,
        quantity=details.quantity,
        refills=details.refills,
        citations=tuple(citations),
        no_evidence_cited=tuple(no_evidence),  # type: ignore[arg-type]
        rationale=clean.fact(clean.flat(rationale.end(), end), rationale.end(), end),
        medically_necessary=conclusion,
    )


def _conclusion(clean: CleanText, start: int, end: int) -> Fact[bool] | None:
    """The rationale's last 'is (not) medically necessary' sentence."""
    last = None
    for m in CONCLUSION.finditer(clean.text, start, end):
        last = m
    if last is None:
        return None
    s = max(clean.text.rfind(". ", start, last.start()) + 1, clean.text.rfind(".\n", start, last.start()) + 1,
            start)
    while s < last.end() and not clean.text[s].isalnum():
        s += 1
    negated = last.group("words") or last.group("words2") or last.group("words3") or ""
    necessary = not (last.group("cannot") or _NEGATION.search(negated))
    return clean.fact(necessary, s, last.end())
