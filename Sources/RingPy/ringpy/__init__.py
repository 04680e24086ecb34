"""ringpy: RingFormat shared-memory ring buffer files for Python (format: SPEC.md 1.1).

A ring is a file of length-prefixed messages shared through mmap by one producer and one
consumer, in any processes and languages (Swift, C, Python). Bytes in, bytes out::

    import ringpy
    with ringpy.Ring.create("/dev/shm/events", 1 << 20, exist_ok=True) as ring:
        ring.put(b"hello")
        assert ring.get() == b"hello"

A ring created with ``readers=N`` (format 1.1) has several readers instead of one consumer:
each ``ring.reader()`` reads every message on a cursor of its own (SPEC.md §17). A ring
created with ``producers=N`` (format 1.1) has several producers: up to N Ring objects, in any
processes, write into it at once with the usual put calls (SPEC.md §18).

The native core (``_ringpy``) is a C extension over libringformat.so, which ships inside
this package; no Swift installation is needed at run time.
"""

from __future__ import annotations

import enum
import os
from typing import AsyncIterator, Iterator, List, NamedTuple, Optional, Union

from ._ringpy import (
    ABI_VERSION,
    FORMAT_VERSION,
    BusyError,
    ClosedError,
    CorruptError,
    EmptyError,
    EndOfStreamError,
    ForkedError,
    FullError,
    InvalidSizeError,
    ItemView,
    OverwrittenError,
    ProducerGoneError,
    ReaderBase as _ReaderBase,
    RecordView,
    RingBase as _RingBase,
    RingError,
    UnsupportedVersionError,
)

from . import _async
from ._async import NOT_YET as _NOT_YET
from ._inprocess import ObjectRing

try:  # written by setup.py from the file VERSION
    from ._version import __version__
except ImportError:  # an editable install: the installed metadata has it
    from importlib.metadata import version as _distribution_version

    __version__ = _distribution_version("ringpy")

__all__ = [
    "ABI_VERSION", "FORMAT_VERSION", "BusyError", "ClosedError", "CorruptError", "EmptyError",
    "EndOfStreamError", "ForkedError", "FullError", "InvalidSizeError", "ItemRing", "ItemView", "MemMapRingBuffer", "ObjectRing", "OverwrittenError", "ProducerGoneError", "SlotRing",
    "Policy", "ProducerInfo", "Reader", "ReaderInfo", "RecordView", "Ring", "RingError", "UnsupportedVersionError", "__version__",
]

class Policy(enum.IntEnum):
    """What a full ring does (SPEC.md §9)."""

    #: The writer is told the ring is full (put waits, try_put returns False).
    REJECT_WHEN_FULL = 0
    #: The writer drops the oldest messages, like collections.deque(maxlen).
    OVERWRITE_OLDEST = 1


from ._items import ItemRing  # noqa: E402 - after Policy, which _items imports
from ._slots import SlotRing  # noqa: E402 - after ItemRing


# Flags of ring_reader_options_t and ring_reader_info_t (ringformat.h).
_READER_LAPPING = 1
_READER_NEWEST = 2
_INFO_GATING = 1
_INFO_DURABLE = 2
_INFO_LIVE = 4
# Flags of ring_producer_info_t (ringformat.h).
_PRODUCER_LIVE = 1
_PRODUCER_CLAIMING = 2
_PRODUCER_HELD = 4
#: The longest gate timeout the reader table holds (a u32 of milliseconds).
_GATE_TIMEOUT_MAX_MS = (1 << 32) - 1


class _Reading:
    """What a Ring and a Reader both do with their read methods (get, _poll_get, _pending,
    _bell, _arm, _disarm): iteration, queue.Queue's read methods, asyncio and the doorbell."""

    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        """Yield messages as they arrive until the end of the stream (with
        stop_when_producer_gone: ProducerGoneError once drained after the producer died)."""
        while True:
            try:
                yield self.get()
            except EndOfStreamError:
                return

    def get_nowait(self) -> bytes:
        """get(block=False), as queue.Queue.get_nowait: the oldest message, or EmptyError at once."""
        return self.get(False)

    def qsize(self) -> int:
        """The unread messages, in O(1) (as len()): a Ring's, or a Reader's own (SPEC.md §22.2)."""
        return self._pending()

    def empty(self) -> bool:
        """True if there is no message to read now (queue.Queue.empty; O(1))."""
        return self._pending() == 0

    # --- asyncio ---------------------------------------------------------------------------

    async def get_async(self, timeout: Union[float, None] = None) -> bytes:
        """get() for asyncio: awaits the doorbell (loop.add_reader on fileno()), no thread,
        no polling. EmptyError after timeout seconds (None: no limit); EndOfStreamError at
        the end of the stream; ClosedError if the ring is closed meanwhile; ProducerGoneError
        as get(). Cancelling loses nothing: the message is taken only when one is there,
        with no await after it."""
        return await _async.wait_until(self, "consumer", self._attempt_get, timeout)

    def _attempt_get(self):
        message = self._poll_get()
        return _NOT_YET if message is None else message

    async def get_many_async(self, max_items: int, timeout: Union[float, None] = None) -> List[bytes]:
        """Up to max_items messages at once, awaiting the first as get_async does (EmptyError
        after timeout seconds, None: no limit); the rest are those there now."""
        def attempt():
            messages = self.get_many(max_items, timeout=0)
            return messages if messages or max_items == 0 else _NOT_YET
        return await _async.wait_until(self, "consumer", attempt, timeout)

    def __aiter__(self) -> AsyncIterator[bytes]:
        """``async for message in ring``: until the end of the stream, as get_async."""
        return self._messages()

    async def _messages(self) -> AsyncIterator[bytes]:
        while True:
            try:
                yield await self.get_async()
            except EndOfStreamError:
                return

    # --- The doorbell, for select, poll and epoll --------------------------------------------

    def fileno(self) -> int:
        """The reading side's doorbell descriptor (SPEC.md §21), for select, poll and epoll (a
        Ring takes its consumer role here, if it has not yet). It is readable only while
        armed: arm(); if that returns True, wait until the descriptor is readable, disarm(),
        then read without waiting (get(block=False), try_get) and arm again when empty. It
        also turns readable after 100 ms without news; read, and arm again. It belongs to
        the ring object: do not close it (close() does)."""
        return self._bell("consumer", True)[0]

    def arm(self) -> bool:
        """Arm the reading side's doorbell (fileno()): False if a message (or the end of the
        stream) is there now (nothing armed: read); True if armed: wait for fileno() to be
        readable, then disarm() promptly (while armed, every commit of the producer costs it
        a wake-up call)."""
        return self._arm("consumer", 0, True)

    def disarm(self) -> None:
        """Take the armed doorbell out of the ring's waiter count and consume its readiness.
        Idempotent."""
        self._disarm("consumer", True)


class ReaderInfo(NamedTuple):
    """One reader of a ring, as its reader table shows it (Ring.readers())."""

    #: The slot number in the reader table.
    slot: int
    #: The durable reader's name; None for an anonymous reader.
    name: Optional[str]
    #: It gates the producer (reject-when-full: nothing it has not read is reclaimed).
    gating: bool
    #: It is durable (named): its slot and cursor stay when it closes or dies.
    durable: bool
    #: A live process holds its slot (a durable reader may be away).
    live: bool
    #: The position of the next record it reads.
    cursor: int
    #: Bytes between its cursor and the producer.
    lag_bytes: int
    #: Messages it missed because the producer lapped it.
    missed_count: int


class ProducerInfo(NamedTuple):
    """One producer of a ring with a producer table, as the table shows it (Ring.producers())."""

    #: The slot number in the producer table.
    slot: int
    #: A live process holds its slot (a producer that died leaves its slot for the next one).
    live: bool
    #: Where its claim in progress starts (it is writing, or died or stopped while writing);
    #: None when it has none.
    claim_start: Optional[int]
    #: That claim was cancelled while the producer lived (it was stopped for longer than the
    #: claim timeout): its bytes are held until it resumes (and writes again) or dies.
    held: bool
    #: Messages committed through this slot (by every producer that held it).
    committed_count: int
    #: Claims of this slot that were cancelled (and written again by a live producer).
    cancelled_count: int


class Ring(_RingBase, _Reading):
    """An open ring file.

    Create one with ``Ring.create(path, capacity, policy)`` or open an existing one with
    ``Ring.open(path)``. The producer role is taken on the first put-like call, the
    consumer role on the first get-like call; another holder of a role raises BusyError.
    close() (or leaving a with-block) releases both. A Ring may be shared by threads:
    blocking calls release the GIL and can be interrupted with Ctrl-C.

    A ring created with ``readers=N`` has no consumer role (get-like calls raise
    ValueError): up to N readers join it with ``ring.reader()``, each reading every message.

    A ring created with ``producers=N`` (reject-when-full) has a producer table instead of
    the single producer role: the first put-like call of a Ring takes one of its N slots
    (BusyError when all are taken), and up to N Rings, in any processes, write at once with
    put, try_put, put_many, put_async and close_writer as usual. The consumer (or every
    reader) gets each message once and whole; the messages of one producer keep their order.
    The stream ends when the last producer leaves with close_writer().

    queue.Queue's methods work as there: get(block=True, timeout=None), put(item, block=True,
    timeout=None), get_nowait, put_nowait, qsize, empty, full; EmptyError and FullError are
    queue.Empty and queue.Full. asyncio: get_async, get_many_async, put_async, ``async for``,
    on the ring's doorbells (no threads). fileno() is the reading side's doorbell for select
    and epoll (writer_fileno() the writing side's).
    """

    __slots__ = ("_bells",)

    @property
    def policy(self) -> Policy:
        """What a full ring does."""
        return Policy(self._policy)

    def stats(self) -> dict:
        """A snapshot: capacity, max_message_size, policy, version, producer_position,
        consumer_position, used_bytes, message_count, dropped_count, writer_closed,
        reader_slots, producer_slots, producer_alive, consumer_alive. On a ring with readers
        consumer_position is tailPosition (the oldest record still in the ring, SPEC.md §17.3),
        and used_bytes and message_count (and len()) count the records from there: what the
        slowest reader may still read, not what any one reader has left (Reader.qsize()).
        producer_alive and consumer_alive as the properties (SPEC.md §22.1; consumer_alive, on
        a ring with readers: some live reader)."""
        stats = self._stats()
        stats["policy"] = Policy(stats["policy"])
        stats["producer_alive"] = self.producer_alive
        stats["consumer_alive"] = self.consumer_alive
        return stats

    def put_nowait(self, data) -> None:
        """put(data, block=False), as queue.Queue.put_nowait: FullError at once if it does not fit."""
        self.put(data, False)

    def full(self) -> bool:
        """True if a put of an empty message would not fit now (queue.Queue.full): never under
        overwrite-oldest, whose put never waits. A Ring holding the producer role asks it (O(1),
        exact); another one judges from a snapshot of the positions, as stats() (which walks the
        records of a ring without counts)."""
        if self.policy == Policy.OVERWRITE_OLDEST:
            return False
        fits = self._room_now(0)
        if fits is not None:
            return not fits
        stats = self._stats()
        capacity = stats["capacity"]
        # An empty message takes one record header: 8 bytes, 16 in a ring with readers (it
        # carries the index, SPEC.md §17.2); where the region's end is closer, a padding record
        # first fills the rest (SPEC.md §6.3).
        record = 16 if self.reader_slots else 8
        to_end = capacity - stats["producer_position"] % capacity
        need = record if to_end >= record else to_end + record
        return capacity - stats["used_bytes"] < need

    def reader(self, name: Optional[str] = None, *, gating: bool = True, start: str = "oldest",
               gate_timeout: float = 10.0) -> "Reader":
        """Join the ring as one of its readers (a ring created with ``readers=N``, SPEC.md §17).

        The Reader reads every message from where it joined, on a cursor of its own, with
        the read API of a Ring (get, try_get, get_many, get_view, peek_all, iteration,
        get_async, ``async for``). gating (reject-when-full only): the producer never
        reclaims a message this reader has not read (it waits for it, or put raises
        FullError); gating=False: a lapping reader that never holds the producer back, skips
        to the oldest message when the producer laps it and counts what it missed
        (missed_count). Under overwrite-oldest every reader is lapping: gating=True raises
        ValueError there. start: "oldest" (the oldest message still in the ring) or
        "newest" (only messages committed from now on). name (at most 63 bytes of UTF-8)
        makes the reader durable: its slot and cursor stay when it closes or its process
        dies, and a reader that joins with the same name resumes there (counting in
        missed_count what was reclaimed meanwhile); gate_timeout (seconds) is how long a
        durable gating reader that died still holds the producer back.

        Raises BusyError when every slot is taken or another live reader uses the name,
        ValueError on a ring without a reader table, for a gating reader under
        overwrite-oldest and for a bad name.
        """
        if start not in ("oldest", "newest"):
            raise ValueError(f"start must be 'oldest' or 'newest', not {start!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a reader name must be a str or None, not {type(name).__name__}")
        if isinstance(gate_timeout, bool) or not isinstance(gate_timeout, (int, float)):
            raise TypeError(f"gate_timeout must be a number of seconds, not {type(gate_timeout).__name__}")
        if not gate_timeout >= 0:
            raise ValueError(f"gate_timeout must be a non-negative number of seconds, not {gate_timeout!r}")
        gate_ms = _GATE_TIMEOUT_MAX_MS if gate_timeout * 1000 >= _GATE_TIMEOUT_MAX_MS else round(gate_timeout * 1000)
        flags = (0 if gating else _READER_LAPPING) | (_READER_NEWEST if start == "newest" else 0)
        return self._reader(Reader, name, flags, gate_ms)

    def readers(self) -> List[ReaderInfo]:
        """The readers in the ring's reader table, live or not (a durable reader stays after
        it closed or died); [] on a ring without a reader table."""
        return [ReaderInfo(slot, name, bool(flags & _INFO_GATING), bool(flags & _INFO_DURABLE),
                           bool(flags & _INFO_LIVE), cursor, lag, missed)
                for slot, name, flags, cursor, lag, missed in self._readers()]

    def producers(self) -> List[ProducerInfo]:
        """The producers in the ring's producer table (a ring created with ``producers=N``):
        every slot a producer holds, or that a dead or stopped producer left with a claim in
        progress; [] on a ring without a producer table."""
        return [ProducerInfo(slot, bool(flags & _PRODUCER_LIVE),
                             claim_start if flags & _PRODUCER_CLAIMING else None,
                             bool(flags & _PRODUCER_HELD), committed, cancelled)
                for slot, flags, claim_start, committed, cancelled in self._producers()]

    # mm_toolbox's ring buffer names (BytesRingBuffer).
    def insert(self, data, timeout: Union[float, None] = None) -> None:
        """put(data, timeout=timeout) (mm_toolbox's name; its second argument is the timeout)."""
        self.put(data, timeout=timeout)

    def consume(self, timeout: Union[float, None] = None) -> bytes:
        """get(timeout=timeout) (mm_toolbox's name; its argument is the timeout)."""
        return self.get(timeout=timeout)

    #: unwrapped(): peek_all(), every unread message, oldest first, not consumed.
    unwrapped = _RingBase.peek_all

    def consume_all(self) -> List[bytes]:
        """Every message there is now, oldest first, consumed ([] if there are none, also at
        the end of the stream). Never waits."""
        try:
            return self.get_many(self.capacity, timeout=0)
        except EndOfStreamError:
            return []

    async def put_async(self, data, timeout: Union[float, None] = None) -> None:
        """put() for asyncio: awaits the producer's doorbell (no thread, no polling) while the
        ring is full. FullError after timeout seconds (None: no limit); ClosedError if the
        ring is closed meanwhile. Cancelling writes nothing: the message is written only when
        it fits, with no await after it."""
        size = memoryview(data).nbytes  # TypeError for what is not bytes-like, before any wait

        def attempt():
            return None if self._poll_put(data) else _NOT_YET
        await _async.wait_until(self, "producer", attempt, timeout, size)

    def writer_fileno(self) -> int:
        """The writing side's doorbell descriptor (takes the producer role if this Ring has not
        yet), for waiting for room in select or epoll: arm_writer(size), wait until readable,
        disarm_writer(), then put(block=False). As fileno(), it belongs to the ring."""
        return self._bell("producer", True)[0]

    def arm_writer(self, size: int = 0) -> bool:
        """Arm the writing side's doorbell for room for a message of size bytes: False if it
        fits now (or the ring overwrites), True if armed (wait for writer_fileno(), then
        disarm_writer())."""
        return self._arm("producer", size, True)

    def disarm_writer(self) -> None:
        """As disarm(), for the writing side's doorbell."""
        self._disarm("producer", True)

    def close(self) -> None:
        """Release the roles and the file (idempotent). Tasks awaiting this ring (get_async,
        put_async, ``async for``) fail with ClosedError and its descriptors leave their event
        loops. BufferError while a memoryview of a RecordView is alive."""
        _async.release(self)
        super().close()

    def __exit__(self, *exc_info) -> bool:
        """Close the ring."""
        self.close()
        return False

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"capacity={self.capacity} policy={self.policy.name}"
        if not self.closed and self.reader_slots:
            state += f" reader_slots={self.reader_slots}"
        if not self.closed and self.producer_slots:
            state += f" producer_slots={self.producer_slots}"
        return f"<ringpy.Ring {self.path!r} {state}>"


class Reader(_ReaderBase, _Reading):
    """One reader of a ring with a reader table (made by ``Ring.reader()``, SPEC.md §17).

    It has the read API of a Ring (get, try_get, get_many, get_view, peek_all, iteration,
    get_async, ``async for``) on a cursor of its own: every reader of a ring reads every
    message from where it joined, whatever the others do. It cannot write (the Ring does).
    The end of the stream (close_writer) reaches every reader once it has read the rest.

    close() (or leaving a with-block) leaves the ring: an anonymous reader's slot is freed,
    a durable (named) one's stays for the next reader of that name. A Reader is a handle of
    its own: it keeps its Ring object alive, and ring.close() does not close it. Like a Ring
    it may be shared by threads and belongs to the process that made it (ForkedError in a
    child of fork()).
    """

    __slots__ = ("_bells",)

    def __len__(self) -> int:
        """The messages this reader has not read yet, in O(1) (qsize())."""
        return self._pending()

    def close(self) -> None:
        """Leave the ring: an anonymous reader's slot is freed, a durable one's stays (with its
        cursor) for the next reader of that name. Idempotent. Tasks awaiting this reader fail
        with ClosedError. BufferError while a memoryview of a RecordView is alive."""
        _async.release(self)
        super().close()

    def leave(self) -> None:
        """Close the reader and free its slot, a durable reader's too (its name is given up)."""
        _async.release(self)
        super().leave()

    def __exit__(self, *exc_info) -> bool:
        """Close the reader."""
        self.close()
        return False

    def __repr__(self) -> str:
        return f"<ringpy.Reader of {self.ring.path!r}{' closed' if self.closed else ''}>"


class MemMapRingBuffer:
    """Drop-in replacement for mmringbuffer 0.0.2's MemMapRingBuffer: a persisted
    ``collections.deque(maxlen)`` of str or bytes items (overwrite-oldest).

    Opens the ring at file_path if there is one (keeping its unread items), else creates
    it with the given capacity in bytes (an existing ring keeps its own capacity, as a
    persisted deque does). An existing file is used only if this user owns
    it and no one else may write it (PermissionError otherwise), unless allow_shared.
    Items come back with the type they were put with: each message carries a one-byte
    tag, ``s`` (UTF-8 text) or ``b`` (bytes).

    Messages written to the same ring by other APIs (``Ring.put``, C, Swift) carry no
    tag: ``get`` checks a message before it consumes it, and raises ValueError for one
    that is not a tagged item, leaving it in the ring for ``Ring.get`` to read. (A
    foreign message that happens to start with ``b`` is read as bytes without it.)
    """

    _TEXT = b"s"
    _BYTES = b"b"

    def __init__(self, file_path: Union[str, os.PathLike], capacity: int, *, allow_shared: bool = False) -> None:
        self._ring = Ring.create(file_path, capacity, Policy.OVERWRITE_OLDEST, exist_ok=True,
                                 allow_shared=allow_shared, any_geometry=True)

    def put(self, item: Union[str, bytes]) -> None:
        """Append an item; the oldest items make room when the buffer is full."""
        if isinstance(item, str):
            self._ring.put(self._TEXT + item.encode("utf-8"))
        elif isinstance(item, (bytes, bytearray, memoryview)):
            self._ring.put(self._BYTES + bytes(item))
        else:
            raise TypeError(f"MemMapRingBuffer items are str or bytes, not {type(item).__name__}")

    def get(self) -> Union[str, bytes]:
        """Remove and return the oldest item; IndexError when empty. ValueError (and
        nothing consumed) for a message that is not a tagged item (see the class)."""
        while True:
            try:
                view = self._ring.get_view(timeout=0)
            except EmptyError:
                raise IndexError("get from an empty MemMapRingBuffer") from None
            except OverwrittenError:
                continue  # the producer took it meanwhile: the next one is the oldest
            with view:  # consumed at the end of the block, given back if it raises
                message = bytes(view)
                item = self._decode(message)
            return item

    @classmethod
    def _decode(cls, message: bytes) -> Union[str, bytes]:
        """The item a tagged message holds; ValueError for any other message."""
        tag, body = message[:1], message[1:]
        if tag == cls._BYTES:
            return body
        if tag == cls._TEXT:
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"a text item that is not UTF-8 ({e}); left in the ring") from None
        raise ValueError(f"a message of {len(message)} bytes that is not a MemMapRingBuffer item "
                         f"(no 's' or 'b' tag); left in the ring: read it with Ring.get")

    def empty(self) -> bool:
        """True if there is nothing to get."""
        return len(self._ring) == 0

    def flush(self) -> None:
        """Make the buffer's state durable in the file (msync)."""
        self._ring.flush()

    def clear(self) -> None:
        """Remove every item."""
        while self._ring.get_many(4096):
            pass

    def close(self) -> None:
        """Release the file."""
        self._ring.close()

    def __len__(self) -> int:
        return len(self._ring)
