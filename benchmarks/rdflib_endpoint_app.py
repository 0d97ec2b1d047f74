"""Serve an N-Quads file with rdflib-endpoint (rdflib's in-memory Dataset behind FastAPI), the
pure-Python baseline of benchmarks/serve_rate.py.

usage: python benchmarks/rdflib_endpoint_app.py QUADS.nq PORT
Needs the `bench` extra (`pip install -e '.[bench]'`). Binds 127.0.0.1 only; update is off.
"""

from __future__ import annotations

import sys
import time

import rdflib
import uvicorn
from rdflib_endpoint import SparqlEndpoint


def main() -> None:
    quads, port = sys.argv[1], int(sys.argv[2])
    started = time.perf_counter()
    dataset = rdflib.Dataset(default_union=True)
    dataset.parse(quads, format="nquads")
    print(f"rdflib-endpoint: {len(dataset)} quads loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    app = SparqlEndpoint(graph=dataset, cors_enabled=False, public_url=f"http://127.0.0.1:{port}/")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
