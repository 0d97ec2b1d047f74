"""How the process's memory is handed back to the system.

RocksDB (inside pyoxigraph) allocates from several threads, and glibc's malloc gives each thread
an arena of its own (up to eight per core) and keeps what is freed in them. Measured on a
first build of 10k letters (2 cores): the writer peaked at 652 MB, and still held 558 MB once the
store was closed; with two arenas it peaked at 526 MB, and trimming after the close brought it
to 83 MB, so that compacting the store afterwards took 136 MB rather than 495 MB.

Both calls do nothing where the C library is not glibc; a MALLOC_ARENA_MAX set by the user wins.
`collector_paused` keeps Python's cyclic garbage collector out of work that makes many objects.
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        return ctypes.CDLL("libc.so.6")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), not glibc, no libc.so.6
        return None


_LIBC = _glibc()


def cap_arenas(arenas: int = ARENAS) -> None:
    """Let malloc keep at most `arenas` arenas. Call it before the store starts its threads: the
    threads that already have an arena keep it."""
    if _LIBC is not None and "MALLOC_ARENA_MAX" not in os.environ:
        _LIBC.mallopt(_M_ARENA_MAX, arenas)


def release() -> None:
    """Return the memory malloc holds free to the system (after closing a store, whose RocksDB
    frees hundreds of MB that malloc would otherwise keep for the rest of the process)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def collector_paused(*, collect_after: bool = False) -> Iterator[None]:
    """Keep Python's cyclic garbage collector out of work that makes many objects. It runs every
    few hundred new objects and walks every young one each time: work that makes hundreds of
    thousands of them pays for that again and again. With `collect_after`, what the work left in
    cycles is collected once at its end (all of it is young then, so a young collection finds it),
    rather than whenever the collector next runs."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        if collect_after:
            gc.collect(0)


def without_gc(make: Callable[P, R]) -> Callable[P, R]:
    """`make`, run with the collector paused (`collector_paused`). Decoding the whole `decisions`
    table at 100k as terms (millions of lists and terms, all kept, in no cycle) took 5.8 s, 2.0 s
    without the collector."""
    @wraps(make)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with collector_paused():
            return make(*args, **kwargs)
    return paused
