"""kg.memory: the arena cap and the trim, observed in fresh processes through glibc's own reports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kg import cli, memory

from .conftest import LETTERS

pytestmark = pytest.mark.skipif(memory._LIBC is None, reason="glibc only")

# Eight threads allocate at once; glibc's malloc_info then lists one <heap> per arena in use.
ARENAS_SCRIPT = """
import ctypes, sys, tempfile, threading
from kg import memory
if sys.argv[1] == "cap":
    memory.cap_arenas()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
allocated, counted = threading.Barrier(9), threading.Barrier(9)
def allocate():
    held = [bytes(2000) for _ in range(1000)]
    allocated.wait()
    counted.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
allocated.wait()
with tempfile.NamedTemporaryFile("r", suffix=".xml") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(out.read().count("<heap nr="))
counted.wait()
for thread in threads:
    thread.join()
"""

# 200 MB in 2,000-byte blocks (malloc's, not Python's small-object allocator), then every block
# but one in ten freed: the heap cannot shrink from its top, only malloc_trim gives it back.
TRIM_SCRIPT = """
from kg import memory
def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))
blocks = [bytes(2000) for _ in range(100_000)]
kept = blocks[::10]
del blocks
before = rss_mb()
memory.release()
print(before, rss_mb())
"""


def _python(script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True,
                          text=True, check=True, env=env, timeout=60).stdout


def test_capped_threads_share_two_arenas_where_they_would_take_one_each() -> None:
    assert int(_python(ARENAS_SCRIPT, "cap")) == memory.ARENAS
    assert int(_python(ARENAS_SCRIPT, "free")) > memory.ARENAS + 4  # the main arena and one per thread


def test_release_gives_freed_memory_back_to_the_system() -> None:
    before, after = map(int, _python(TRIM_SCRIPT).split())
    assert before > 150  # the 200 MB still held, though nine blocks in ten are free
    assert after < before - 100


def test_every_kg_command_caps_the_arenas_before_it_opens_a_store(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    opened = cli.open_store
    monkeypatch.setattr(memory, "cap_arenas", lambda: events.append("cap"))
    monkeypatch.setattr(cli, "open_store", lambda *a, **k: events.append("open") or opened(*a, **k))
    letter = LETTERS / "001_31f77f8318a90c33.txt"
    result = CliRunner().invoke(cli.app, ["build", str(letter), "--store", str(tmp_path / "s"), "--no-validate"])
    assert result.exit_code == 0, result.output
    assert events[0] == "cap" and events.count("cap") == 1 and "open" in events


def test_closing_a_store_trims_what_it_freed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kg.store import Store

    released: list[bool] = []
    monkeypatch.setattr(memory, "release", lambda: released.append(True))
    Store(tmp_path / "store").close()
    assert released == [True]


def test_a_chunk_checked_with_shacl_leaves_no_cycles_behind() -> None:
    """pyshacl leaves its shapes and graphs in cycles (~27k objects for 25 letters); whatever
    collects them, none is left once the chunk is done and the collector runs again after it."""
    import gc

    from kg.build import _parse_chunk

    files = [str(p) for p in sorted(LETTERS.glob("*.txt"))[:6]]
    gc.collect()
    parsed = _parse_chunk((files, True))
    left = gc.collect()  # before anything else is made, which would set the collector off
    assert left < 50
    assert gc.isenabled()
    assert [p.rejected for p in parsed] == [None] * 6 and all(p.letter for p in parsed)


def test_collect_after_frees_what_the_paused_work_left_in_cycles_at_once() -> None:
    import gc
    import weakref

    class Node:
        pass

    def cycle() -> weakref.ref[Node]:
        node = Node()
        node.me = node  # type: ignore[attr-defined]
        return weakref.ref(node)

    gc.collect()
    with memory.collector_paused(collect_after=True):
        freed = cycle()
    assert freed() is None  # collected on leaving the block
    with memory.collector_paused():
        kept = cycle()
    assert kept() is not None  # without it, only at the collector's next run
    gc.collect()
    assert kept() is None


def test_the_collector_is_paused_while_the_work_runs_and_restored_after() -> None:
    import gc

    seen: list[bool] = []

    @memory.without_gc
    def work() -> None:
        seen.append(gc.isenabled())
        raise ValueError("stops")

    with pytest.raises(ValueError):
        work()
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with memory.collector_paused(collect_after=True):
            pass
        assert not gc.isenabled()  # a caller's own pause is kept
    finally:
        gc.enable()
