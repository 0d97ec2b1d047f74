"""Requests per second and p50/p95 latency of `kg serve` against `oxigraph serve-read-only` and
rdflib-endpoint on the same data, for a point lookup and an aggregate, at concurrency 1 and 8, in
one run. The servers take turns (--rounds), and each cell reports its median round.

usage: python benchmarks/serve_rate.py STORE_DIR [--oxigraph PATH] [--no-rdflib-endpoint] [--requests N]
The baselines come with the `bench` extra (`pip install -e '.[bench]'`): the `oxigraph` command
of the pip package `oxigraph`, and rdflib-endpoint, which is given the store dumped as N-Quads
(loading it into rdflib's memory takes minutes at 10k letters). All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

IMR = "https://w3id.org/imr-kg/ontology#"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def measure(endpoint: str, query: str, requests: int, concurrency: int,
            budget: float) -> tuple[float, float, float, int]:
    """(requests per second, p50 ms, p95 ms, requests made) of up to `requests` GETs at
    `concurrency`; no new request starts after `budget` seconds (a slow server gets fewer)."""
    client = httpx.Client(timeout=600, headers={"accept": "application/sparql-results+json"})

    def one(_: int) -> float | None:
        if time.perf_counter() > deadline:
            return None
        started = time.perf_counter()
        r = client.get(endpoint, params={"query": query})
        r.raise_for_status()
        return time.perf_counter() - started

    deadline = float("inf")
    one(0)  # warm up
    started = time.perf_counter()
    deadline = started + budget
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(t for t in pool.map(one, range(requests)) if t is not None)
    wall = time.perf_counter() - started
    client.close()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return len(latencies) / wall, statistics.median(latencies) * 1000, p95 * 1000, len(latencies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store", type=Path)
    ap.add_argument("--oxigraph", default=shutil.which("oxigraph"))
    ap.add_argument("--no-rdflib-endpoint", dest="rdflib_endpoint", action="store_false",
                    default=importlib.util.find_spec("rdflib_endpoint") is not None)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--kg-workers", type=int, default=2, help="server processes of kg serve")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds per server, query and concurrency")
    ap.add_argument("--rounds", type=int, default=3, help="turns each server takes per query and concurrency")
    args = ap.parse_args()
    from kg.store import Store

    scratch = Path(tempfile.mkdtemp(prefix="kg-serve-bench-"))
    with Store(args.store, read_only=True) as store:
        letter = min(store.letter_ids())
        letters = store.letter_count()
        if args.rdflib_endpoint:
            with open(scratch / "all.nq", "wb") as out:
                store.dump(out, "nq")
    graph = f"https://w3id.org/imr-kg/id/graph/letter/{letter}"
    queries = {
        "point lookup": f"SELECT ?d ?o WHERE {{ GRAPH <{graph}> {{ ?d <{IMR}outcome> ?o }} }}",
        "aggregate": f"SELECT ?o (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?d <{IMR}outcome> ?o }} }} GROUP BY ?o",
    }
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    port = free_port()
    servers["kg serve"] = (subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", str(args.store),
                                             "--port", str(port), "--timeout", "60", "--workers", str(args.kg_workers)],
                                            stderr=subprocess.DEVNULL), f"http://127.0.0.1:{port}/sparql")
    if args.oxigraph:
        port = free_port()
        servers["oxigraph serve"] = (subprocess.Popen([args.oxigraph, "serve-read-only", "--location", str(args.store),
                                                       "--bind", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL),
                                     f"http://127.0.0.1:{port}/query")
    if args.rdflib_endpoint:
        port = free_port()
        app = Path(__file__).with_name("rdflib_endpoint_app.py")
        servers["rdflib-endpoint"] = (subprocess.Popen([sys.executable, str(app), str(scratch / "all.nq"), str(port)]),
                                      f"http://127.0.0.1:{port}/")
    try:
        for proc, url in servers.values():
            wait_up(url.rsplit("/", 1)[0] + "/", proc, seconds=1800)
        print(f"store: {args.store} ({letters} letters); {args.requests} requests per round, {args.rounds} rounds")
        print(f"{'server':16s} {'query':13s} {'conc':>4s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'n':>5s}")
        results = {}
        for qname, query in queries.items():
            for conc in (1, 8):
                n = args.requests if qname == "point lookup" else max(10, args.requests // 10)
                rounds: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in servers}
                for _ in range(args.rounds):  # the servers take turns, so drift in the machine hits all alike
                    for name, (_, url) in servers.items():
                        rounds[name].append(measure(url, query, n, conc, args.budget / args.rounds))
                for name, measured in rounds.items():
                    rps, p50, p95, made = sorted(measured)[len(measured) // 2]  # the median round by req/s
                    results[(name, qname, conc)] = rps
                    print(f"{name:16s} {qname:13s} {conc:4d} {rps:8.1f} {p50:8.1f} {p95:8.1f} {made:5d}")
        for baseline in [name for name in servers if name != "kg serve"]:
            for qname in queries:
                for conc in (1, 8):
                    ratio = results[("kg serve", qname, conc)] / results[(baseline, qname, conc)]
                    print(f"kg / {baseline} req/s, {qname}, concurrency {conc}: {ratio:.2f}")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
