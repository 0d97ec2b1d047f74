"""Every scale figure in one table, each with its baseline from the same run.

usage: python benchmarks/run.py [--letters N] [--changed K] [--oxigraph PATH] [--keep DIR]
1. generate N letters (benchmarks/make_corpus.py) with their truth;
2. `kg build --jobs 2` them: letters/s, peak RSS (the build compacts the store at the end, and
   says how long that took); baseline: pyoxigraph Store.bulk_load of the same quads (dumped from
   the built store as N-Quads);
3. change K letters and build again: seconds for the incremental rebuild; then make the indexes of
   the letters' kept rows again from those rows (what an upgrade of their format costs the next
   build): seconds and peak RSS, against the build;
4. score the tables against the truth with ../shared/tools/score_extraction.py (when present);
5. time `kg table decisions`, `kg table cases` and `kg query decisions -f tsv` as whole commands (p50 of 3);
6. time every named query answered as SPARQL JSON (p50/max of 5 runs) in process, and the same
   SPARQL over HTTP in `oxigraph serve-read-only` when --oxigraph is given; for the aggregates read
   from the build-time tallies, also the direct query over every decision (queries/direct/), once;
7. `kg search` of a few phrases from the text index, against SPARQL's CONTAINS over every text; and
   the whole text index made again from the store, against the first build;
8. build the same letters into a remote store: a fresh `oxigraph serve` when --oxigraph is given,
   and the server at --remote URL (an empty dataset: Fuseki's, say) when given: letters/s and peak
   RSS of kg, against the embedded build of step 2.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def timed_build(letters: Path, store: Path | str, *extra: str) -> tuple[float, int, int, str]:
    """Seconds, peak RSS in KiB of the largest process and of all of them together (the writer and
    its parser processes, sampled every 0.5 s), and the summary of a `kg build` run."""
    started = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", sys.executable, "-m", "kg.cli", "build", str(letters),
                             "--store", str(store), "--jobs", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree_peak = [0]
    sampler = threading.Thread(target=_sample_tree, args=(proc, tree_peak), daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    lines = stderr.splitlines()
    rss = next((int(line.split(":")[1]) for line in lines if "Maximum resident" in line), 0)
    summary = next((line for line in lines if line.startswith("letters read")), stderr[-300:])
    compacted = next((line for line in lines if line.startswith("compacted")), "")
    return seconds, rss, tree_peak[0], summary + (f"; {compacted}" if compacted else "")


def _sample_tree(proc: subprocess.Popen[str], peak: list[int]) -> None:
    """Keep in peak[0] the largest sum of RSS (KiB) over `proc` and its descendants (Linux /proc)."""
    while proc.poll() is None:
        peak[0] = max(peak[0], sum(_rss_kib(pid) for pid in _tree(proc.pid)))
        time.sleep(0.5)


def _tree(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the task ended meanwhile
            children += [int(c) for c in task.read_text().split()]
    return [pid] + [p for child in children for p in _tree(child)]


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def bulk_load_seconds(store: Path, scratch: Path) -> float:
    from kg.store import Store

    data = io.BytesIO()
    with Store(store, read_only=True) as built:
        built.dump(data, "nq")
    target = ox.Store(str(scratch))
    started = time.perf_counter()
    target.bulk_load(data.getvalue(), format=ox.RdfFormat.N_QUADS, lenient=True)  # as kg.store loads
    target.flush()
    return time.perf_counter() - started


def query_times(store: Path, oxigraph: str | None) -> list[tuple[str, float, float, float | None, float | None]]:
    """Per named query: p50 and max of 5 runs in process (the whole answer as SPARQL JSON, as `kg
    query NAME -f json` writes it), the same SPARQL in `oxigraph serve`, and
    (for the queries answered from the build-time tallies) one run of the direct query over every
    decision, in process."""
    from kg.answer import run
    from kg.queries import all_queries, load_query
    from kg.resources import data_dir
    from kg.results import json_result
    from kg.store import Store

    rows = []
    with contextlib.ExitStack() as stack:
        served = stack.enter_context(oxigraph_serving(oxigraph, "serve-read-only", store)) if oxigraph else None
        endpoint = served and f"{served}/query"
        with Store(store, read_only=True) as kg_store:
            for q in all_queries():
                params = q.example_params
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    "".join(json_result(kg_store, q, params))
                    times.append(time.perf_counter() - started)
                baseline = None
                if endpoint and not q.parameters:
                    base = []
                    for _ in range(5):
                        started = time.perf_counter()
                        httpx.post(endpoint, data={"query": q.sparql, "union-default-graph": ""},
                                   headers={"accept": "application/sparql-results+json"}, timeout=300)
                        base.append(time.perf_counter() - started)
                    baseline = statistics.median(base)
                times.sort()
                direct = None
                direct_path = data_dir("queries") / "direct" / f"{q.name}.rq"
                if direct_path.exists():
                    started = time.perf_counter()
                    run(kg_store, load_query(direct_path), params)
                    direct = time.perf_counter() - started
                rows.append((q.name, statistics.median(times), times[-1], baseline, direct))
    return rows


@contextlib.contextmanager
def oxigraph_serving(oxigraph: str, command: str, location: Path) -> Iterator[str]:
    """`oxigraph serve` (or `serve-read-only`) of `location` on a free port, once it answers: its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([oxigraph, command, "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    served = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(served + "/query", params={"query": "ASK {}"}, timeout=1)
                break
            time.sleep(0.2)
        yield served
    finally:
        server.terminate()
        server.wait(10)


REINDEX = """import sys
from kg.store import Store
with Store(sys.argv[1]) as store, store.writing():
    store._kept_indexes.drop()  # the end of the write makes every index again from the letters' rows
"""


def remote_builds(letters: Path, work: Path, oxigraph: str | None,
                  url: str | None) -> dict[str, tuple[float, int, int, str]]:
    """`timed_build` into a fresh `oxigraph serve` (when its binary is given) and into the server at
    `url` (when given), by where it built."""
    builds = {}
    if oxigraph:
        shutil.rmtree(work / "served", ignore_errors=True)
        with oxigraph_serving(oxigraph, "serve", work / "served") as served:
            builds["oxigraph serve"] = timed_build(letters, served)
    if url:
        builds[url] = timed_build(letters, url)
    return builds


def reindex(store: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of making the kept-row indexes again from every letter's rows."""
    started = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", REINDEX, str(store)],
                         capture_output=True, text=True, check=True)
    rss = next(int(line.split(":")[1]) for line in out.stderr.splitlines() if "Maximum resident" in line)
    return time.perf_counter() - started, rss


TABLE_COMMANDS = {"decisions": ["table", "decisions"], "cases": ["table", "cases"],
                  "decisions -f tsv": ["query", "decisions", "-f", "tsv"]}


def table_seconds(store: Path) -> dict[str, float]:
    """p50 of 3 runs of `kg table NAME` (and of the decisions as TSV) as a whole command
    (interpreter start and imports too)."""
    seconds = {}
    for label, command in TABLE_COMMANDS.items():
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kg.cli", *command, "--store", str(store)],
                           capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        seconds[label] = statistics.median(times)
    return seconds


SEARCHES = ("opioid", "functional restoration", "urine drug screen", "medically necessary")


def search_seconds(store: Path) -> list[tuple[str, int | None, float, float]]:
    """Per phrase of SEARCHES: the decisions that hold it, and the seconds (best of 3, in process)
    for the first 20 of them in order with `kg search`'s code, from the text index and, as the
    baseline, by SPARQL's CONTAINS over every text (what a remote store does)."""
    from kg.search import search
    from kg.store import Store

    def best(kg_store: Store, words: str) -> float:
        return min(timed(lambda: search(kg_store, words, 20)) for _ in range(3))

    out = []
    with Store(store, read_only=True) as kg_store:
        for words in SEARCHES:
            held = search(kg_store, words, 1).total  # None: no text index
            indexed = best(kg_store, words)
            kg_store.decisions_with_words = lambda words, cap: None  # type: ignore[method-assign]
            out.append((words, held, indexed, best(kg_store, words)))
            del kg_store.decisions_with_words
    return out


def timed(call: object) -> float:
    started = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - started


def text_index_seconds(letters: Path, store: Path) -> float:
    """Seconds of a `kg build` with nothing to parse after the text index file was deleted: the whole
    index made from the store (what the first build after upgrading to it costs)."""
    from kg.text_index import FILE

    (store / FILE).unlink(missing_ok=True)  # none where SQLite lacks FTS5's trigrams
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kg.cli", "build", str(letters), "--store", str(store)],
                   capture_output=True, check=False)
    return time.perf_counter() - started


def diagnoses_exact(truth: Path, cases_csv: Path) -> tuple[int, int]:
    """Cases whose diagnoses are the generated ones, no more and no fewer, and how many cases (a diagnosis as
    written, without the code in brackets the generator may add: the graph's label)."""
    from kg.parser.summary import ICD_CODE

    letters = json.loads(truth.read_text())["letters"]
    with cases_csv.open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["letter"] in letters]
    exact = sum({d.lower() for d in letters[row["letter"]]["diagnoses_must_include"]} ==
                set(filter(None, ICD_CODE.sub("", row["diagnoses"]).lower().split(";")))  # as the scorer: any case
                for row in rows)
    return exact, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--letters", type=int, default=2000)
    ap.add_argument("--changed", type=int, default=20)
    ap.add_argument("--oxigraph", default=shutil.which("oxigraph"))
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--remote", help="also build into the (empty) SPARQL server at this URL")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kg-bench-"))
    corpus = work / "corpus"
    if not (corpus / "truth.json").exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_corpus.py"), "--letters", str(args.letters),
                        str(corpus)], check=True)
    truth = json.loads((corpus / "truth.json").read_text())
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    build_s, rss, tree_rss, summary = timed_build(corpus / "letters", store)
    accepted = len(truth["letters"])
    bulk_s = bulk_load_seconds(store, work / "bulk")
    remote = remote_builds(corpus / "letters", work, args.oxigraph, args.remote)
    for path in sorted((corpus / "letters").glob("*.txt"))[: args.changed]:
        path.write_bytes(path.read_bytes().replace(b"records", b"notes", 1))
    rebuild_s, _, _, rebuild_summary = timed_build(corpus / "letters", store)
    reindex_s, reindex_rss = reindex(store)

    print(f"corpus: {args.letters} files, {accepted} letters with truth; work folder {work}")
    print(f"build:   {summary}")
    print(f"  kg build --jobs 2: {accepted / build_s:7.1f} letters/s, peak RSS {rss / 1024:.0f} MiB "
          f"(all its processes together: {tree_rss / 1024:.0f} MiB)")
    print(f"  baseline Store.bulk_load of the same quads: {accepted / bulk_s:7.1f} letters/s "
          f"(build takes {build_s / bulk_s:.1f}x as long)")
    print(f"  incremental rebuild with {args.changed} changed: {rebuild_s:.1f} s ({rebuild_summary})")
    print(f"  kept-row indexes made again from every letter's rows (an index format upgrade): {reindex_s:.1f} s, "
          f"peak RSS {reindex_rss / 1024:.0f} MiB ({reindex_s / build_s:.2f}x the build's time)")

    for where, (seconds, peak, _, remote_summary) in remote.items():
        print(f"  kg build into {where}: {accepted / seconds:7.1f} letters/s, peak RSS {peak / 1024:.0f} MiB "
              f"({seconds / build_s:.1f}x the embedded build's time; {remote_summary})")

    for table in ("decisions", "cases"):
        rows = subprocess.run([sys.executable, "-m", "kg.cli", "table", table, "--store", str(store)],
                              capture_output=True, text=True, check=True).stdout
        (work / f"{table}.csv").write_text(rows)
    scorer = ROOT.parent / "shared" / "tools" / "score_extraction.py"
    if scorer.exists():
        score = subprocess.run([sys.executable, str(scorer), str(corpus / "truth.json"), str(work / "decisions.csv"),
                                str(work / "cases.csv")], capture_output=True, text=True).stdout.splitlines()[-1]
        print(f"accuracy: {score}")
    exact, cases = diagnoses_exact(corpus / "truth.json", work / "cases.csv")
    print(f"diagnoses exactly the truth's (the scorer only asks that each appear within one): {exact} of {cases} cases")
    tables = table_seconds(store)
    print("kg table / kg query, whole command (p50 of 3): " + ", ".join(f"{t} {s:.2f} s" for t, s in tables.items())
          + " (baseline: the same query in oxigraph serve, below)")
    print(f"{'query':32s} {'p50 s':>8s} {'max s':>8s} {'oxigraph serve s':>17s} {'direct s':>9s}")
    for name, p50, worst, base, direct in query_times(store, args.oxigraph):
        print(f"{name:32s} {p50:8.3f} {worst:8.3f} {'' if base is None else f'{base:17.3f}'}"
              f" {'' if direct is None else f'{direct:9.3f}'}")
    print(f"{'kg search (first 20, in process)':36s} {'decisions':>9s} {'text index s':>13s} {'CONTAINS s':>11s}")
    for words, held, indexed, contains in search_seconds(store):
        print(f"{words:36s} {'no index' if held is None else held:>9} {indexed:13.3f} {contains:11.3f}")
    remade = text_index_seconds(corpus / "letters", store)
    print(f"text index made whole again from the store (a `kg build` with nothing to parse): {remade:.1f} s "
          f"({remade / build_s:.2f}x the first build's time)")


if __name__ == "__main__":
    main()
