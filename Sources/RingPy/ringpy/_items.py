"""ItemRing: a typed ring (SPEC.md §19) of NumPy items, shared between processes.

A typed ring holds fixed-size items of one type, named in its header by a portable type
description (SPEC.md §19.2, ``_itemtype``), so a Swift, a C and a Python process agree on
the items through the ring alone. It is mm_toolbox's NumericRingBuffer (and
``collections.deque(maxlen)`` under the default overwrite-oldest policy) in shared memory::

    import numpy as np, ringpy
    ring = ringpy.ItemRing.anonymous(np.float64, 1024)
    ring.insert_many(np.arange(3.0))
    ring.unwrapped()        # array([0., 1., 2.]): not consumed
    ring.consume()          # 0.0

Items go in as anything ``numpy.asarray(x, dtype)`` takes and come out as NumPy scalars
(``np.void`` for structured types) or arrays. The native core (``ItemRingBase``, in
ringpy_items.c) moves bytes; this module turns them into arrays.
"""

from __future__ import annotations

import operator
import os
import struct
import sys
from typing import Any, AsyncIterator, Iterator, Optional, Union

from . import Policy, _async, _itemtype
from ._async import NOT_YET as _NOT_YET
from ._ringpy import EmptyError, EndOfStreamError, ItemRingBase as _ItemRingBase, ItemView, OverwrittenError

__all__ = ["ItemRing"]

# Flags of ring_create_items, ring_open_flags and ring_open_fd (ringformat.h).
_CREATE_REPLACE = 1
_CREATE_OPEN_EXISTING = 2
_CREATE_ANONYMOUS = 16
_MAP_DOUBLE = 32
_MAP_SINGLE = 64

_np = None


def _numpy():
    """NumPy, imported on first use (``import ringpy`` works without it)."""
    global _np
    if _np is None:
        import numpy

        _np = numpy
    return _np


def _map_flags(double_map: Optional[bool]) -> int:
    """The RING_*_MAP flag of double_map: None lets the library choose (double where possible)."""
    if double_map is None:
        return 0
    return _MAP_DOUBLE if double_map else _MAP_SINGLE


#: struct's letter for each scalar (kind, size) it packs bit for bit as NumPy stores it: the
#: fast path of one item, a few hundred nanoseconds shorter than a NumPy conversion.
_STRUCT_LETTERS = {("b", 1): "?", ("i", 1): "b", ("u", 1): "B", ("i", 2): "h", ("u", 2): "H", ("i", 4): "i",
                   ("u", 4): "I", ("i", 8): "q", ("u", 8): "Q", ("f", 2): "e", ("f", 4): "f", ("f", 8): "d"}


def _scalar_codec(dt) -> Optional[struct.Struct]:
    """The struct.Struct of one item of a scalar dtype it packs exactly; None for others."""
    letter = _STRUCT_LETTERS.get((dt.kind, dt.itemsize)) if dt.names is None and dt.subdtype is None else None
    if letter is None:
        return None
    big = dt.byteorder == ">" or (dt.byteorder == "=" and sys.byteorder == "big")
    return struct.Struct((">" if big else "<") + letter)


def _has_padding(dt) -> bool:
    """True if some bytes of dt belong to no field (a struct's gaps and tail), at any depth."""
    if dt.subdtype is not None:
        return _has_padding(dt.subdtype[0])
    if dt.names is None:
        return False
    end = 0
    for field, offset, *_ in sorted(dt.fields.values(), key=lambda f: f[1]):
        if offset > end or _has_padding(field):
            return True
        end = max(end, offset + field.itemsize)
    return end < dt.itemsize


def _count(value: Any, what: str) -> int:
    """A non-negative int argument (an int, or what operator.index takes: numpy integers)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative, not {value}")
    return value


class _Lend:
    """The context manager of ItemRing.consume_view: the items in place, consumed at the end."""

    __slots__ = ("_ring", "_items", "_count")

    def __init__(self, ring: "ItemRing", items: Any, count: int) -> None:
        self._ring, self._items, self._count = ring, items, count

    def __enter__(self):
        if self._items is None:
            return self._ring._array(bytearray())
        return self._items

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if self._items is None:
            return
        dropped = self._ring._end_lend(self._count if kind is None else 0)
        if dropped and kind is None:
            error = OverwrittenError(f"the producer dropped the first {dropped} of the {self._count} items while "
                                     "they were viewed (overwrite-oldest); the rest were consumed")
            error.dropped = dropped
            raise error


class ItemRing(_ItemRingBase):
    """A typed ring: fixed-size items of one NumPy dtype, in a file or in anonymous shared
    memory, shared by one producer and one consumer in any processes and languages.

    Make one with ``ItemRing.create(path, dtype, capacity)`` or ``ItemRing.anonymous(dtype,
    capacity)`` (no file: share it with ``os.fork()``), or open one with ``ItemRing.open(path)``
    or ``ItemRing.open_fd(fd)``. ``capacity`` counts items and may be rounded up
    (``ring.capacity`` says how many the ring holds).

    The producer role is taken on the first insert-like call, the consumer role on the first
    consume-like or peek call (unwrapped, latest); a role held by another handle raises
    BusyError. Under overwrite-oldest (the default) a full ring drops its oldest items, as
    ``deque(maxlen=capacity)`` does (``dropped_count``; the consumer's ``missed_count``);
    under reject-when-full insert waits for room.

    Views: on a double-mapped ring (``is_double_mapped``, SPEC.md §20.1), ``unwrapped()`` and
    ``latest(n)`` return read-only arrays that are windows onto the ring's live memory, not
    copies. While one is alive, ``close()`` raises BufferError.
    """

    __slots__ = ("_dtype", "_base", "_shape", "_padded", "_codec", "_scalar", "_scalars", "_bells")

    # --- Making and opening ----------------------------------------------------------------

    @classmethod
    def create(cls, path: Union[str, bytes, os.PathLike], dtype: Any, capacity: int, *,
               policy: Union[Policy, int, str] = Policy.OVERWRITE_OLDEST, mode: int = 0o600,
               exist_ok: bool = False, replace: bool = False, initial_position: int = 0,
               double_map: Optional[bool] = None) -> "ItemRing":
        """Create a typed ring file of at least ``capacity`` items of ``dtype`` and open it.

        dtype: anything ``numpy.dtype()`` takes, with a type description (SPEC.md §19.2):
        bool, integers, float16/32/64, complex64/128, bytes ('S'), opaque ('V'), sub-arrays
        and structs of them, either byte order. TypeError for one without (object, unicode,
        datetime, ...). mode: permission bits (the umask applies). replace atomically
        replaces an existing file; exist_ok opens an existing ring of the same type, capacity
        and policy instead of raising FileExistsError (ValueError for another one).
        initial_position: where both positions start (an item count). double_map: True maps
        the data region twice back to back where the host can (else once), False once, None
        lets the library choose (twice where it can).
        """
        dt, description, alignment = cls._describe(dtype)
        capacity = _count(capacity, "capacity")
        flags = (_CREATE_OPEN_EXISTING if exist_ok else 0) | (_CREATE_REPLACE if replace else 0) | _map_flags(double_map)
        ring = cls._create(path, description, alignment, capacity, policy, mode, flags, initial_position)
        ring._adopt(dt)
        return ring

    @classmethod
    def anonymous(cls, dtype: Any, capacity: int, *, policy: Union[Policy, int, str] = Policy.OVERWRITE_OLDEST,
                  name: str = "ring", double_map: Optional[bool] = None) -> "ItemRing":
        """Create a typed ring without a file (SPEC.md §20.2): in anonymous shared memory
        (memfd), gone when its last descriptor and mapping are, leaving nothing in any file
        system. ``name`` only shows in ``path`` ("memfd:NAME") and messages. A child of
        ``os.fork()`` opens it again with ``ItemRing.open_fd(ring.fd)``. dtype, capacity,
        policy and double_map as create()."""
        dt, description, alignment = cls._describe(dtype)
        capacity = _count(capacity, "capacity")
        ring = cls._create(name, description, alignment, capacity, policy, 0o600,
                           _CREATE_ANONYMOUS | _map_flags(double_map), 0)
        ring._adopt(dt)
        return ring

    @classmethod
    def open(cls, path: Union[str, bytes, os.PathLike], *, dtype: Any = None,
             double_map: Optional[bool] = None) -> "ItemRing":
        """Open an existing typed ring file. With dtype, the ring's items must be of that type
        (ValueError naming both otherwise); without, ``ring.dtype`` is read from the ring.
        double_map as create()."""
        return cls._opened(cls._open(path, _map_flags(double_map)), dtype)

    @classmethod
    def open_fd(cls, fd: int, *, dtype: Any = None, double_map: Optional[bool] = None) -> "ItemRing":
        """Open the typed ring held by the open descriptor fd: a ring without a file inherited
        across ``os.fork()`` (``ItemRing.open_fd(parent_ring.fd)`` in the child) or received
        over a Unix socket, or any open ring file. The descriptor is duplicated: the caller
        keeps fd. dtype and double_map as open()."""
        return cls._opened(cls._open_fd(fd, _map_flags(double_map)), dtype)

    @staticmethod
    def _describe(dtype: Any):
        """(dtype, description, alignment); TypeError for a dtype without a description."""
        dt = _numpy().dtype(dtype)
        description, alignment = _itemtype.describe(dt)
        return dt, description, alignment

    @classmethod
    def _opened(cls, ring: "ItemRing", dtype: Any) -> "ItemRing":
        try:
            if dtype is None:
                ring._adopt(_itemtype.parse(ring.type_description))
            else:
                dt, description, _ = cls._describe(dtype)
                if description != ring.type_description:
                    raise ValueError(f"{ring.path!r} holds items of type {ring.type_description!r}, not "
                                     f"{description!r} ({dt!r})")
                ring._adopt(dt)
        except BaseException:
            ring.close()
            raise
        return ring

    def _adopt(self, dt) -> None:
        """Takes dt as the items' dtype: arrays are made of its base and shape (a sub-array
        dtype's items are arrays of its base)."""
        self._dtype = dt
        self._base = dt.base
        self._shape = dt.shape
        self._padded = _has_padding(dt)
        self._codec = _scalar_codec(dt)
        self._scalar = dt.type
        np = _numpy()
        #: What the fast path of insert takes (anything else goes through numpy.asarray).
        self._scalars = (int, float, np.integer, np.floating, np.bool_)

    # --- What it is -------------------------------------------------------------------------

    @property
    def dtype(self):
        """The items' NumPy dtype (the one given, or the one the ring's description names)."""
        return self._dtype

    @property
    def policy(self) -> Policy:
        """What a full ring does."""
        return Policy(self._policy)

    def is_empty(self) -> bool:
        """True if there is nothing to consume now."""
        return len(self) == 0

    def is_full(self) -> bool:
        """True if the ring holds ``capacity`` unread items now."""
        return len(self) >= self.capacity

    def stats(self) -> dict:
        """A snapshot: producer_position and consumer_position (item counts), count (unread
        items, as len()), dropped_count, writer_closed, and capacity, policy, type_description."""
        stats = self._stats()
        stats.update(capacity=self.capacity, policy=self.policy, type_description=self.type_description)
        return stats

    # --- Arrays and bytes -------------------------------------------------------------------

    def _items(self, obj: Any, one: bool):
        """obj as a C-contiguous array of whole items (of the dtype's base, with the item shape
        last): one item, or a 1-D run of them."""
        np = _numpy()
        a = np.asarray(obj, dtype=self._base)
        if self._padded and a is not obj:
            # NumPy leaves a new struct's padding bytes uninitialised: no heap garbage goes
            # into shared memory (an array given as is keeps the bytes its owner put there).
            zeroed = np.zeros(a.shape, self._base)
            zeroed[...] = a
            a = zeroed
        shape = self._shape
        if one:
            if a.shape != shape:
                raise ValueError(f"an item of {self._dtype!r} has shape {shape}, not {a.shape}")
        elif a.ndim != 1 + len(shape) or a.shape[1:] != shape:
            raise ValueError(f"items of {self._dtype!r} come as an array of shape (n,{','.join(map(str, shape))}), "
                             f"not {a.shape}")
        return np.ascontiguousarray(a)

    def _array(self, data):
        """The items in ``data`` (a bytearray copy, or an ItemView) as an array."""
        np = _numpy()
        a = np.frombuffer(memoryview(data) if isinstance(data, ItemView) else data, dtype=self._base)
        if self._shape:
            a = a.reshape((-1,) + self._shape)
        return a

    # --- Writing ----------------------------------------------------------------------------

    # insert(item, timeout=None) is native (ItemRingBase.insert): a float or int into a ring of
    # a little-endian number type is packed there; every other item comes here.
    def _insert_converted(self, item: Any, timeout: Optional[float] = None) -> None:
        """insert() of an item the native fast path does not pack: NumPy's conversion."""
        codec = self._codec
        if codec is not None and isinstance(item, self._scalars):
            try:
                data = codec.pack(item)
            except (struct.error, TypeError, OverflowError):
                data = self._items(item, True)  # NumPy's conversion (and its error)
        else:
            data = self._items(item, True)
        self._write(data, timeout)

    def insert_many(self, items: Any, timeout: Optional[float] = None) -> None:
        """Append an array (or array-like) of items as one copy and one commit: all of them or
        none. Overwrite-oldest: drops the oldest items to make room; of more items than the ring
        holds only the last ``capacity`` stay (the others count as dropped), as
        ``deque(maxlen).extend`` does. Reject-when-full: waits up to timeout seconds until all of
        them fit (FullError), and more than ``capacity`` items is InvalidSizeError."""
        self._write(self._items(items, False), timeout)

    async def insert_async(self, item: Any, timeout: Optional[float] = None) -> None:
        """insert() for asyncio: awaits the producer's doorbell (no thread, no polling) while a
        reject-when-full ring is full. FullError after timeout seconds (None: no limit);
        ClosedError if the ring is closed meanwhile. Cancelling writes nothing: the item is
        written only when it fits, with no await after it."""
        data = self._items(item, True)

        def attempt():
            return None if self._poll_write(data) else _NOT_YET
        await _async.wait_until(self, "producer", attempt, timeout, 1)

    # --- Reading ----------------------------------------------------------------------------

    def consume(self, timeout: Optional[float] = None) -> Any:
        """Remove and return the oldest item, waiting up to timeout seconds (None: no limit;
        0: no wait): a NumPy scalar (``np.void`` for a structured dtype; an array for a
        sub-array dtype). EmptyError when the time is up; EndOfStreamError once the producer
        closed the stream and every item was read."""
        data = self._read(1, timeout)
        if not data:
            raise EmptyError("ring is empty" if timeout == 0 else "ring is empty: no item within the timeout")
        codec = self._codec  # self._item(data), inline: the hot path
        if codec is not None:
            return self._scalar(codec.unpack(data)[0])
        return self._array(data)[0]

    def _item(self, data) -> Any:
        """The one item in data, as NumPy gives it (a scalar in native byte order, np.void, or
        an array for a sub-array dtype)."""
        if self._codec is not None:
            return self._scalar(self._codec.unpack(data)[0])
        return self._array(data)[0]

    def consume_many(self, n: int, timeout: Optional[float] = None):
        """Remove and return up to n of the oldest items as an array (a copy), waiting up to
        timeout seconds for the first (None: no limit); an empty array if none came in time.
        EndOfStreamError once the stream was closed and every item was read."""
        return self._array(self._read(_count(n, "n"), timeout))

    def consume_view(self, n: Optional[int] = None, timeout: Optional[float] = None) -> "_Lend":
        """Read up to n unread items in place, without a copy, and consume them when the block
        ends::

            with ring.consume_view(4096, timeout=1.0) as items:   # a read-only ndarray view
                total += items.sum()

        Waits up to timeout seconds (None: no limit) for one item; an empty array when the time
        runs out. In a double-mapped ring every unread item is in the view (up to n); mapped
        once, those before the end of the region. Inside the block other reads of this ring
        raise BusyError. The block's end consumes the items (all of them; none if the block
        raised); after it the array still points into the ring, whose producer may reuse that
        memory: copy what you keep. Under overwrite-oldest the producer may drop items while they
        are viewed: the block's end then raises OverwrittenError, whose ``dropped`` says how many
        of the first items were dropped (what was read of them is not to be trusted; the rest
        were consumed). EndOfStreamError once the stream is closed and drained."""
        limit = self.capacity if n is None else _count(n, "n")
        items, count = self._lend(limit, timeout)
        return _Lend(self, None if items is None else self._array(items), count)

    def consume_all(self):
        """Remove and return every item there is now as an array (a copy; empty if there are
        none, also at the end of the stream). Never waits."""
        try:
            # As many as there are now (at least room for one: the read says if there is one).
            return self._array(self._read(max(len(self), 1), 0))
        except EndOfStreamError:
            return self._array(bytearray())

    def unwrapped(self, copy: bool = False):
        """Every unread item, oldest to newest, without consuming any.

        On a double-mapped ring (``is_double_mapped``) and without copy, a read-only view: a
        window onto the ring's live memory, not a snapshot. Its contents are the unread items
        at the time of the call and stay so until the next consume (and, under overwrite-oldest,
        until the producer next writes: a concurrent producer may overwrite viewed items
        meanwhile). While a view is alive, close() raises BufferError. ``copy=True``, or a ring
        mapped once, gives a writable snapshot (under overwrite-oldest taken again if the
        producer dropped items while it was copied).
        """
        return self._array(self._peek(-1, copy))

    def latest(self, n: int, copy: bool = False):
        """The newest n unread items (fewer if there are fewer), oldest first, without consuming
        any: a view on a double-mapped ring unless copy, else a copy, as unwrapped()."""
        return self._array(self._peek(_count(n, "n"), copy))

    def __iter__(self) -> Iterator[Any]:
        """Consume items as they arrive until the end of the stream."""
        while True:
            try:
                yield self.consume()
            except EndOfStreamError:
                return

    async def consume_async(self, timeout: Optional[float] = None) -> Any:
        """consume() for asyncio: awaits the consumer's doorbell (loop.add_reader on fileno();
        no thread, no polling). EmptyError after timeout seconds (None: no limit);
        EndOfStreamError at the end of the stream; ClosedError if the ring is closed meanwhile.
        Cancelling loses nothing: the item is taken only when one is there, with no await after."""
        def attempt():
            data = self._poll_read()
            return _NOT_YET if data is None else self._item(data)
        return await _async.wait_until(self, "consumer", attempt, timeout)

    # --- The doorbell, for select, poll and epoll (as Ring's) --------------------------------

    def fileno(self) -> int:
        """The consumer's doorbell descriptor (taking the consumer role if needed), for select,
        poll and epoll: arm(); if True, wait until readable, disarm(), consume without waiting.
        Readable also after 100 ms without news. It belongs to the ring: do not close it."""
        return self._bell("consumer", True)[0]

    def arm(self) -> bool:
        """Arm the consumer's doorbell: False if an item (or the end of the stream) is there now,
        True if armed (wait for fileno(), then disarm())."""
        return self._arm("consumer", 0, True)

    def disarm(self) -> None:
        """Take the armed consumer doorbell out of the waiter count and consume its readiness."""
        self._disarm("consumer", True)

    def writer_fileno(self) -> int:
        """The producer's doorbell descriptor (taking the producer role if needed): as fileno(),
        for room (arm_writer, disarm_writer)."""
        return self._bell("producer", True)[0]

    def arm_writer(self, count: int = 1) -> bool:
        """Arm the producer's doorbell for room for count items: False if they fit now (or the
        ring overwrites), True if armed."""
        return self._arm("producer", _count(count, "count"), True)

    def disarm_writer(self) -> None:
        """As disarm(), for the producer's doorbell."""
        self._disarm("producer", True)

    def close(self) -> None:
        """Release the roles and the mapping (idempotent). Tasks awaiting the ring fail with
        ClosedError and its descriptors leave their event loops. BufferError while an array
        from unwrapped() or latest() (a view of the mapping) is alive."""
        _async.release(self)
        super().close()

    def __exit__(self, *exc_info) -> bool:
        """Close the ring."""
        self.close()
        return False

    def __aiter__(self) -> AsyncIterator[Any]:
        """``async for item in ring``: until the end of the stream."""
        return self._consumed()

    async def _consumed(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.consume_async()
            except EndOfStreamError:
                return

    # mm_toolbox NumericRingBuffer's names.
    aconsume = consume_async

    def aconsume_iterable(self) -> AsyncIterator[Any]:
        """``async for item in ring.aconsume_iterable()``: items as they arrive, until the end
        of the stream (mm_toolbox's name for ``async for item in ring``)."""
        return self._consumed()

    def __repr__(self) -> str:
        state = "closed" if self.closed else (f"dtype={self._dtype} capacity={self.capacity} "
                                              f"policy={self.policy.name}")
        return f"<ringpy.ItemRing {self.path!r} {state}>"
