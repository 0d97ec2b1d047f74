"""SHACL validation rate of kg against pyshacl run the plain way, on the same letters in one run.

usage: python benchmarks/validate_rate.py [--copies N]   (N copies of the 28 sample letters)
Baseline: one pyshacl.validate call per letter, default settings, data parsed from N-Triples.
kg: letters converted term by term and validated in chunks of CHUNK_SIZE (one pyshacl call per
chunk), each result attributed to its letter; on 1 process and on 2 processes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pyoxigraph as ox
import pyshacl
import rdflib

from kg.graph import letter_quads
from kg.parallel import CHUNK_SIZE
from kg.parser import parse_text
from kg.resources import samples_dir
from kg.validate import shapes_graph, validate_quads


def corpus(copies: int) -> list[list[ox.Quad]]:
    texts = [(p.stem, p.read_text()) for p in sorted(samples_dir().glob("*.txt"))]
    return [letter_quads(parse_text(text, f"{stem}-{i:04d}", stem)) for i in range(copies) for stem, text in texts]


def plain(letters: list[list[ox.Quad]]) -> float:
    shapes = shapes_graph()
    started = time.perf_counter()
    for quads in letters:
        nt = ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES)
        conforms, _, _ = pyshacl.validate(rdflib.Graph().parse(data=nt, format="nt"), shacl_graph=shapes)
        assert conforms
    return time.perf_counter() - started


_CHUNKS: list[list[ox.Quad]] = []  # inherited by forked workers, so only indices cross processes


def _chunk(index: int) -> int:
    return len(validate_quads(_CHUNKS[index]).violations)


def chunked(letters: list[list[ox.Quad]], jobs: int) -> float:
    _CHUNKS[:] = [[q for qs in letters[i:i + CHUNK_SIZE] for q in qs] for i in range(0, len(letters), CHUNK_SIZE)]
    started = time.perf_counter()
    if jobs == 1:
        found = sum(map(_chunk, range(len(_CHUNKS))))
    else:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            found = sum(pool.map(_chunk, range(len(_CHUNKS))))
    assert found == 0
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=4)
    args = ap.parse_args()
    letters = corpus(args.copies)
    n = len(letters)
    base = plain(letters)
    one = chunked(letters, 1)
    two = chunked(letters, 2)
    print(f"letters: {n}, shapes: {len(set(shapes_graph().subjects(rdflib.RDF.type, rdflib.SH.PropertyShape)))} "
          f"property shapes, chunk: {CHUNK_SIZE}")
    print(f"baseline pyshacl, one call per letter:  {n / base:7.1f} letters/s")
    print(f"kg chunked, 1 process:                 {n / one:7.1f} letters/s  ({base / one:.1f}x baseline)")
    print(f"kg chunked, 2 processes:               {n / two:7.1f} letters/s  ({base / two:.1f}x baseline)")


if __name__ == "__main__":
    main()
