"""Run SPARQL in worker processes that can be killed: pyoxigraph's Store.query has no timeout or
cancellation, so a runaway query is stopped by killing its process and starting a fresh one."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import queue
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import anyio

STARTUP_WAIT = 60.0  # seconds a new worker may take to import and open the store


class QueryTimeout(Exception):
    """The query ran past the time limit; its worker was killed and replaced."""


class ServiceBusy(Exception):
    """No worker became free in time."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def _serve(store_path: str, conn: Connection, max_rows: int) -> None:
    """Worker loop: open the store read-only once, answer requests until the pipe closes."""
    from kg.remote import open_store  # imported in the worker, after the spawn
    from kg.server.execute import execute

    store = open_store(store_path, read_only=True)
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        conn.send(execute(store, request, max_rows))


class _Worker:
    def __init__(self, ctx: Any, store_path: str | Path, max_rows: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(str(store_path), child, max_rows), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class QueryPool:
    """A fixed number of query worker processes over one read-only store."""

    def __init__(self, store_path: str | Path, *, workers: int = 2, timeout: float = 5.0, max_rows: int = 10_000,
                 queue_wait: float = 30.0) -> None:
        self.store_path = store_path
        self.timeout = timeout
        self.max_rows = max_rows
        self.queue_wait = queue_wait
        self._ctx = mp.get_context("spawn")  # never fork a process that runs an event loop and threads
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self.restarts = 0
        self.generation = 0  # counts recycles: data derived from the store is stale once it changes
        starting = [threading.Thread(target=self._add) for _ in range(workers)]
        for t in starting:
            t.start()
        for t in starting:
            t.join()

    def _add(self) -> None:
        """Start a worker and hand it out once it has opened the store (a spawned Python process
        takes a second or two to import; that time must not count against a query)."""
        worker = _Worker(self._ctx, self.store_path, self.max_rows)
        with self._lock:
            self._all.append(worker)
        if worker.conn.poll(STARTUP_WAIT) and worker.conn.recv() == "ready":
            self._idle.put(worker)
        else:
            with self._lock:
                self._all.remove(worker)
            worker.kill()

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            self._all.remove(worker)
        worker.kill()
        self.restarts += 1
        self._replace()

    def _replace(self) -> None:
        threading.Thread(target=self._add, daemon=True).start()

    async def ask(self, request: dict[str, Any], timeout: float | None = None) -> Answer:
        """Send one request to a free worker and await its answer on the pipe's file descriptor (no
        thread per request); kill and replace the worker if it takes longer than `timeout` (default:
        the pool's)."""
        limit = self.timeout if timeout is None else timeout
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            worker = await anyio.to_thread.run_sync(self._checkout)
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        fd = worker.conn.fileno()
        started = time.monotonic()
        try:
            worker.conn.send(request)
            loop.add_reader(fd, readable.set)  # level-triggered: an answer already there still counts
            try:  # the first request of a fresh worker also pays for opening the store
                await asyncio.wait_for(readable.wait(), limit)
            finally:
                loop.remove_reader(fd)
                os.set_blocking(fd, True)  # uvloop leaves a watched descriptor non-blocking
            return self._checkin(worker, worker.conn.recv())
        except (TimeoutError, OSError, EOFError):
            pass  # too slow, or the worker died: replace it below
        except asyncio.CancelledError:
            self._retire(worker)  # its answer would be read by the next request: replace it
            raise
        return self._failed(worker, started, limit)

    def _checkout(self) -> _Worker:
        try:
            return self._idle.get(timeout=self.queue_wait)
        except queue.Empty as exc:
            raise ServiceBusy("every query worker is busy; try again") from exc

    def _checkin(self, worker: _Worker, reply: tuple[int, str, bytes]) -> Answer:
        self._idle.put(worker)
        return Answer(*reply)

    def _failed(self, worker: _Worker, started: float, limit: float) -> Answer:
        """Kill and replace a worker that ran out of time or died; say which it was."""
        self._retire(worker)
        if time.monotonic() - started >= limit:
            raise QueryTimeout(f"the query ran longer than {limit:g} s and was stopped")
        return Answer(500, "text/plain", b"the query worker failed; it has been restarted")

    def recycle(self) -> None:
        """Replace every worker (after the store changed under their read-only handles)."""
        self.generation += 1
        with self._lock:
            count = len(self._all)
        for _ in range(count):
            worker = self._idle.get(timeout=self.queue_wait)
            with self._lock:
                self._all.remove(worker)
            worker.kill()
            self._add()

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.kill()
