"""Seconds for a page of GraphQL `decisions(filter: ...)` with its total, per filter: the first page
asked (the server counts the matches) and --runs following pages (the count kept), against the
same page and count asked as plain SPARQL (every match joined to its letter and sorted) of the same
server, in one run. Prints the best and worst of --runs; the ratio is the first page's.

usage: python benchmarks/graphql_filters.py STORE_DIR [--runs N] [--offset N] [--timeout S] [--deep ROWS]
                                                   [--only TEXT]
All traffic stays on 127.0.0.1; the server is `kg serve` with --timeout S (default 300).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_rate import free_port, wait_up

from kg.store import tallies_complete_mark

PREFIXES = "PREFIX imr: <https://w3id.org/imr-kg/ontology#> PREFIX dcterms: <http://purl.org/dc/terms/> " \
           "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "


def _text(words: str) -> str:
    return (f'?d imr:decides/imr:itemText ?t . OPTIONAL {{ ?d imr:rationale ?r }} '
            f'FILTER(CONTAINS(LCASE(?t), "{words}") || CONTAINS(LCASE(COALESCE(?r, "")), "{words}"))')


_TEXT = _text("opioid")
_KNEE = '?l imr:aboutCase/(imr:diagnosis|imr:injury)/imr:bodyRegion/skos:prefLabel "knee" .'
# a GraphQL filter, and the SPARQL pattern that says the same of decision ?d and letter ?l
FILTERS = [
    ("outcome: OVERTURNED", '?d imr:outcome "Overturned" .'),
    ('guideline: "ODG"', '?d imr:citation/imr:guideline/skos:notation "ODG" .'),
    ('medication: "carisoprodol"', '?d imr:decides/imr:medication/skos:prefLabel "carisoprodol" .'),
    ('sex: "female"', '?l imr:aboutCase/imr:injuredWorker/imr:sex "female" .'),
    ("ageFrom: 70", "?l imr:aboutCase/imr:injuredWorker/imr:age ?a . FILTER(?a >= 70)"),
    ('bodyRegion: "knee"', _KNEE),
    ('diagnosis: "radiculopathy"',
     '?l imr:aboutCase/imr:diagnosis/imr:label ?x . FILTER(CONTAINS(?x, "radiculopathy"))'),
    ('text: "opioid"', _TEXT),
    ('text: "opioid", medication: "carisoprodol"',
     f'?d imr:decides/imr:medication/skos:prefLabel "carisoprodol" . {_TEXT}'),
    ('text: "opioid", sex: "female"', f'?l imr:aboutCase/imr:injuredWorker/imr:sex "female" . {_TEXT}'),
    ('text: "opioid", bodyRegion: "knee"', f"{_KNEE} {_TEXT}"),
    ('text: "opioid", outcome: UPHELD', f'?d imr:outcome "Upheld" . {_TEXT}'),
    ('text: "mri"', _text("mri")),  # 11,847 decisions at 100k letters
    # held by more decisions than the text index names (kg.text_index.MOST_DECISIONS): every text read
    ('text: "medically necessary"', _text("medically necessary")),
    # a decision's filter with a letter's: counted by the index of the filters' values (kg.facet_index)
    ('outcome: UPHELD, sex: "female"',
     '?d imr:outcome "Upheld" . ?l imr:aboutCase/imr:injuredWorker/imr:sex "female" .'),
    ('guideline: "ODG", sex: "female"',
     '?d imr:citation/imr:guideline/skos:notation "ODG" . ?l imr:aboutCase/imr:injuredWorker/imr:sex "female" .'),
    ('outcome: OVERTURNED, ageFrom: 70',
     '?d imr:outcome "Overturned" . ?l imr:aboutCase/imr:injuredWorker/imr:age ?a . FILTER(?a >= 70)'),
    ('serviceType: "acupuncture", state: "CA"', '?d imr:decides/imr:serviceType/skos:prefLabel "acupuncture" . '
                                                '?l imr:reviewedBy/imr:licensedIn/skos:notation "CA" .'),
]


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--deep", type=int, default=0, help="also page through this many matches, 500 at a time")
    parser.add_argument("--only", default="", help="only the filters whose GraphQL holds this text")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", str(args.store), "--port", str(port),
                             "--workers", "1", "--timeout", str(args.timeout)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(base + "/health", proc)
        with httpx.Client(timeout=args.timeout + 30) as client:
            client.post(base + "/graphql", json={"query": "{ decisions(limit: 1) { total } }"})  # load the index
            mark = tallies_complete_mark()
            ask = f"ASK {{ GRAPH {mark.graph_name} {{ {mark.triple} }} }}"
            current = client.post(base + "/sparql", data={"query": ask},
                                  headers={"accept": "application/sparql-results+json"}).json()["boolean"]
            if not current:
                print("warning: the store's tallies are not this kg's (run `kg build` on it first): no letter index, "
                      "so every filtered page is sorted from all its matches")
            print(f"{'filter':44} {'GraphQL first':>13} {'GraphQL next pages':>20} {'SPARQL page+count':>20} "
                  f"{'ratio':>6}  total")
            for flt, pattern in [(flt, pattern) for flt, pattern in FILTERS if args.only in flt]:
                def page(offset: int, flt: str = flt) -> tuple[float, object]:
                    gql = (f"{{ decisions(filter: {{{flt}}}, limit: 20, offset: {offset}) "
                           f"{{ total items {{ letterId }} }} }}")
                    return timed(lambda: client.post(base + "/graphql", json={"query": gql}).json())

                where = f"?l imr:hasDecision ?d ; dcterms:identifier ?letter . ?d imr:sequence ?seq . {pattern}"
                sparql = [f"{PREFIXES} SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE {{ {where} }}",
                          f"{PREFIXES} SELECT DISTINCT ?d ?letter ?seq WHERE {{ {where} }} ORDER BY ?letter ?seq "
                          f"LIMIT 20 OFFSET {args.offset}"]
                first, answer = page(args.offset)  # counted: the server has not seen these filters
                following = [page(args.offset + 20 * run)[0] for run in range(1, args.runs + 1)]  # count kept
                theirs = [timed(lambda qs=sparql: [client.post(base + "/sparql", data={"query": q},
                                                               headers={"accept": "application/sparql-results+json"})
                                                   for q in qs])[0] for _ in range(args.runs)]
                total = answer["data"]["decisions"]["total"] if answer.get("data") else answer.get("errors")
                print(f"{flt:44} {first:13.3f} {min(following):9.3f} - {max(following):<8.3f} "
                      f"{min(theirs):9.3f} - {max(theirs):<8.3f} {first / min(theirs):6.2f}  {total}", flush=True)
            if args.deep:
                deep_pages(client, base, args.deep)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


# filters paged through deeply, a page of 500 at a time, with their SPARQL patterns
DEEP = [('guideline: "ODG"', '?d imr:citation/imr:guideline/skos:notation "ODG" .'),
        ('sex: "female"', '?l imr:aboutCase/imr:injuredWorker/imr:sex "female" .')]


def deep_pages(client: httpx.Client, base: str, rows: int) -> None:
    """Seconds for each page of 500 through the first `rows` matches, in order (as a client reading
    them all would), against the last of those pages as plain SPARQL."""
    print(f"\n{'paging through':30} {'pages':>5} {'GraphQL per page (s)':>22} {'last page':>10} "
          f"{'SPARQL last page':>17}")
    for flt, pattern in DEEP:
        times = []
        for offset in range(0, rows, 500):
            gql = f"{{ decisions(filter: {{{flt}}}, limit: 500, offset: {offset}) {{ total items {{ letterId }} }} }}"
            times.append(timed(lambda q=gql: client.post(base + "/graphql", json={"query": q}).json())[0])
        where = f"?l imr:hasDecision ?d ; dcterms:identifier ?letter . ?d imr:sequence ?seq . {pattern}"
        last = (f"{PREFIXES} SELECT DISTINCT ?d ?letter ?seq WHERE {{ {where} }} ORDER BY ?letter ?seq "
                f"LIMIT 500 OFFSET {rows - 500}")
        theirs = timed(lambda q=last: client.post(base + "/sparql", data={"query": q},
                                           headers={"accept": "application/sparql-results+json"}))[0]
        print(f"{flt:30} {len(times):5} {min(times):10.3f} - {max(times):<9.3f} {times[-1]:10.3f} {theirs:17.3f}",
              flush=True)


if __name__ == "__main__":
    main()
