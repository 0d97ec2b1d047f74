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
