"""End to end through the store and the `kg` command: tables, dumps, evidence, rebuilds, failures."""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from typer.testing import CliRunner

from kg import iris
from kg.answer import table_rows
from kg.build import build
from kg.cli import app
from kg.graph import letter_quads
from kg.parser import parse_file
from kg.parser.text import LetterError, letter_text
from kg.queries import named_query
from kg.store import DUMP_FORMATS, EXTRACTION_KEY, FILE_HASHES, KEY_INDEX, TEXT_INDEX_STAMP, WRITING_MARK, Store

from .conftest import ALL_LETTERS, FIXTURES, LETTERS

runner = CliRunner()
DECISION_COLUMNS = ["letter", "item", "outcome", "medications", "strength_mg", "quantity", "refills",
                    "reviewer_guidelines", "reviewer_pages", "administrator_guidelines", "administrator_pages"]
CASE_COLUMNS = ["letter", "case_number", "decision_date", "age", "sex", "injury_date",
                "reviewer_specialties", "reviewer_states", "ur_date", "decisions", "diagnoses"]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def gold_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gold") / "store"
    result = runner.invoke(app, ["build", *map(str, sorted(LETTERS.glob("0*.txt"))), "--store", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_decisions_table_exact(gold_store):
    result = runner.invoke(app, ["table", "decisions", "--store", str(gold_store)])
    assert result.exit_code == 0
    rows = _csv(result.stdout)
    assert list(rows[0]) == DECISION_COLUMNS
    assert len(rows) == 9
    assert rows[0] == {
        "letter": "000_ed7318db5454d5ef", "item": "Soma tablets 350mg", "outcome": "Upheld",
        "medications": "carisoprodol", "strength_mg": "350", "quantity": "", "refills": "",
        "reviewer_guidelines": "MTUS-CPMTG", "reviewer_pages": "29;65",
        "administrator_guidelines": "MTUS-CPMTG", "administrator_pages": "29"}
    compound = rows[7]
    assert compound["medications"] == "amitriptyline;baclofen;bupivacaine;dexamethasone;flurbiprofen;gabapentin"
    assert compound["quantity"] == "1"
    assert rows[6]["reviewer_pages"] == "29;47;48;49;63;64;65"
    assert rows[6]["reviewer_guidelines"] == "MTUS-ACOEM;MTUS-CPMTG"


def test_cases_table_exact(gold_store):
    rows = _csv(runner.invoke(app, ["table", "cases", "--store", str(gold_store)]).stdout)
    assert list(rows[0]) == CASE_COLUMNS
    assert [r["letter"] for r in rows] == ["000_ed7318db5454d5ef", "001_31f77f8318a90c33",
                                           "002_d7e3603ed8b34fa0", "004_cb07c567c7678ea3"]
    assert rows[1] | {"diagnoses": ""} == {
        "letter": "001_31f77f8318a90c33", "case_number": "", "decision_date": "", "age": "68",
        "sex": "male", "injury_date": "2011-06-13", "reviewer_specialties": "Anesthesiology;Pain Medicine",
        "reviewer_states": "CT", "ur_date": "2014-05-29", "decisions": "1", "diagnoses": ""}
    assert rows[2]["reviewer_states"] == "CA;OH;PA"
    assert rows[3]["ur_date"] == ""


def test_cover_fields_in_cases_table(sample_store):
    _, rows = table_rows(sample_store, named_query("cases"))
    by_letter = {r[0]: r for r in rows}
    row = by_letter["CM17-0003284"]
    assert row[1:4] == ["CM17-0003284", "2017-02-10", "32"]
    assert row[8] == "2016-12-09"  # the cover's UR denial date


def test_shared_scorer_on_gold_letters(gold_store, tmp_path):
    scorer = Path(__file__).parents[2] / "shared" / "tools" / "score_extraction.py"
    if not scorer.exists():
        pytest.skip("../shared is not beside this checkout")
    for name in ("decisions", "cases"):
        (tmp_path / f"{name}.csv").write_text(runner.invoke(app, ["table", name, "--store", str(gold_store)]).stdout)
    out = subprocess.run([sys.executable, str(scorer), str(FIXTURES / "gold_seen.json"),
                          str(tmp_path / "decisions.csv"), str(tmp_path / "cases.csv")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    assert "seen letters 100.0%" in out.stdout


def test_every_evidence_slices_its_letter(sample_store):
    q = """PREFIX imr: <https://w3id.org/imr-kg/ontology#> PREFIX oa: <http://www.w3.org/ns/oa#>
           SELECT ?text ?s ?e ?exact WHERE { ?ev imr:inLetter ?l ; oa:start ?s ; oa:end ?e ; oa:exact ?exact .
           ?l imr:text ?text }"""
    n = 0
    for row in sample_store.query(q):
        assert row["text"].value[int(row["s"].value):int(row["e"].value)] == row["exact"].value
        n += 1
    total = next(iter(sample_store.query(
        "SELECT (COUNT(?ev) AS ?n) WHERE { ?ev a <https://w3id.org/imr-kg/ontology#Evidence> }")))["n"]
    assert n == int(total.value) > 900


def test_every_decision_has_evidenced_outcome(sample_store):
    q = """PREFIX imr: <https://w3id.org/imr-kg/ontology#>
           SELECT (COUNT(?d) AS ?n) WHERE { ?d a imr:Decision . FILTER NOT EXISTS {
             ?d imr:evidence ?ev . ?ev imr:supports imr:outcome } }"""
    assert next(iter(sample_store.query(q)))["n"].value == "0"


@pytest.mark.parametrize("fmt", list(DUMP_FORMATS))
def test_dump_round_trips_through_two_parsers(gold_store, tmp_path, fmt):
    out = tmp_path / f"dump.{fmt}"
    result = runner.invoke(app, ["dump", "--format", fmt, "-o", str(out), "--store", str(gold_store)])
    assert result.exit_code == 0, result.output
    rdflib_format = {"ttl": "turtle", "nt": "nt", "nq": "nquads", "trig": "trig", "jsonld": "json-ld"}[fmt]
    if fmt in ("nq", "trig"):
        ds = rdflib.Dataset()
        ds.parse(out, format=rdflib_format)
        rdflib_count = sum(len(g) for g in ds.graphs())
        ox_count = len(list(ox.parse(path=str(out), format=DUMP_FORMATS[fmt])))
        assert rdflib_count == ox_count == Store(gold_store, read_only=True).count_quads()
        named = {str(g.identifier) for g in ds.graphs()}
        assert iris.letter_graph("000_ed7318db5454d5ef").value in named
    else:
        g = rdflib.Graph().parse(out, format=rdflib_format)
        ox_count = len(set(ox.parse(path=str(out), format=DUMP_FORMATS[fmt])))
        assert len(g) == ox_count > 1000


def test_rebuild_is_idempotent_and_replaces_changed_letters(tmp_path):
    store = Store(tmp_path / "s")
    first = build([LETTERS / "001_31f77f8318a90c33.txt"], store)
    count = store.count_quads()
    again = build([LETTERS / "001_31f77f8318a90c33.txt"], store)
    assert (first.accepted, again.unchanged, store.count_quads()) == (1, 1, count)
    changed = tmp_path / "001_31f77f8318a90c33.txt"
    changed.write_text((LETTERS / changed.name).read_text().replace("68-year-old", "69-year-old"))
    report = build([changed], store)
    assert report.unchanged == 0
    ages = [r["a"].value for r in store.query(
        "SELECT ?a WHERE { ?w <https://w3id.org/imr-kg/ontology#age> ?a }")]
    assert ages == ["69"]
    assert store.count_quads() == count


def test_the_parser_processes_have_exited_and_the_store_is_reopened_before_the_indexes_are_made(tmp_path,
                                                                                                monkeypatch):
    import multiprocessing

    from kg import kept_index

    events: list[object] = []
    save, release = kept_index.Indexes.save, Store.release_memory

    def counting(self: kept_index.Indexes) -> None:
        events.append(len(multiprocessing.active_children()))
        save(self)

    def releasing(self: Store) -> None:
        events.append("release")
        release(self)

    monkeypatch.setattr(kept_index.Indexes, "save", counting)
    monkeypatch.setattr(Store, "release_memory", releasing)
    report = build([LETTERS], Store(tmp_path / "s"), jobs=2)
    assert report.accepted == 28
    assert events[-2:] == ["release", 0]  # the last save makes the indexes, at the end of the write


def test_the_build_frees_its_letter_by_letter_bookkeeping_before_the_indexes_are_made(tmp_path, monkeypatch):
    """The build's entry per letter (hashes, keys, names: ~140 MB at 100k letters) would otherwise
    add to the peak, which is reached while the indexes are made."""
    import weakref

    from kg import build as build_module
    from kg import kept_index

    known: list[weakref.ref[object]] = []
    alive_at_save: list[bool] = []
    make_known, save = build_module._Known, kept_index.Indexes.save

    def tracked(*args: object) -> object:
        made = make_known(*args)  # type: ignore[arg-type]
        known.append(weakref.ref(made))
        return made

    def saving(self: kept_index.Indexes) -> None:
        alive_at_save.append(known[-1]() is not None)
        save(self)

    monkeypatch.setattr(build_module, "_Known", tracked)
    monkeypatch.setattr(kept_index.Indexes, "save", saving)
    report = build([LETTERS], Store(tmp_path / "s"))
    assert (report.accepted, report.store_letters) == (28, 28)
    assert alive_at_save[-1] is False


def test_a_write_that_reopens_the_store_at_every_letter_and_index_gives_the_same_store(tmp_path, monkeypatch):
    from kg import build as build_module
    from kg import store as store_module

    reference, store = Store(tmp_path / "reference"), Store(tmp_path / "s")
    for s in (reference, store):  # chunks are written (and the store reopened) while letters are read
        s._kept_indexes._chunk_letters = 2
    build([LETTERS], reference, validate=False)
    reopened: list[int] = []
    release = Store.release_memory

    def releasing(self: Store) -> None:
        reopened.append(1)
        release(self)

    monkeypatch.setattr(store_module, "FLUSH_EVERY", 1)
    monkeypatch.setattr(store_module, "FLUSH_INDEX_BYTES", 1)  # also while the indexes are made
    monkeypatch.setattr(build_module, "BATCH_SIZE", 3)
    monkeypatch.setattr(Store, "release_memory", releasing)
    assert build([LETTERS], store, validate=False).accepted == 28
    assert len(reopened) > 100  # 10 batches, and each index chunk the letters' kept rows make
    assert len(list((tmp_path / "s").glob("LOG.old.*"))) == 10  # RocksDB leaves one at each opening
    def unstamped(s: Store) -> set[ox.Quad]:  # the file hashes also hold the time they were saved
        return {q for q in s.quads() if q.predicate not in (FILE_HASHES, TEXT_INDEX_STAMP)}

    assert unstamped(store) == unstamped(reference)
    for name in ("decisions", "cases"):
        assert store.kept_csv(name) == reference.kept_csv(name)
        assert store._kept_whole(name, "csv") is not None  # from the index made between reopenings


def test_a_store_is_not_reopened_under_a_live_reader_and_a_read_only_one_reopens_read_only(tmp_path):
    store = Store(tmp_path / "s")
    build([LETTERS / "000_ed7318db5454d5ef.txt"], store, validate=False)
    reader = store._store.quads_for_pattern(None, None, None, None)
    with pytest.raises(RuntimeError, match=r"could not open the store at .* again: .*lock"):
        store.release_memory()
    del reader
    store = Store(tmp_path / "s", read_only=True)
    assert store.letter_ids() == ["000_ed7318db5454d5ef"]
    with Store(tmp_path / "s") as writer:  # a read-only handle sees the store as it was when opened
        build([LETTERS / "001_31f77f8318a90c33.txt"], writer, validate=False)
    # (reading it now could fail: the write's compactions may have removed files it has not opened)
    store.release_memory()  # opened again: read-only, and seeing the letter written since
    assert store.letter_ids() == ["000_ed7318db5454d5ef", "001_31f77f8318a90c33"]
    with pytest.raises(RuntimeError, match="read-write"):
        store._store.add(ox.Quad(iris.letter("x"), iris.letter("y"), iris.letter("z")))


def test_build_rejects_bad_files_and_builds_the_rest(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(LETTERS / "000_ed7318db5454d5ef.txt", folder)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "junk.pdf").write_bytes(b"%PDF-1.4 not really")
    result = runner.invoke(app, ["build", str(folder), "--store", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "rejected empty.txt: empty file" in result.stderr
    assert "rejected junk.pdf: unreadable PDF" in result.stderr
    assert "accepted: 1" in result.stderr
    stats = runner.invoke(app, ["stats", "--store", str(tmp_path / "s")])
    assert "letters: 1" in stats.stdout and "Upheld: 2" in stats.stdout


def test_usage_errors_exit_2(tmp_path):
    assert runner.invoke(app, ["build", str(tmp_path / "missing"), "--store", str(tmp_path / "s")]).exit_code == 2
    assert runner.invoke(app, ["table", "nonsense", "--store", str(tmp_path / "s")]).exit_code == 2
    assert runner.invoke(app, ["stats", "--store", str(tmp_path / "none")]).exit_code == 2


def test_a_damaged_pdf_is_rejected_with_pypdfs_warnings_and_prints_nothing_else(capfd):
    cut = (FIXTURES / "pdf" / "CM17-0003284.pdf").read_bytes()[:500]
    with pytest.raises(LetterError, match=r"^cut\.pdf: unreadable PDF \(.*; EOF marker not found\)$"):
        letter_text(cut, "cut.pdf")
    assert capfd.readouterr().err == ""  # pypdf's warning went into the error, not on its own to stderr


def test_a_pdf_without_text_is_rejected_as_such():
    from pypdf import PdfWriter

    blank = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_blank_page(612, 792)
    writer.write(blank)
    with pytest.raises(LetterError, match=r"^scan\.pdf: no text in the PDF's 2 page\(s\) \(a scan\?"):
        letter_text(blank.getvalue(), "scan.pdf")


def test_pdf_letters_give_the_same_facts_as_their_text(tmp_path):
    pdf = parse_file(FIXTURES / "pdf" / "CM17-0003284.pdf")
    txt = parse_file(LETTERS / "CM17-0003284.txt")
    assert pdf.text == txt.text
    assert [d.item.value for d in pdf.decisions] == [d.item.value for d in txt.decisions]


@pytest.mark.parametrize("command", [c.name or c.callback.__name__ for c in app.registered_commands])
def test_every_command_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.stdout.strip()) > 40


def test_the_command_list_gives_each_summary_as_one_paragraph():
    """A docstring's line breaks are the source's, not the reader's: `kg --help` reflows them."""
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Exit 0 if every letter was accepted, 1 if any was rejected, 2 on a usage error." in result.stdout


def test_interrupted_build_leaves_whole_letters(tmp_path):
    """Kill `kg build` mid-way: after the repair the next build starts with, every letter in the
    store has all of its quads and the rest are absent."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):
        for src in ALL_LETTERS:
            shutil.copy(src, corpus / f"{src.stem}-{i:03d}.txt")
    store_dir = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "kg.cli", "build", str(corpus), "--store", str(store_dir),
                             "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not (store_dir / "CURRENT").exists():
        time.sleep(0.05)
    time.sleep(2.5)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert workers and not any(Path(f"/proc/{pid}").exists() for pid in workers), "the pool outlived kg build"
    store = Store(store_dir)
    store.repair()
    present = store.letter_hashes()
    assert len(present) < 40 * len(ALL_LETTERS), "build finished before it was killed; grow the corpus"
    listed = {q.subject.value for q in store._store.quads_for_pattern(None, None, None, iris.MANIFEST_GRAPH)}
    assert {iris.letter_graph(letter_id).value for letter_id in present} <= listed
    for letter_id in list(present)[:60]:
        path = corpus / f"{letter_id}.txt"
        want = len(letter_quads(parse_file(path)))
        got = len(list(store._store.quads_for_pattern(None, None, None, iris.letter_graph(letter_id))))
        assert got == want, letter_id


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _partial_letter(store: Store, letter_id: str) -> None:
    """What a build killed inside a bulk write leaves: some of a letter's quads, no manifest entry,
    and the mark of a write in progress."""
    quads = letter_quads(parse_file(LETTERS / "000_ed7318db5454d5ef.txt"))
    graph = iris.letter_graph(letter_id)
    store._store.extend([ox.Quad(q.subject, q.predicate, q.object, graph) for q in quads[:40]] + [WRITING_MARK])


def test_a_build_drops_the_incomplete_letters_of_an_interrupted_one(tmp_path):
    store_dir = tmp_path / "s"
    assert runner.invoke(app, ["build", str(LETTERS / "001_31f77f8318a90c33.txt"), "--store", str(store_dir)]
                         ).exit_code == 0
    with Store(store_dir) as store:
        _partial_letter(store, "ZZ-partial")
    again = runner.invoke(app, ["build", str(LETTERS / "001_31f77f8318a90c33.txt"), "--store", str(store_dir)])
    assert "dropped 1 incomplete letter of an interrupted build: ZZ-partial" in again.stderr
    with Store(store_dir) as store:
        assert not store._store.contains_named_graph(iris.letter_graph("ZZ-partial"))
        assert store.letter_ids() == ["001_31f77f8318a90c33"]


def test_a_store_from_before_the_manifest_keeps_its_letters(tmp_path):
    """Stores written before the manifest (one transaction per batch) have whole letters: they are
    listed. Their extraction keys and their graphs' digests are unknown, so the next build reads them
    again and rewrites them; the one after it reads none."""
    letters = [LETTERS / "001_31f77f8318a90c33.txt", LETTERS / "000_ed7318db5454d5ef.txt"]
    with Store(tmp_path / "s") as store:
        first = build(letters, store)
        assert first.ok
        hashes, keys = store.letter_hashes(), store.extraction_keys()
        store._store.remove_graph(iris.MANIFEST_GRAPH)
        assert store.repair() == []
        assert store.letter_hashes() == hashes
        assert store.letter_hashes()["000_ed7318db5454d5ef"] == \
            "e0db880ee7f0b5bc9fe388e20c26ba866cc84d0f6e4f6011caa6028100ac9597"
        listed = list(store._store.quads_for_pattern(None, None, None, iris.MANIFEST_GRAPH))
        assert len(listed) == 5  # the label of the manifest; per letter its graph and its hash
        for q in listed:  # a manifest of the first kind, without the hashes, gets them
            if q.predicate.value.endswith("sha256"):
                store._store.remove(q)
        assert store.letter_hashes() == {} and store.repair() == []
        assert store.letter_hashes() == hashes and store.extraction_keys() == {}
        again = build(letters, store)
        assert (again.unchanged, again.rewritten, store.extraction_keys()) == (0, 2, keys)
        assert again.triples == first.triples == 573
        last = build(letters, store)
        assert (last.read, last.unchanged, last.rewritten, last.triples) == (2, 2, 0, 0)
        _partial_letter(store, "ZZ-partial")
        assert store.repair() == ["ZZ-partial"]
        assert store.repair() == []  # the mark is gone once repaired


def test_remove_letters_and_incremental_skip(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("000_ed7318db5454d5ef.txt", "001_31f77f8318a90c33.txt"):
        shutil.copy(LETTERS / name, folder)
    store = tmp_path / "s"
    first = runner.invoke(app, ["build", str(folder), "--store", str(store)])
    again = runner.invoke(app, ["build", str(folder), "--store", str(store)])
    assert "accepted: 2 (2 unchanged)" in again.stderr and first.exit_code == again.exit_code == 0
    removed = runner.invoke(app, ["remove", "001_31f77f8318a90c33", "nope", "--store", str(store)])
    assert removed.exit_code == 1 and "not in the store: nope" in removed.stderr
    assert "letters: 1" in runner.invoke(app, ["stats", "--store", str(store)]).stdout
    rebuilt = runner.invoke(app, ["build", str(folder), "--store", str(store)])
    assert "accepted: 2 (1 unchanged)" in rebuilt.stderr


def test_letters_loaded_unchecked_are_checked_by_the_next_checked_build(tmp_path):
    letter, store = str(LETTERS / "CM17-0003284.txt"), str(tmp_path / "s")
    unchecked = runner.invoke(app, ["build", letter, "--store", store, "--no-validate"])
    assert "accepted: 1 (0 unchanged)" in unchecked.stderr
    checked = runner.invoke(app, ["build", letter, "--store", store])
    assert "accepted: 1 (1 unchanged)" in checked.stderr and "decisions in the letters parsed: 5," in checked.stderr
    again = runner.invoke(app, ["build", letter, "--store", store])
    assert "decisions in the letters parsed: 0," in again.stderr  # not read: checked by the last build


def test_letters_checked_by_a_build_are_not_read_again_by_an_unchecked_one(tmp_path):
    letter, store = str(LETTERS / "CM17-0003284.txt"), str(tmp_path / "s")
    checked = runner.invoke(app, ["build", letter, "--store", store])
    assert "accepted: 1 (0 unchanged)" in checked.stderr
    unchecked = runner.invoke(app, ["build", letter, "--store", store, "--no-validate"])
    assert "accepted: 1 (1 unchanged)" in unchecked.stderr and "decisions in the letters parsed: 0," in unchecked.stderr
    again = runner.invoke(app, ["build", letter, "--store", store])  # still listed as checked: not read
    assert "accepted: 1 (1 unchanged)" in again.stderr and "decisions in the letters parsed: 0," in again.stderr


def test_build_without_a_terminal_prints_progress_lines(tmp_path):
    from kg.cli import _progress_lines

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        from rich.console import Console

        mp.setattr("kg.cli.err", Console(file=err, width=200))
        advance = _progress_lines(total=25, every=10)
        for _ in range(25):
            advance("x.txt")
    lines = err.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["10/25 letters read", "20/25 letters read"]


def test_a_build_leaves_a_key_index_that_any_later_write_drops(tmp_path):
    """The extraction keys are read from one literal the last build left (4 s -> 0.1 s at 100k
    letters); `kg remove` (or a failed build) drops it, and the keys are then read entry by entry."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("000_ed7318db5454d5ef.txt", "001_31f77f8318a90c33.txt"):
        shutil.copy(LETTERS / name, folder)
    store_dir = str(tmp_path / "s")

    def index_and_keys() -> tuple[bool, dict[str, str], dict[str, str]]:
        with Store(store_dir) as store:
            present = next(store._store.quads_for_pattern(iris.MANIFEST_GRAPH, KEY_INDEX, None), None) is not None
            from_entries = {iris.letter_id(q.subject): q.object.value for q in store._store.quads_for_pattern(
                None, EXTRACTION_KEY, None, iris.MANIFEST_GRAPH)}
            return present, store.extraction_keys(), from_entries

    assert runner.invoke(app, ["build", str(folder), "--store", store_dir]).exit_code == 0
    present, keys, entries = index_and_keys()
    assert present and keys == entries and len(keys) == 2
    changed = folder / "001_31f77f8318a90c33.txt"
    changed.write_text(changed.read_text().replace("records", "notes", 1))
    assert runner.invoke(app, ["build", str(folder), "--store", store_dir]).exit_code == 0
    present, new_keys, entries = index_and_keys()
    assert present and new_keys == entries and new_keys["001_31f77f8318a90c33"] != keys["001_31f77f8318a90c33"]
    assert runner.invoke(app, ["remove", "000_ed7318db5454d5ef", "--store", store_dir]).exit_code == 0
    present, keys, entries = index_and_keys()
    assert not present and keys == entries == {"001_31f77f8318a90c33": new_keys["001_31f77f8318a90c33"]}


def test_the_progress_bar_counts_every_letter_in_steps():
    """`kg build` on a terminal advances its bar at most every 0.1 s, not once per letter (rich takes
    ~5 us a call), and shows every letter once the build is done."""
    from rich.progress import Progress

    from kg.cli import _BarSteps

    with Progress(disable=True) as progress:
        task = progress.add_task("parsing letters", total=1000)
        bar = _BarSteps(progress, task)
        for _ in range(1000):
            bar("letter.txt")
        assert progress.tasks[0].completed < 1000
        bar.flush()
        assert progress.tasks[0].completed == 1000


def test_a_build_that_rewrote_most_letters_compacts_the_store(tmp_path, monkeypatch):
    """A first build (every letter new) compacts the store; a rebuild with one letter of three
    changed does not; `--no-optimize` skips it; `kg optimize` compacts on demand."""
    compacted: list[Path] = []
    real = Store.optimize
    monkeypatch.setattr(Store, "optimize", lambda self: (compacted.append(self.path), real(self))[1])
    folder, store = tmp_path / "in", tmp_path / "s"
    folder.mkdir()
    for name in ("000_ed7318db5454d5ef.txt", "001_31f77f8318a90c33.txt", "002_d7e3603ed8b34fa0.txt"):
        shutil.copy(LETTERS / name, folder)
    first = runner.invoke(app, ["build", str(folder), "--store", str(store)])
    assert "this build rewrote 3 of its 3 letters" in first.stderr and "compacted the store in" in first.stderr
    assert compacted == [store]
    changed = folder / "001_31f77f8318a90c33.txt"
    changed.write_text(changed.read_text() + "\n")
    again = runner.invoke(app, ["build", str(folder), "--store", str(store)])
    assert "accepted: 3 (2 unchanged)" in again.stderr and "compact" not in again.stderr
    assert compacted == [store]
    other = tmp_path / "s2"
    skipped = runner.invoke(app, ["build", str(folder), "--store", str(other), "--no-optimize"])
    assert skipped.exit_code == 0 and "compact" not in skipped.stderr and compacted == [store]
    on_demand = runner.invoke(app, ["optimize", "--store", str(other)])
    assert on_demand.exit_code == 0 and "compacted the store in" in on_demand.stderr
    assert compacted == [store, other]
    assert "letters: 3" in runner.invoke(app, ["stats", "--store", str(other)]).stdout
    missing = runner.invoke(app, ["optimize", "--store", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and not (tmp_path / "nothing").exists()


MODULE = '''"""A module."""

RATE = 1  # a comment


class Rows:
    """Rows."""

    def count(self) -> int:
        """How many."""
        try:
            return RATE
        except ValueError:
            """Not a docstring: a string statement in a handler's body is code."""
            return 0
'''


@pytest.mark.parametrize(("edit", "same"), [
    (lambda m: m.replace('"""How many."""', '"""How many rows there are."""'), True),  # a docstring
    (lambda m: m.replace("# a comment", "# another comment"), True),
    (lambda m: m.replace("RATE = 1", "RATE  =  1\n\n"), True),  # the layout
    (lambda m: m.replace("RATE = 1", "RATE = 2"), False),
    (lambda m: m.replace("return 0", "return 1"), False),
    (lambda m: m.replace("Not a docstring", "Still not a docstring"), False),
])
def test_the_extractor_fingerprint_follows_the_code_not_its_comments_or_docstrings(tmp_path, edit, same):
    """An upgrade that only edits comments, docstrings or layout does not make a store extract every
    letter again, nor make its indexes again (kg.extractor.source_digest)."""
    from kg.extractor import source_digest

    module = tmp_path / "kg" / "module.py"
    module.parent.mkdir()
    module.write_text(MODULE)
    before = source_digest([module], "seed")
    module.write_text(edit(MODULE))
    assert (source_digest([module], "seed") == before) is same


def test_the_extractor_fingerprint_covers_what_makes_a_letter_s_graph_counts_and_rows():
    from kg.extractor import _files

    names = {path.name for path in _files()}
    assert {"graph.py", "iris.py", "decisions.py", "medications.py", "drugs.json", "imr-shapes.ttl",
            "summaries.py", "tally.py", "kept.py", "medication.rq", "decisions.rq", "cases.rq"} <= names
    assert not {"kept_index.py", "answer.py", "store.py"} & names  # reading or storing changes no letter


@pytest.mark.parametrize("fmt", ["ttl", "nt", "jsonld"])
def test_a_triple_dump_is_the_knowledge_graph_without_the_store_s_bookkeeping(gold_store, tmp_path, fmt):
    out = tmp_path / f"dump.{fmt}"
    assert runner.invoke(app, ["dump", "-f", fmt, "-o", str(out), "--store", str(gold_store)]).exit_code == 0
    dumped = {q.triple for q in ox.parse(path=str(out), format=DUMP_FORMATS[fmt])}
    store = Store(gold_store, read_only=True)
    graphs = [iris.ONTOLOGY_GRAPH, iris.VOCABULARY_GRAPH, *(iris.letter_graph(lid) for lid in store.letter_ids())]
    expected = {q.triple for g in graphs for q in store._store.quads_for_pattern(None, None, None, g)}
    assert dumped == expected
    predicates = {t.predicate.value for t in dumped}
    assert "https://w3id.org/imr-kg/ontology#extractionKey" not in predicates  # the manifest's
    assert not any(t.subject.value.startswith(iris.TALLY_GRAPH.value) for t in dumped)
    assert len(store._store) > len(dumped) > 1000  # the bookkeeping is in the store, and only there


# ---------------------------------------------------------------- indexes longer than a parser takes

def test_an_index_longer_than_a_part_is_saved_in_parts_and_read_whole(tmp_path, monkeypatch):
    from kg import store as store_module

    monkeypatch.setattr(store_module, "INDEX_PART_CHARS", 10)
    value = '{"files":{"a.txt":[1,2,"' + "f" * 40 + '"]}}'
    with Store(tmp_path / "s") as st:
        st.save_file_hashes(value)
        saved = list(st._store.quads_for_pattern(iris.MANIFEST_GRAPH, store_module.FILE_HASHES, None))
        assert len(saved) == 7 and all(len(q.object.value) <= len("6/7:") + 10 for q in saved)
        assert st.file_hashes() == value
        st.save_file_hashes("{}")  # a short value replaces every part
        assert st.file_hashes() == "{}"
        assert len(list(st._store.quads_for_pattern(iris.MANIFEST_GRAPH, store_module.FILE_HASHES, None))) == 1


def test_an_index_with_a_part_missing_reads_as_absent_and_a_store_from_before_parts_reads_as_before(tmp_path):
    from kg.store import FILE_HASHES, index_parts, joined_parts

    parts = [p.value for p in index_parts("abcdefghij" * 3, size=10)]
    assert parts == ["0/3:abcdefghij", "1/3:abcdefghij", "2/3:abcdefghij"]
    assert joined_parts(parts[::-1]) == "abcdefghij" * 3
    assert joined_parts(parts[:2]) is None and joined_parts([*parts, "3/4:x"]) is None and joined_parts([]) is None
    with Store(tmp_path / "s") as st:  # one plain literal, as every store before parts has it
        st._store.add(ox.Quad(iris.MANIFEST_GRAPH, FILE_HASHES, ox.Literal("1/2:{}"), iris.MANIFEST_GRAPH))
        assert st.file_hashes() == "1/2:{}"


def test_a_quad_dump_of_a_store_with_a_17_mb_index_loads_back_into_oxigraph(tmp_path):
    """At 100k letters the files' hashes were one 16.8 MB literal, over the 16 MiB that
    pyoxigraph's N-Quads parser takes for one term: `kg dump -f nq` wrote a file it could not load."""
    files = (f'"/corpus/{n:07d}.txt":[3050,1795772418,"{n:064x}"]' for n in range(170_000))
    value = '{"files":{' + ",".join(files) + "}}"
    assert len(value) > 16 * 2**20
    with Store(tmp_path / "s") as st:
        st.save_file_hashes(value)
    assert runner.invoke(app, ["dump", "-f", "nq", "-o", str(tmp_path / "all.nq"),
                               "--store", str(tmp_path / "s")]).exit_code == 0
    loaded = ox.Store(str(tmp_path / "loaded"))
    loaded.bulk_load(path=str(tmp_path / "all.nq"), format=ox.RdfFormat.N_QUADS)
    del loaded
    with Store(tmp_path / "loaded") as st:
        assert st.file_hashes() == value
