"""Shared fixtures: the fixture letters and a store built once from the bundled sample corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg.build import build
from kg.resources import samples_dir
from kg.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
LETTERS = FIXTURES / "letters"
GOLD = json.loads((FIXTURES / "gold_seen.json").read_text())["letters"]
ALL_LETTERS = sorted(LETTERS.glob("*.txt"))


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("store") / "kg-store")
    report = build([samples_dir()], store)
    assert report.ok, report.rejected
    return store


DIRECT = sorted((Path(__file__).parents[1] / "queries" / "direct").glob("*.rq"))  # aggregates over every decision


def same_as_direct(store: object) -> None:
    """The aggregate named queries (read from the tallies kept at build time) answer as the direct
    queries over every decision do, and the tables kept per letter equal their queries' rows."""
    from kg.queries import answering, load_query, named_query, table_rows
    from kg.tables import TABLES, columns

    for name in TABLES:
        assert (columns(name), list(store.table_rows(name))) == table_rows(store, named_query(name)), name  # type: ignore[attr-defined,arg-type]

    assert store.tallies_complete()  # type: ignore[attr-defined]
    for path in DIRECT:
        query = named_query(path.stem)
        assert answering(store, query).path.parent.name != "direct"  # type: ignore[arg-type]
        for params in [{}] + [{"party": "administrator"}] * any(p.name == "party" for p in query.parameters):
            direct = table_rows(store, load_query(path), params)  # type: ignore[arg-type]
            served = table_rows(store, query, params)  # type: ignore[arg-type]
            assert served == direct, (path.stem, params)
