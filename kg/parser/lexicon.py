"""Common English words, for telling a compound's hyphen at a line break ('four-' / 'week',
'shoulder-' / 'upper arm') from a word the typesetter broke ('medi-' / 'cation').

The words are those of pyspellchecker's English frequency list seen at least COMMON times, read
the first time a letter needs them (a letter with no lowercase word hyphenated at a line end never
does): ~25,000 words, read in ~0.25 s, ~3 MB more in a parsing process."""

from __future__ import annotations

from functools import cache

# Tens written as words: an age ("a forty-five year old male") and a count ("sixty count")
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}

# 'anti' is counted 1,174 times and 'inflammatory' 814, while pieces of broken words are rare:
# 'cation' 50, 'electro' 353. Of 141 long words broken after four letters in real and generated
# letters, two broke into two such words: 'para' / 'spinal' and 'late' / 'rally'.
COMMON = 500


@cache
def common_words() -> frozenset[str]:
    from spellchecker import SpellChecker

    counts = SpellChecker(language="en", distance=1).word_frequency.dictionary
    return frozenset(word for word, n in counts.items() if n >= COMMON and word.isalpha())


def is_compound(first: str, second: str) -> bool:
    """Whether 'first-' at a line end and 'second' on the next line are the halves of a compound
    (each a common word, and not one common word together), not one word broken in two."""
    common = common_words()
    return first in common and second in common and first + second not in common
