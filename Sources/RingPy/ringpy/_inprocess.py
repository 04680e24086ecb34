"""ObjectRing: a ring of arbitrary Python objects inside one process.

mm_toolbox's GenericRingBuffer, for what cannot live in a shared ring file: Python objects
are references into one interpreter's heap, so this ring is private to its process (for
items shared between processes use a typed ring, SPEC.md §19, or a ring of bytes). It is a
``collections.deque(maxlen=capacity)``: a full ring drops its oldest object to take a new
one (overwrite-oldest), ``consume()`` takes the oldest, and the async helpers wait for an
insert without polling.

An empty ``consume()`` raises ringpy.EmptyError, the error of an empty Ring: the class is
taken from the native module ``ringpy._ringpy`` when there is one. Loaded without it (this
file on its own, as the pure-Python tests may), EmptyError is a stand-in defined here with
the same bases the native one has that matter here (``queue.Empty``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from itertools import islice
from typing import AsyncIterator, Deque, Generic, Iterable, Iterator, List, Tuple, TypeVar

try:
    from ._ringpy import EmptyError
except ImportError:  # loaded without the native module

    class EmptyError(queue.Empty):  # type: ignore[no-redef]
        """Nothing to consume (stand-in for ringpy.EmptyError without the native module)."""


__all__ = ["EmptyError", "ObjectRing"]

T = TypeVar("T")
#: A coroutine waiting in aconsume: its event loop and the future that wakes it.
_Waiter = Tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _wake(future: "asyncio.Future[None]") -> None:
    """Runs on the waiter's loop (call_soon_threadsafe): resolves its future once."""
    if not future.done():
        future.set_result(None)


class ObjectRing(Generic[T]):
    """A bounded FIFO of Python objects that overwrites its oldest object when full.

    ``ObjectRing(capacity)`` holds up to capacity objects (exactly that many: no rounding to
    a power of two). ``insert`` appends; when the ring is full the oldest object is dropped
    first, as ``deque(maxlen).append`` does. ``consume`` removes the oldest; ``unwrapped``,
    ``latest``, iteration and ``in`` look without removing.

    ``only_insert_unique=True`` makes insert skip an object equal (``==``) to one already
    in the ring, found by a linear scan as mm_toolbox does: O(capacity) per insert.

    Thread safety: every method holds one lock over the ring's state, so threads may insert
    and consume at once. Objects' ``__eq__`` runs under that lock (for ``in`` and
    only_insert_unique) and must not use the same ring.

    Async: ``await ring.aconsume()`` waits for an object without polling. An insert wakes
    every waiting coroutine through its own event loop's ``call_soon_threadsafe``, so inserts
    may come from the loop itself or from any other thread, with nothing to do on the
    caller's side. A woken coroutine takes the oldest object on its loop; one that finds the
    ring empty again (another consumer was first) waits again, and a cancelled aconsume has
    taken nothing.
    """

    __slots__ = ("_items", "_unique", "_lock", "_waiters")

    def __init__(self, capacity: int, *, only_insert_unique: bool = False) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._items: Deque[T] = deque(maxlen=capacity)
        self._unique = bool(only_insert_unique)
        self._lock = threading.Lock()
        self._waiters: List[_Waiter] = []

    @property
    def capacity(self) -> int:
        """The most objects the ring holds."""
        return self._items.maxlen  # type: ignore[return-value]

    @property
    def only_insert_unique(self) -> bool:
        """Whether insert skips an object equal to one already in the ring."""
        return self._unique

    # --- Writing ---------------------------------------------------------------------

    def insert(self, obj: T) -> None:
        """Append obj as the newest object, dropping the oldest if the ring is full (with
        only_insert_unique: nothing, if an equal object is in the ring)."""
        self._add((obj,))

    def insert_many(self, objs: Iterable[T]) -> None:
        """insert each object of objs in order; of more than capacity objects only the last
        capacity stay, as ``deque(maxlen).extend``. The iterable is read before the ring is
        locked."""
        self._add(list(objs))

    def _add(self, objs) -> None:
        """The one write path: append under the lock, then wake the waiting coroutines."""
        with self._lock:
            items = self._items
            if self._unique:
                added = 0
                for obj in objs:
                    if obj not in items:
                        items.append(obj)
                        added += 1
            else:
                items.extend(objs)
                added = len(objs)
            if not added:
                return
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # its loop is closed: no one is waiting there any more
                pass

    # --- Reading ---------------------------------------------------------------------

    def consume(self) -> T:
        """Remove and return the oldest object; EmptyError if there is none."""
        with self._lock:
            if not self._items:
                raise EmptyError("the ObjectRing is empty")
            return self._items.popleft()

    def consume_all(self) -> List[T]:
        """Remove and return every object, oldest first ([] if empty)."""
        with self._lock:
            objs = list(self._items)
            self._items.clear()
            return objs

    def unwrapped(self) -> List[T]:
        """Every object, oldest to newest, without removing any."""
        with self._lock:
            return list(self._items)

    def latest(self, n: int) -> List[T]:
        """The newest n objects (all of them if there are fewer), oldest to newest, without
        removing any; ValueError for a negative n."""
        if n < 0:
            raise ValueError(f"latest(n) needs n >= 0, not {n}")
        with self._lock:
            newest_first = list(islice(reversed(self._items), n))
        newest_first.reverse()
        return newest_first

    def clear(self) -> None:
        """Remove every object."""
        with self._lock:
            self._items.clear()

    def is_empty(self) -> bool:
        """True if there is nothing to consume."""
        return not self._items

    def is_full(self) -> bool:
        """True if the next insert drops the oldest object."""
        return len(self._items) == self._items.maxlen

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        """Iterate over a snapshot (unwrapped()): oldest to newest, consuming nothing."""
        return iter(self.unwrapped())

    def __contains__(self, obj: object) -> bool:
        with self._lock:
            return obj in self._items

    # --- Async -----------------------------------------------------------------------

    async def aconsume(self) -> T:
        """consume() that waits, without polling and without blocking the event loop, until
        there is an object. Cancelling it takes nothing from the ring."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                waiter: _Waiter = (loop, loop.create_future())
                self._waiters.append(waiter)
            try:
                await waiter[1]
            finally:
                with self._lock:
                    if waiter in self._waiters:  # not woken (cancelled): forget it
                        self._waiters.remove(waiter)

    async def aconsume_iterable(self) -> AsyncIterator[T]:
        """``async for obj in ring.aconsume_iterable()``: each object as it comes, oldest
        first, without end (leave the loop with break, or cancel its task)."""
        while True:
            yield await self.aconsume()

    def __repr__(self) -> str:
        unique = " only_insert_unique" if self._unique else ""
        return f"<ringpy.ObjectRing {len(self)}/{self.capacity}{unique}>"
