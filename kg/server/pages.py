"""HTML pages: the index, and a letter with every extracted fact highlighted at its span."""

from __future__ import annotations

import itertools
from html import escape
from typing import Any
from urllib.parse import quote

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh}
header{padding:.6em 1em;background:#123;color:#fff} header a{color:#9cf}
main{display:flex;flex:1;overflow:hidden}
#text{flex:3;overflow:auto;padding:1em;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:13px}
#facts{flex:2;overflow:auto;padding:1em;border-left:1px solid #ccc;font-size:13px}
mark{background:#fff3a0;border-bottom:2px solid #d4a000} mark.deep{background:#ffd27a}
mark:target,tr:target{outline:2px solid #c00}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:3px;text-align:left;vertical-align:top}
"""


def index_page(queries: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="/queries/{quote(n)}?format=csv">{escape(n)}</a>: {escape(t)}</li>'
                    for n, t in queries)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>kg: IMR letters graph</title>
<style>body{{font-family:system-ui,sans-serif;max-width:50em;margin:2em auto}}</style></head><body>
<h1>kg: knowledge graph of IMR determination letters</h1>
<ul><li><a href="/sparql">/sparql</a>: SPARQL 1.1 Protocol endpoint (read-only)</li>
<li><a href="/graphql">/graphql</a>: GraphQL API with GraphiQL</li>
<li><a href="/queries">/queries</a>: the named queries as JSON; each runs at /queries/NAME</li>
<li>/letters/ID: a letter with its facts highlighted</li>
<li><a href="/health">/health</a></li></ul>
<h2>Named queries</h2><ul>{items}</ul></body></html>"""


def _short(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def letter_page(letter_id: str, rows: list[dict[str, Any]]) -> str:
    """The letter text with a <mark> for every evidence span (nested spans darker), and the facts."""
    text = rows[0]["text"]["value"]
    spans = sorted({(int(r["start"]["value"]), int(r["end"]["value"])) for r in rows})
    facts = []
    for r in rows:
        start, end = int(r["start"]["value"]), int(r["end"]["value"])
        facts.append((start, end, _short(r.get("class", {}).get("value", "")),
                      _short(r.get("property", {}).get("value", "")), r["node"]["value"], r["exact"]["value"]))
    body = _highlight(text, spans)
    table = "".join(
        f'<tr id="fact-{s}-{e}"><td><a href="#span-{s}-{e}">{s}&ndash;{e}</a></td><td>{escape(cls)}</td>'
        f"<td>{escape(prop)}</td><td>{escape(exact[:120])}</td>"
        f'<td><a href="/sparql?query={quote(f"DESCRIBE <{node}>")}">node</a></td></tr>'
        for s, e, cls, prop, node, exact in sorted(set(facts)))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{escape(letter_id)}</title>
<style>{_STYLE}</style></head><body>
<header><b>{escape(letter_id)}</b> &middot; {len(spans)} evidence spans &middot; <a href="/">kg</a></header>
<main><div id="text">{body}</div>
<div id="facts"><table><tr><th>span</th><th>node</th><th>property</th><th>words</th><th></th></tr>{table}</table></div>
</main></body></html>"""


def _highlight(text: str, spans: list[tuple[int, int]]) -> str:
    """Cut the text at every span boundary; each piece is marked by how many spans cover it."""
    cuts = sorted({0, len(text), *(s for s, _ in spans), *(e for _, e in spans)})
    starts = {s: e for s, e in spans}
    out = []
    for a, b in itertools.pairwise(cuts):
        depth = sum(1 for s, e in spans if s <= a and b <= e)
        piece = escape(text[a:b])
        anchor = f' id="span-{a}-{starts[a]}"' if a in starts else ""
        if depth:
            out.append(f'<mark{anchor} class="{"deep" if depth > 1 else ""}">{piece}</mark>')
        else:
            out.append(piece)
    return "".join(out)
