"""Letter files and their hashes: a rebuild reads again only the files whose stat signature changed
since the last build, or that were written too close to it to tell (racily clean)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kg import sources
from kg.build import build
from kg.sources import KnownHashes, collect_inputs
from kg.store import Store

from .conftest import ALL_LETTERS


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The names of the files each build reads to hash, in order."""
    names: list[str] = []
    real = sources.source_hashes

    def spy(paths: list[str]) -> list[str | None]:
        names.extend(Path(p).name for p in paths)
        return real(paths)

    monkeypatch.setattr(sources, "source_hashes", spy)
    return names


def _folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for path in ALL_LETTERS[:count]:
        shutil.copy(path, folder)
    return folder


def test_a_rebuild_reads_only_the_files_whose_signature_changed(tmp_path, hashed, monkeypatch):
    monkeypatch.setattr(sources, "RACY_NS", 0)  # files written just before a build count as settled
    folder = _folder(tmp_path, 3)
    with Store(tmp_path / "s") as store:
        assert build([folder], store).accepted == 3 and len(hashed) == 3
        hashed.clear()
        again = build([folder], store)
        assert (again.accepted, again.unchanged, hashed) == (3, 3, [])
        edited = folder / ALL_LETTERS[1].name  # same size, one letter changed: only the times tell
        text = edited.read_text()
        edited.write_text(text.replace(" the ", " THE ", 1))
        assert edited.stat().st_size == len(text.encode())
        changed = build([folder], store)
        assert (changed.accepted, changed.unchanged, hashed) == (3, 2, [edited.name])


def test_files_written_just_before_the_hashes_were_saved_are_hashed_again(tmp_path, hashed):
    folder = _folder(tmp_path, 2)
    with Store(tmp_path / "s") as store:
        build([folder], store)
        hashed.clear()
        assert build([folder], store).unchanged == 2
        assert sorted(hashed) == sorted(p.name for p in ALL_LETTERS[:2])  # racy: written < 2 s before


def test_a_moved_corpus_is_hashed_again_and_its_letters_are_unchanged(tmp_path, hashed, monkeypatch):
    monkeypatch.setattr(sources, "RACY_NS", 0)
    folder = _folder(tmp_path, 2)
    with Store(tmp_path / "s") as store:
        build([folder], store)
        moved = folder.rename(tmp_path / "elsewhere")
        hashed.clear()
        again = build([moved], store)
        assert again.unchanged == 2 and len(hashed) == 2


def test_inputs_are_absolute_and_in_order(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 3)
    monkeypatch.chdir(tmp_path)
    files = collect_inputs([Path("in")])
    assert files == [str(p) for p in sorted(folder.iterdir())] and all(Path(f).is_absolute() for f in files)


signatures = st.tuples(*[st.integers(min_value=0, max_value=2**62)] * 4)


@given(st.dictionaries(st.text(min_size=1), st.tuples(signatures, st.text(alphabet="0123456789abcdef", min_size=64,
                                                                          max_size=64)), max_size=5))
def test_known_hashes_round_trip(files):
    decoded = KnownHashes.decode(KnownHashes(files).encode())
    assert decoded.files == files and decoded.saved_ns > 0


def test_a_signature_is_trusted_only_well_before_the_hashes_were_saved():
    saved = 10 * sources.RACY_NS
    known = KnownHashes({"/a": ((5, 1, 1, 7), "h")}, saved)
    assert known.lookup("/a", (5, 1, 1, 7)) == "h"
    assert known.lookup("/a", (5, 1, 2, 7)) is None  # changed (ctime)
    late = (5, saved - sources.RACY_NS, 1, 7)
    assert KnownHashes({"/a": (late, "h")}, saved).lookup("/a", late) is None
