"""Work spread over a process pool, in order, with a bounded number of items in flight."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from itertools import islice
from typing import TypeVar

# Letters a pool task parses or validates: pyshacl's fixed cost per call is high (a stored letter
# checked on its own: 27.5 ms; in chunks of 25: 16.7 ms a letter).
CHUNK_SIZE = 25

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], pool: Executor | None, in_flight: int) -> Iterator[R]:
    """`fn` of each item, in order: in `pool` if there is one, with at most `in_flight` items submitted
    and not yet taken, so that memory stays flat however many items there are."""
    if pool is None:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last one shorter), read as they are needed."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
