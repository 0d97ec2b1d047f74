"""Shared fixtures: the fixture letters and a store built once from the bundled sample corpus."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kg.build import build
from kg.resources import samples_dir
from kg.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
LETTERS = FIXTURES / "letters"
GOLD = json.loads((FIXTURES / "gold_seen.json").read_text())["letters"]
ALL_LETTERS = sorted(LETTERS.glob("*.txt"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_kg_serve(store: str | Path, *extra: str, env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen]:
    """`kg serve` of a store on a free port, once it answers /health: its base URL and process."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", str(store), "--port", str(port),
                             *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return base, proc
        except httpx.HTTPError:
            time.sleep(0.25)
    proc.kill()
    raise AssertionError("kg serve did not start")


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("store") / "kg-store")
    report = build([samples_dir()], store)
    assert report.ok, report.rejected
    return store


@pytest.fixture(scope="session")
def closed_sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample letters in a store that no writer holds open, for read-only handles in this or
    other processes (a writer's compactions would delete files under them)."""
    path = tmp_path_factory.mktemp("closed") / "kg-store"
    with Store(path) as store:
        assert build([samples_dir()], store).ok
    return path


DIRECT = sorted((Path(__file__).parents[1] / "queries" / "direct").glob("*.rq"))  # aggregates over every decision


def same_as_direct(store: object) -> None:
    """The aggregate named queries (read from the tallies kept at build time) answer as the direct
    queries over every decision do, and the per-letter queries (answered from the rows each letter
    kept) as the same queries over the whole store do: same typed terms, same order."""
    import pyoxigraph as ox

    from kg import iris, kept, kept_index
    from kg.answer import answering, run, table_rows
    from kg.kept_index import csv_lines
    from kg.queries import cell, load_query, named_query, select_result
    from kg.results import csv_result, json_result, render, sparql_json

    assert set(kept.kept_queries()) == {"decisions", "cases", "guideline-disagreements", "time-injury-to-review",
                                        "decisions-for-medication", "cases-with-diagnosis"}
    for name, query in kept.kept_queries().items():
        if kept.by_value(name):
            continue
        direct = select_result(query, store.query(query.sparql))  # type: ignore[attr-defined]
        assert run(store, query) == direct, name  # type: ignore[arg-type]
        table = store.kept(name)  # type: ignore[attr-defined]
        cells = [[cell(t) for t in row] for row in direct.rows]
        assert (kept.columns(name), list(table.cells())) == (direct.columns, cells), name
        assert table.csv() == store.kept_csv(name) == csv_lines(cells), name  # type: ignore[attr-defined]
        assert "".join(json_result(store, query)) == sparql_json(direct), name  # type: ignore[arg-type]
        for delimiter, fmt in ((",", "csv"), ("\t", "tsv")):
            assert csv_result(store, query, {}, delimiter) == render(direct, fmt), (name, fmt)  # type: ignore[arg-type]
        assert "".join(table.bindings()) == "".join(store.kept_bindings(name)), name  # type: ignore[attr-defined]
        if isinstance(store, Store):  # a local store answers from its index of every letter's rows
            assert all(store._kept_whole(name, form) is not None for form in kept_index.FORMS), name
    medications, labels = _kept_by_value_same_as_direct(store)
    if isinstance(store, Store):
        assert store.kept_by_value("decisions-for-medication", ox.Literal(medications[0])) is not None
        assert set(store.kept_values("cases-with-diagnosis") or ()) == {kept.value_key(ox.Literal(x)) for x in labels}
        # the index of decision counts GraphQL pages by: the decisions each letter graph holds
        from kg.store import DECISION_COUNTS

        counted = store.query("SELECT ?g (COUNT(?d) AS ?n) WHERE { GRAPH ?g { "
                              "?l <https://w3id.org/imr-kg/ontology#hasDecision> ?d } } GROUP BY ?g")
        assert store._index(DECISION_COUNTS) is not None
        assert store.letter_decision_counts() == {
            iris.letter_graph_id(s["g"]): int(s["n"].value) for s in counted}  # type: ignore[index,union-attr]

    assert store.tallies_complete()  # type: ignore[attr-defined]
    for path in DIRECT:
        query = named_query(path.stem)
        assert answering(store, query).path.parent.name != "direct"  # type: ignore[arg-type]
        for params in [{}] + [{"party": "administrator"}] * any(p.name == "party" for p in query.parameters):
            direct = table_rows(store, load_query(path), params)  # type: ignore[arg-type]
            served = table_rows(store, query, params)  # type: ignore[arg-type]
            assert served == direct, (path.stem, params)


def _kept_by_value_same_as_direct(store: object) -> tuple[list[str], list[str]]:
    """The queries kept by value answer as the queries over the whole store do; the medications and
    diagnosis labels they were asked about."""
    from kg.answer import run
    from kg.queries import named_query, select_result
    from kg.results import csv_result, json_result, render, sparql_json

    query = named_query("decisions-for-medication")  # kept by value: every medication, and one of none
    medications = [s["m"].value for s in store.query(  # type: ignore[attr-defined]
        "SELECT DISTINCT ?m WHERE { ?x a <https://w3id.org/imr-kg/ontology#Medication> ; "
        "<http://www.w3.org/2004/02/skos/core#prefLabel> ?m }")]
    for medication in [*medications, "no such medication"]:
        params = {"medication": medication}
        direct = select_result(query, store.query(query.sparql, substitutions=query.substitutions(params)))  # type: ignore[attr-defined]
        assert run(store, query, params) == direct, medication  # type: ignore[arg-type]
    # cases-by-diagnosis: from the kept rows of cases-with-diagnosis (by label) of the labels that
    # hold the words: each label, each word of one (in capitals: the words are lowercased), none
    labels = sorted({s["label"].value for s in store.query(  # type: ignore[attr-defined]
        "SELECT DISTINCT ?label WHERE { ?x a <https://w3id.org/imr-kg/ontology#Diagnosis> ; "
        "<https://w3id.org/imr-kg/ontology#label> ?label }")})
    words = {w.upper() for label in labels for w in label.split()}
    for query, values in [(named_query("cases-with-diagnosis"), [{"label": label} for label in labels]),
                          (named_query("cases-by-diagnosis"), [{"diagnosis": w} for w in [*labels, *words, "zz"]])]:
        for params in values:
            direct = select_result(query, store.query(query.sparql, substitutions=query.substitutions(params)))  # type: ignore[attr-defined]
            assert run(store, query, params) == direct, params  # type: ignore[arg-type]
            assert "".join(json_result(store, query, params)) == sparql_json(direct), params  # type: ignore[arg-type]
            for delimiter, fmt in ((",", "csv"), ("\t", "tsv")):
                assert csv_result(store, query, params, delimiter) == render(direct, fmt), (params, fmt)  # type: ignore[arg-type]
    return medications, labels
