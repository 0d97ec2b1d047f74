"""Smoke test of the corpus generator at a small size: build it, reject exactly its bad inputs, and
score the tables against its truth."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from kg import text_index
from kg.answer import table_rows
from kg.build import build
from kg.queries import named_query
from kg.store import Store

ROOT = Path(__file__).parents[1]


def test_generated_corpus_builds_and_scores(tmp_path):
    out = tmp_path / "corpus"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_corpus.py"), "--letters", "80", "--seed", "7",
                    "--bad-share", "0.05", str(out)], check=True, capture_output=True)
    truth = json.loads((out / "truth.json").read_text())
    again = tmp_path / "again"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_corpus.py"), "--letters", "80", "--seed", "7",
                    "--bad-share", "0.05", str(again)], check=True, capture_output=True)
    assert (again / "truth.json").read_text() == (out / "truth.json").read_text()  # deterministic for a seed

    with Store(tmp_path / "store") as store:
        report = build([out / "letters"], store, jobs=2)
        assert sorted(Path(r.name).stem for r in report.rejected) == sorted(truth["rejected"])
        assert report.accepted == len(truth["letters"])
        columns, rows = table_rows(store, named_query("decisions"))
        _, cases = table_rows(store, named_query("cases"))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[0]] = counts.get(row[0], 0) + 1
    assert counts == {lid: len(t["decisions"]) for lid, t in truth["letters"].items()}

    scorer = ROOT.parent / "shared" / "tools" / "score_extraction.py"
    if scorer.exists():
        for name, cols, data in (("d", columns, rows), ("c", None, cases)):
            header = cols or ["letter", "case_number", "decision_date", "age", "sex", "injury_date",
                              "reviewer_specialties", "reviewer_states", "ur_date", "decisions", "diagnoses"]
            from kg.results import to_csv
            (tmp_path / f"{name}.csv").write_text(to_csv(header, data))
        result = subprocess.run([sys.executable, str(scorer), str(out / "truth.json"), str(tmp_path / "d.csv"),
                                 str(tmp_path / "c.csv"), "--min", "0.995"], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-3000:]


def test_benchmark_runner_smoke(tmp_path):
    """benchmarks/run.py end to end on a tiny corpus: every figure line is printed."""
    oxigraph = Path(sys.executable).with_name("oxigraph")  # the pip package, from the test extra
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--letters", "30", "--changed", "3",
                          "--oxigraph", str(oxigraph), "--keep", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "letters/s, peak RSS" in out.stdout and "baseline Store.bulk_load" in out.stdout
    largest, together = map(int, re.search(r"peak RSS (\d+) MiB \(all its processes together: (\d+) MiB\)",
                                            out.stdout).groups())  # type: ignore[union-attr]
    assert together > 100 and together + 50 > largest  # the writer and two parser processes, sampled
    assert out.stdout.count("; compacted the store in") == 1  # the first build compacts, the rebuild of 3 not
    assert "incremental rebuild with 3 changed" in out.stdout and "kg table / kg query, whole command" in out.stdout
    assert "decisions -f tsv " in out.stdout
    assert "kept-row indexes made again from every letter's rows (an index format upgrade): " in out.stdout
    assert "uphold-rate-by-medication" in out.stdout
    searched = re.search(r"\nmedically necessary +(\d+|no index) +([\d.]+) +([\d.]+)\n", out.stdout)
    assert searched, out.stdout  # every decision holds it: found both ways
    assert searched[1] == "no index" if not text_index.available() else int(searched[1]) > 28
    assert "text index made whole again from the store" in out.stdout
    exact = re.search(r"diagnoses exactly the truth's .*: (\d+) of (\d+) cases", out.stdout)
    assert exact and exact[1] == exact[2] and int(exact[2]) >= 28, out.stdout  # every good letter's, no more
    built = re.search(r"kg build into oxigraph serve: +([\d.]+) letters/s, peak RSS (\d+) MiB \(([\d.]+)x the "
                      r"embedded build's time; letters read: 30, accepted: (\d+)", out.stdout)
    assert built and float(built[1]) > 0 and int(built[4]) >= 28, out.stdout  # a few bad inputs are rejected


def test_serving_benchmark_smoke(closed_sample_store):
    """benchmarks/serve_rate.py against `oxigraph serve-read-only` on the sample store: every cell
    and every ratio is printed."""
    oxigraph = Path(sys.executable).with_name("oxigraph")  # the pip package, from the test extra
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve_rate.py"), str(closed_sample_store),
                          "--oxigraph", str(oxigraph), "--no-rdflib-endpoint", "--requests", "20", "--budget", "2",
                          "--rounds", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "store: " in out.stdout and "(28 letters)" in out.stdout
    for query in ("point lookup", "aggregate"):
        for conc in (1, 8):
            assert f"kg / oxigraph serve req/s, {query}, concurrency {conc}: " in out.stdout
