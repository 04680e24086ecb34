"""SlotRing: mm_toolbox's BytesRingBufferFast in shared memory — byte strings in
pre-allocated fixed-size slots (SPEC.md §19: a typed ring whose item is a length and a slot).

Each item is ``{length:<u4@0,data:|VN@4}`` (N the slot size, the item padded to a multiple
of 8 bytes): an insert copies the bytes into the next slot, an insert longer than the slot
raises ValueError (nothing is truncated), and a consume copies the slot's first ``length``
bytes out. Being a typed ring, it lives in a file or in anonymous shared memory and is read
by any process or language that reads typed rings::

    ring = ringpy.SlotRing.anonymous(slot_size=64, capacity=1024)
    ring.insert(b"alpha")
    ring.consume()          # b"alpha"
"""

from __future__ import annotations

import os
import struct
from typing import Any, AsyncIterator, Iterator, List, Optional, Union

from . import Policy, _itemtype
from ._items import ItemRing

__all__ = ["SlotRing"]

_LENGTH = struct.Struct("<I")


def slot_description(slot_size: int) -> str:
    """The type description of a slot of `slot_size` bytes: a u4 length, then the bytes,
    the item padded to a multiple of 8 bytes (SPEC.md §19.2)."""
    if isinstance(slot_size, bool) or not isinstance(slot_size, int) or slot_size < 1:
        raise ValueError(f"slot_size must be a positive int, not {slot_size!r}")
    size = (4 + slot_size + 7) & ~7
    return "{length:<u4@0,data:|V%d@4}%d" % (slot_size, size)


class SlotRing:
    """Byte strings of at most ``slot_size`` bytes in fixed-size slots of a typed ring.

    The mm_toolbox BytesRingBufferFast API: ``insert`` (ValueError when longer than a slot),
    ``consume`` (the oldest), ``consume_all``, ``unwrapped`` (oldest to newest, not
    consumed), ``aconsume`` / ``aconsume_iterable``, ``len``, ``is_empty``/``is_full``;
    ``only_insert_unique=True`` skips an insert equal to an unread entry (a linear scan, as
    mm_toolbox does; it reads the ring, so it takes the consumer role too: use it where one
    object both inserts and consumes). Overwrite-oldest by default, as mm_toolbox.
    """

    def __init__(self, ring: ItemRing, *, only_insert_unique: bool = False) -> None:
        """Wraps an open typed ring whose items are slots (see `slot_description`)."""
        names = ring.dtype.names or ()
        if names != ("length", "data") or ring.dtype["length"].str != "<u4":
            raise ValueError(f"{ring.type_description!r} is not a slot ring's item type")
        self._ring = ring
        self._dtype = ring.dtype
        self._item = ring.dtype.itemsize
        self.slot_size: int = ring.dtype["data"].itemsize
        self.only_insert_unique = bool(only_insert_unique)

    @classmethod
    def create(cls, path: Union[str, bytes, os.PathLike], slot_size: int, capacity: int, *,
               policy: Union[Policy, int, str] = Policy.OVERWRITE_OLDEST, only_insert_unique: bool = False,
               **options: Any) -> "SlotRing":
        """A new slot ring file of at least `capacity` slots of `slot_size` bytes (options as
        ItemRing.create: mode, exist_ok, replace, double_map)."""
        ring = ItemRing.create(path, _itemtype.parse(slot_description(slot_size)), capacity, policy=policy, **options)
        return cls(ring, only_insert_unique=only_insert_unique)

    @classmethod
    def anonymous(cls, slot_size: int, capacity: int, *, policy: Union[Policy, int, str] = Policy.OVERWRITE_OLDEST,
                  only_insert_unique: bool = False, **options: Any) -> "SlotRing":
        """A slot ring without a file (anonymous shared memory; share it with os.fork())."""
        ring = ItemRing.anonymous(_itemtype.parse(slot_description(slot_size)), capacity, policy=policy, **options)
        return cls(ring, only_insert_unique=only_insert_unique)

    @classmethod
    def open(cls, path: Union[str, bytes, os.PathLike], *, only_insert_unique: bool = False) -> "SlotRing":
        """Opens an existing slot ring file."""
        return cls(ItemRing.open(path), only_insert_unique=only_insert_unique)

    @property
    def ring(self) -> ItemRing:
        """The typed ring underneath."""
        return self._ring

    @property
    def capacity(self) -> int:
        """Slots in the ring."""
        return self._ring.capacity

    def _slot(self, data: Any) -> bytes:
        """The item bytes of `data`: its length, its bytes, zero padding."""
        view = memoryview(data).cast("B")
        if len(view) > self.slot_size:
            raise ValueError(f"{len(view)} bytes do not fit in a slot of {self.slot_size} bytes")
        return _LENGTH.pack(len(view)) + view.tobytes() + bytes(self._item - 4 - len(view))

    def _bytes(self, item: Any) -> bytes:
        """The byte string an item holds."""
        raw = item.tobytes()
        (length,) = _LENGTH.unpack_from(raw)
        if length > self.slot_size:
            # A peer wrote a length no slot holds: refuse it rather than read past the slot.
            raise ValueError(f"a slot says it holds {length} bytes, more than its {self.slot_size}")
        return raw[4:4 + length]

    def insert(self, data: Any, timeout: Optional[float] = None) -> None:
        """Copies `data` (bytes-like) into the next slot. ValueError if longer than a slot."""
        slot = self._slot(data)
        if self.only_insert_unique and slot[4:4 + _LENGTH.unpack_from(slot)[0]] in self.unwrapped():
            return
        self._ring.insert_many(self._frombuffer(slot), timeout=timeout)

    def insert_char(self, data: Any, timeout: Optional[float] = None) -> None:
        """`insert` for C-string-like data (bytes, bytearray, memoryview): mm_toolbox's name."""
        self.insert(data, timeout=timeout)

    def _frombuffer(self, raw: bytes):
        from ._items import _numpy

        return _numpy().frombuffer(raw, dtype=self._dtype)

    def consume(self, timeout: Optional[float] = None) -> bytes:
        """The oldest entry, consumed (EmptyError after `timeout`, EndOfStreamError at the end)."""
        return self._bytes(self._ring.consume(timeout=timeout))

    def consume_all(self) -> List[bytes]:
        """Every unread entry, oldest first, consumed (an empty list if none)."""
        return [self._bytes(item) for item in self._ring.consume_all()]

    def unwrapped(self) -> List[bytes]:
        """Every unread entry, oldest first, not consumed."""
        return [self._bytes(item) for item in self._ring.unwrapped(copy=True)]

    async def aconsume(self, timeout: Optional[float] = None) -> bytes:
        """`consume` for asyncio."""
        return self._bytes(await self._ring.consume_async(timeout=timeout))

    async def aconsume_iterable(self) -> AsyncIterator[bytes]:
        """Entries as they come, until the end of the stream."""
        async for item in self._ring:
            yield self._bytes(item)

    def __iter__(self) -> Iterator[bytes]:
        """Consumes entries until the end of the stream."""
        for item in self._ring:
            yield self._bytes(item)

    def __len__(self) -> int:
        return len(self._ring)

    def is_empty(self) -> bool:
        """Whether no entry is unread."""
        return self._ring.is_empty()

    def is_full(self) -> bool:
        """Whether every slot holds an unread entry."""
        return self._ring.is_full()

    def close_writer(self) -> None:
        """Ends the stream."""
        self._ring.close_writer()

    def close(self) -> None:
        """Closes the ring."""
        self._ring.close()

    def __enter__(self) -> "SlotRing":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
