"""Run queries in the serving process itself, and retire the process when one runs away.

pyoxigraph's `Store.query` has no timeout or cancellation (oxigraph issue #1926), but it releases
the GIL while it evaluates. So each HTTP process (a uvicorn worker under uvicorn's supervisor)
runs its queries in a few threads on its own read-only handle, with no hop to another process. A
query that outlives its time limit gets a 503; the process then stops taking connections, lets
its other requests finish, and exits, and the supervisor starts a fresh one in its place.

Processes of one `kg serve` share a small runtime directory: `restarts` grows by a byte for each
retirement (for /health), and `generation` changes when an authorized update has changed the
store, so that every process reopens its read-only handle (which otherwise keeps seeing the store
as it was when opened) before its next query. What another process writes to an embedded store (a
`kg build` of this week's letters, `kg remove`, `kg optimize`) is picked up the same way once it is
complete: each process looks at the store's files at most once a second.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.server.execute import StoreChanged, execute

THREADS = 4  # queries evaluated at once by one process (the GIL is released while they run)
LOOK_EVERY = 1.0  # seconds between two looks at an embedded store's files for another process's write
LOOK_DURING_A_WRITE = 5.0  # ... while that write goes on (a look then opens the store: 15-100 ms at 100k)


class QueryTimeout(Exception):
    """The query ran past the time limit; its process retires and is replaced."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes | Iterable[bytes]  # an iterator: a large answer (a whole kept table), read as it is sent

    def content(self) -> bytes:
        """The whole body (an iterator's pieces are read once)."""
        return self.body if isinstance(self.body, bytes) else b"".join(self.body)


class Runtime:
    """The files that the processes of one `kg serve` share."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._restarts = self.directory / "restarts"
        self._generation = self.directory / "generation"

    def create(self) -> Runtime:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._restarts.touch()
        self._generation.write_text("0")
        return self

    @property
    def restarts(self) -> int:
        return self._restarts.stat().st_size

    def count_restart(self) -> None:
        with open(self._restarts, "ab") as out:  # one append of one byte: atomic between processes
            out.write(b".")

    @property
    def generation(self) -> int:
        return int(self._generation.read_text() or 0)

    def next_generation(self) -> None:
        """Called with the update lock held, after the store changed."""
        fresh = self._generation.with_suffix(".new")
        fresh.write_text(str(self.generation + 1))
        fresh.replace(self._generation)

    @contextmanager
    def update_lock(self) -> Iterator[None]:
        """One authorized update at a time, across the processes (each opens the store writable)."""
        with open(self.directory / "update.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def generation_stamp(self) -> int:
        return self._generation.stat().st_mtime_ns


class QueryRunner:
    """Answers requests on this process's read-only store handle, in threads."""

    def __init__(self, store_path: str | Path, runtime: Runtime, *, timeout: float = 5.0,
                 max_rows: int = 10_000, grace: float = 0.5) -> None:
        self.store_path = str(store_path)
        self.runtime = runtime
        self.timeout = timeout
        self.max_rows = max_rows
        self.grace = grace  # seconds between retiring (no new connection) and exiting
        self.retiring = False
        self._busy = 0
        self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="kg-query")
        self._lock = threading.Lock()
        self._stamp = runtime.generation_stamp()
        self._generation = 0  # this process's handles so far
        self._on_disk = self._disk_state()
        self._next_look = time.monotonic() + LOOK_EVERY
        self._store = self._open()

    def _open(self) -> Any:
        from kg.store import open_store

        return open_store(self.store_path, read_only=True)

    def _disk_state(self) -> frozenset[tuple[str, int, int]] | None:
        """The embedded store's files as they are now (None for a remote store: always current)."""
        from kg.store import disk_state

        return None if self.store_path.startswith(("http://", "https://")) else disk_state(self.store_path)

    @property
    def restarts(self) -> int:
        return self.runtime.restarts

    @property
    def generation(self) -> int:
        """Changes when the store does: data derived from it (the GraphQL letter index) is stale."""
        self._current_store()
        return self._generation

    def _current_store(self) -> Any:
        """This process's handle, reopened first if an update has changed the store since."""
        stamp = self.runtime.generation_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    on_disk = self._disk_state()
                    self._replace(self._open(), on_disk)
                    self._stamp = stamp
        elif self._on_disk is not None and time.monotonic() >= self._next_look:
            self._look_at_disk()
        return self._store

    def _look_at_disk(self, broken: bool = False) -> None:
        """Reopen the handle if another process has written to the store since it was opened, unless
        that write is still going on: its letters' tables are made at its end, and until then the
        handle it would give answers them from every letter's quads (minutes at 100k letters). A
        `broken` handle (its files removed by a compaction) is replaced all the same."""
        with self._lock:
            if not broken and time.monotonic() < self._next_look:
                return  # another thread looked meanwhile
            self._next_look = time.monotonic() + LOOK_EVERY
            on_disk = self._disk_state()
            if on_disk == self._on_disk and not broken:
                return
            try:
                fresh = self._open()
            except OSError:  # caught mid-change (RocksDB switching its manifest): looked at again later
                return
            if fresh.being_written() and not broken:
                self._next_look += LOOK_DURING_A_WRITE - LOOK_EVERY
                return  # the old handle still sees the last complete state
            self._replace(fresh, on_disk)

    def _replace(self, store: Any, on_disk: frozenset[tuple[str, int, int]] | None) -> None:
        """A fresh handle, and the store's files as they were just before it was opened."""
        self._store, self._on_disk = store, on_disk
        self._generation += 1

    async def ask(self, request: dict[str, Any], timeout: float | None = None) -> Answer:
        """Answer one request within `timeout` seconds (default: the runner's); past it, raise
        QueryTimeout and retire this process."""
        limit = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        store = self._current_store()
        self._busy += 1
        running = loop.run_in_executor(self._threads, execute, store, request, self.max_rows)
        running.add_done_callback(self._done)
        try:
            reply = await asyncio.wait_for(asyncio.shield(running), limit)
        except TimeoutError:
            self.retire()
            raise QueryTimeout(f"the query ran longer than {limit:g} s and was stopped") from None
        except StoreChanged:
            if self._on_disk is not None:
                self._look_at_disk(broken=True)
            return Answer(503, "text/plain; charset=utf-8",
                          b"the store changed while it was read (another process wrote to it): try again\n")
        return Answer(*reply)

    def _done(self, _: object) -> None:
        self._busy -= 1

    def retire(self) -> None:
        """Stop taking connections at once, let the other requests finish, and exit (uvicorn's
        graceful shutdown on SIGTERM, `grace` seconds later); the supervisor then starts a fresh
        process.

        uvicorn itself stops listening only at its next tick after the signal (up to 0.1 s, longer
        on a loaded machine), and its shutdown closes every connection whose request has not
        arrived yet: a client that connected meanwhile saw its connection reset. Closing the
        listener here, then waiting for the requests of connections already taken, leaves new
        connections to the other processes (or the fresh one)."""
        if not self.retiring:
            self.retiring = True
            self.runtime.count_restart()
            _stop_listening()
            asyncio.get_running_loop().call_later(self.grace, signal.raise_signal, signal.SIGTERM)

    def store_changed(self) -> None:
        """After an authorized update: every process reopens its handle before its next query."""
        self.runtime.next_generation()
        self._current_store()

    def close(self) -> None:
        """At shutdown. A query thread that is still running cannot be stopped or joined, so a
        retiring process ends here without waiting for it."""
        if self._busy:
            os._exit(0)
        self._threads.shutdown(wait=False)


def _stop_listening() -> None:
    """Close this process's listening sockets, if it is a uvicorn server (found through the SIGTERM
    handler uvicorn installs: its `Server.handle_exit`). Other processes keep their own."""
    import uvicorn

    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    if isinstance(server, uvicorn.Server):
        for listener in getattr(server, "servers", []):
            listener.close()

