"""Canonical labels for concepts shared across letters, so one concept has one label and one IRI."""

from __future__ import annotations

import re

_SMALL = frozenset({"and", "or", "of", "in", "for", "the", "to", "with", "a", "an", "on"})


def _keeps_case(word: str) -> bool:
    """Acronyms keep their case: TENS, PPIs, EMG/NCS, ODG; so do web addresses."""
    return sum(ch.isupper() for ch in word) >= 2 or "://" in word or word.lower().startswith("www.")


def sentence_case(text: str) -> str:
    """'Muscle Relaxants' and 'muscle relaxants' -> 'Muscle relaxants'; acronyms and words in
    parentheses keep their case ('Proton pump inhibitors (PPIs)', 'Carisoprodol (Soma)')."""
    words = " ".join(text.split()).strip(" .,;:").split(" ")
    out: list[str] = []
    depth = 0
    for w in words:
        out.append(w if _keeps_case(w) or depth > 0 or w.startswith("(") else w.lower())
        depth += w.count("(") - w.count(")")
    if out and out[0] and not _keeps_case(out[0]):
        out[0] = out[0][0].upper() + out[0][1:]
    return " ".join(out)


def title_case(text: str) -> str:
    """'Physical medicine and rehabilitation' -> 'Physical Medicine & Rehabilitation'."""
    text = re.sub(r"\s+and\s+", " & ", " ".join(text.split()).strip(" .,;:"))
    words = text.split(" ")
    return " ".join(w if _keeps_case(w) or w == "&" else (w.lower() if i and w.lower() in _SMALL else _capitalized(w))
                    for i, w in enumerate(words))


def _capitalized(word: str) -> str:
    """'surgery' -> 'Surgery', and '(hand' -> '(Hand' (str.capitalize would leave the bracket first)."""
    return re.sub(r"[a-z]", lambda m: m.group(0).upper(), word.lower(), count=1)
