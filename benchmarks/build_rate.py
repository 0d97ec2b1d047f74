"""Build rate of `kg build` against the store's own limit, measured in one run on the same letters.

usage: python benchmarks/build_rate.py [--copies N]   (N copies of the 28 sample letters)
Prints letters/s for the end-to-end build and for pyoxigraph.Store.bulk_load of the same quads,
and their ratio. Run on demand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

from kg.build import build
from kg.graph import letter_quads
from kg.parser import parse_file
from kg.resources import samples_dir
from kg.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i in range(args.copies):
            for src in sorted(samples_dir().glob("*.txt")):
                shutil.copy(src, corpus / f"{src.stem}-{i:04d}.txt")
        n = len(list(corpus.iterdir()))

        timings = {}
        for validate in (False, True):
            for jobs in sorted({1, args.jobs}):
                started = time.perf_counter()
                with Store(Path(tmp) / f"built-{validate}-{jobs}") as store:
                    report = build([corpus], store, jobs=jobs, validate=validate)
                timings[(validate, jobs)] = time.perf_counter() - started

        quads = [q for path in sorted(corpus.iterdir()) for q in letter_quads(parse_file(path))]
        nq = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
        started = time.perf_counter()
        ox.Store(str(Path(tmp) / "bulk")).bulk_load(io.BytesIO(nq), ox.RdfFormat.N_QUADS, lenient=True)
        bulk_s = time.perf_counter() - started

    print(f"letters: {n} ({report.accepted} accepted), quads: {len(quads)}")
    print(f"baseline Store.bulk_load of the same N-Quads:   {n / bulk_s:8.1f} letters/s")
    for (validate, jobs), seconds in timings.items():
        label = f"kg build, {'with' if validate else 'without'} SHACL, --jobs {jobs}:"
        print(f"{label:48s} {n / seconds:8.1f} letters/s  ({seconds / bulk_s:.1f}x the bulk_load time)")


if __name__ == "__main__":
    main()
