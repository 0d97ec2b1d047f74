"""How the process's memory is handed back to the system.

RocksDB (inside pyoxigraph) allocates from several threads, and glibc's malloc gives each thread
an arena of its own (up to eight per core) and keeps what is freed in them. Measured on a
first build of 10k letters (2 cores): the writer peaked at 652 MB, and still held 558 MB once the
store was closed; with two arenas it peaked at 526 MB, and trimming after the close brought it
to 83 MB, so that compacting the store afterwards took 136 MB rather than 495 MB.

Both calls do nothing where the C library is not glibc; a MALLOC_ARENA_MAX set by the user wins.
"""

from __future__ import annotations

import ctypes
import os

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
