"""Refuse SPARQL that would reach the network or change data, before any engine sees it."""

from __future__ import annotations

import re

# Strings, IRIs and comments can contain anything; strip them before looking for keywords.
_OPAQUE = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r"|<[^<>\"{}|^`\\\s]*>|#[^\n]*")
# A keyword, not part of a prefixed name (ex:SERVICE) or a variable (?load).
_NETWORK = re.compile(r"(?<![\w:?$-])(SERVICE|LOAD)(?![\w:-])", re.I)
_UPDATE = re.compile(r"(?<![\w:?$-])(INSERT|DELETE|DROP|CLEAR|CREATE|ADD|MOVE|COPY|LOAD|WITH)(?![\w:-])", re.I)


class Refused(ValueError):
    """A request the service will not run; the message says why."""


def _keywords(sparql: str) -> str:
    return _OPAQUE.sub(" ", sparql)


def check_query(sparql: str) -> None:
    """Raise Refused for a query that names SERVICE or LOAD (federation and loading fetch URLs)."""
    m = _NETWORK.search(_keywords(sparql))
    if m:
        raise Refused(f"{m.group(1).upper()} is not allowed: this endpoint never fetches remote data")


def is_update(sparql: str) -> bool:
    return bool(_UPDATE.search(_keywords(sparql)))
