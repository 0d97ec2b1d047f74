"""How one server process runs queries (kg.server.runner): in threads on its own read-only handle,
retiring itself after a runaway query, and reopening its handle after another process's update."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from kg.build import build
from kg.server.app import _apply_update
from kg.server.runner import QueryRunner, QueryTimeout, Runtime
from kg.store import Store

IMR = "https://w3id.org/imr-kg/ontology#"
COUNT_DECISIONS = f"SELECT (COUNT(?d) AS ?n) WHERE {{ ?d a <{IMR}Decision> }}"
# Every typed node against every other: a few million rows, about a second on the sample store.
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?a a ?b } GRAPH ?h { ?c a ?d } }"
FIXTURE = Path(__file__).parent / "fixtures" / "letters" / "000_ed7318db5454d5ef.txt"


def _sparql(query: str) -> dict[str, object]:
    return {"kind": "sparql", "query": query, "accept": "application/sparql-results+json"}


def _value(body: bytes) -> str:
    result = json.loads(body)
    return result["boolean"] if "boolean" in result else result["results"]["bindings"][0]["n"]["value"]


def test_a_runaway_query_retires_the_process_and_its_other_requests_still_finish(closed_sample_store, tmp_path):
    runtime = Runtime(tmp_path / "runtime").create()
    runner = QueryRunner(closed_sample_store, runtime, timeout=0.05, grace=0)
    signals: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _: signals.append(signum))  # uvicorn's role

    async def slow_then_fast() -> bytes:
        with pytest.raises(QueryTimeout, match=r"longer than 0\.05 s"):
            await runner.ask(_sparql(SLOW))
        return (await runner.ask(_sparql(COUNT_DECISIONS), timeout=30)).body

    try:
        fast = asyncio.run(slow_then_fast())
    finally:
        signal.signal(signal.SIGTERM, previous)
        runner._threads.shutdown(wait=True)  # the abandoned query ends on its own here
    assert signals == [signal.SIGTERM] and runner.retiring
    assert runtime.restarts == 1
    assert _value(fast) == "72"


def test_a_retiring_process_stops_listening_at_once_and_exits_after_its_grace(closed_sample_store, tmp_path):
    """Connections made after the timeout go to the other processes: this one closes its listener
    as it retires, and signals uvicorn to shut down only after `grace` seconds, so that no
    connection it took is closed before its request is read."""
    import uvicorn

    runner = QueryRunner(closed_sample_store, Runtime(tmp_path / "runtime").create(), timeout=0.05, grace=0.3)
    server = uvicorn.Server(uvicorn.Config(app=lambda *_: None))
    previous = signal.signal(signal.SIGTERM, server.handle_exit)  # as uvicorn installs it

    async def retire() -> None:
        listener = await asyncio.start_server(lambda _, writer: writer.close(), "127.0.0.1", 0)
        server.servers = [listener]
        with pytest.raises(QueryTimeout):
            await runner.ask(_sparql(SLOW))
        assert not listener.is_serving() and not server.should_exit
        await asyncio.sleep(0.5)
        assert server.should_exit

    try:
        asyncio.run(retire())
    finally:
        signal.signal(signal.SIGTERM, previous)
        runner._threads.shutdown(wait=True)


def test_an_update_in_one_process_is_seen_by_the_others(tmp_path):
    with Store(tmp_path / "store") as store:
        assert build([FIXTURE], store).ok
    runtime = Runtime(tmp_path / "runtime").create()
    writer, reader = (QueryRunner(tmp_path / "store", runtime) for _ in range(2))
    said = 'ASK { GRAPH <urn:x:notes> { <urn:x:a> <urn:x:says> "hello" } }'
    assert _value(asyncio.run(reader.ask(_sparql(said))).body) is False

    _apply_update(tmp_path / "store", 'INSERT DATA { GRAPH <urn:x:notes> { <urn:x:a> <urn:x:says> "hello" } }', writer)

    assert reader.generation == 1  # GraphQL's letter index is keyed on this
    assert _value(asyncio.run(reader.ask(_sparql(said))).body) is True
    assert _value(asyncio.run(writer.ask(_sparql(said))).body) is True
    for runner in (writer, reader):
        runner.close()


def test_a_handle_whose_files_went_away_answers_503_and_is_replaced(tmp_path, monkeypatch):
    """RocksDB's I/O error (a compaction in another process removed a file the handle had not
    opened yet) is not a failed query: the client is told to try again, on a fresh handle."""
    import kg.server.execute as execute_module

    with Store(tmp_path / "s") as store:
        assert build([FIXTURE], store, validate=False).ok
    runner = QueryRunner(tmp_path / "s", Runtime(tmp_path / "runtime").create())
    sparql = execute_module._sparql

    def vanishing(store: Store, request: dict[str, object], max_rows: int) -> object:
        if request["query"] == "vanished":
            raise FileNotFoundError("IO error: No such file or directory: While open a file for random read: 67.sst")
        return sparql(store, request, max_rows)

    monkeypatch.setattr(execute_module, "_sparql", vanishing)
    first, generation = runner._store, runner.generation
    answer = asyncio.run(runner.ask(_sparql("vanished")))
    assert (answer.status, answer.content()) == (
        503, b"the store changed while it was read (another process wrote to it): try again\n")
    assert runner._store is not first and runner.generation == generation + 1
    assert _value(asyncio.run(runner.ask(_sparql(COUNT_DECISIONS))).body) == "2"
    runner._threads.shutdown(wait=True)
