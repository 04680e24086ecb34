"""ringpy: RingFormat shared-memory ring buffer files for Python (format: SPEC.md 1.1).

A ring is a file of length-prefixed messages shared through mmap by one producer and one
consumer, in any processes and languages (Swift, C, Python). Bytes in, bytes out. A ring
created with readers=N (format 1.1) has up to N readers instead of the consumer, each
reading every message on a cursor of its own (Ring.reader(), SPEC.md §17). A ring created
with producers=N (format 1.1) has up to N producers writing at once, in any processes
(SPEC.md §18).
"""

import enum
import os
import queue
from collections.abc import AsyncIterator, Iterable, Iterator
from types import TracebackType
from typing import Any, Final, List, Literal, NamedTuple, Optional, TypedDict, Union

from typing_extensions import Buffer, Self
from ._inprocess import ObjectRing as ObjectRing

__version__: Final[str]
#: Newest format version this module reads and writes, as (major, minor).
FORMAT_VERSION: Final[tuple[int, int]]
#: Version of the C ABI the module was built against.
ABI_VERSION: Final[int]

StrPath = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]

class Policy(enum.IntEnum):
    """What a full ring does (SPEC.md §9)."""

    #: The writer is told the ring is full (put waits, try_put returns False).
    REJECT_WHEN_FULL = 0
    #: The writer drops the oldest messages, like collections.deque(maxlen).
    OVERWRITE_OLDEST = 1

PolicyLike = Union[Policy, int, Literal["reject_when_full", "overwrite_oldest"]]

# Errors: the same names as Swift's RingError and C's RING_ERR_* (SPEC.md §15).
class RingError(Exception):
    """Base class of every ringpy error."""

class FullError(RingError, queue.Full):
    """No room for the message (reject-when-full), or put's timeout passed."""

    #: How many messages the failed call wrote before it gave up: put_many's first
    #: `written` items are in the ring (a retry sends items[written:]); 0 for put.
    written: int

class EmptyError(RingError, queue.Empty):
    """No message to read, or get's timeout passed."""

class InvalidSizeError(RingError, ValueError):
    """A message over max_message_size, or a bad capacity."""

class ClosedError(RingError, ValueError):
    """The ring object was closed, or (for writes) its stream was ended by close_writer()."""

class EndOfStreamError(RingError, EOFError):
    """The producer closed the stream and every message has been read."""

class CorruptError(RingError):
    """The file holds values no valid ring holds (the message says which)."""

class UnsupportedVersionError(RingError):
    """Another major format version, or unknown incompatible features."""

class BusyError(RingError):
    """Another handle (in this or another process) holds the producer or consumer role; or
    every producer slot of a ring created with producers=N is taken (a put-like call); or every
    reader slot of the ring is taken, or a live reader uses that durable name (Ring.reader);
    or a RecordView of this Ring or Reader is open."""

class OverwrittenError(RingError):
    """Overwrite-oldest: a zero-copy view's record was reclaimed while it was held."""

class ForkedError(RingError):
    """This handle belongs to the process that opened it (it was inherited across fork):
    open the ring again. Every method of an inherited Ring raises it in the child, except
    close(), which only forgets the inherited handles (the roles stay the parent's)."""

class ProducerGoneError(RingError):
    """The ring is drained, its stream is open and no live process holds the producer role:
    the producer died (or never started) without close_writer(). Raised instead of waiting by
    a read of an object with stop_when_producer_gone set (SPEC.md §22.1)."""

class Stats(TypedDict):
    capacity: int
    max_message_size: int
    policy: Policy
    version: tuple[int, int]
    producer_position: int
    consumer_position: int
    used_bytes: int
    message_count: int
    dropped_count: int
    writer_closed: bool
    reader_slots: int
    producer_slots: int
    producer_alive: bool
    consumer_alive: bool

class ReaderInfo(NamedTuple):
    """One reader of a ring, as its reader table shows it (Ring.readers())."""

    #: The slot number in the reader table.
    slot: int
    #: The durable reader's name; None for an anonymous reader.
    name: str | None
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
    #: A live process holds its slot.
    live: bool
    #: Where its claim in progress starts (it is writing, or died or stopped while writing);
    #: None when it has none.
    claim_start: int | None
    #: That claim was cancelled while the producer lived (stopped past the claim timeout):
    #: its bytes are held until it resumes (and writes again) or dies.
    held: bool
    #: Messages committed through this slot (by every producer that held it).
    committed_count: int
    #: Claims of this slot that were cancelled (a live producer writes them again).
    cancelled_count: int

class RecordView:
    """A zero-copy view of the oldest message, inside the shared mapping.

    Supports the buffer protocol: memoryview(view), bytes(view), numpy.frombuffer(view).
    The message is consumed by release() (or leaving the with-block without an
    exception); cancel() (or an exception in the with-block) leaves it unread.
    While any memoryview of it is alive, release(), cancel() and Ring.close() raise
    BufferError, so a view can never point at reused memory. A Reader's views work the same
    way on its own cursor (release() raises OverwrittenError if the producer lapped the
    reader while the view was held: a lapping reader).
    """

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    @property
    def released(self) -> bool: ...
    def release(self) -> None:
        """Consume the message. Raises OverwrittenError if, under overwrite-oldest, the
        producer reclaimed it while held (discard what was computed from it)."""
    def cancel(self) -> None:
        """Give the view back without consuming the message."""
    def __enter__(self) -> Self: ...
    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None: ...

class Ring:
    """An open ring file.

    The producer role is taken on the first put-like call, the consumer role on the
    first get-like call; another holder of a role gives BusyError. close() (or leaving
    a with-block) releases both. One Ring may be used from several threads.
    A Ring belongs to the process that opened it: in a child of fork() its methods raise
    ForkedError (open the ring again there).

    A ring created with readers=N has no consumer role (get-like calls raise ValueError):
    up to N readers join it with reader(), each reading every message.

    A ring created with producers=N has a producer table: the first put-like call of a Ring
    takes one of its N slots (BusyError when all are taken), and up to N Rings, in any
    processes, write at once with the usual put calls. Each message arrives once and whole,
    each producer's in its order; the stream ends when the last producer calls close_writer().
    """

    @classmethod
    def create(
        cls,
        path: StrPath,
        capacity: int,
        policy: PolicyLike = Policy.REJECT_WHEN_FULL,
        *,
        mode: int = 0o600,
        replace: bool = False,
        exist_ok: bool = False,
        initial_position: int = 0,
        allow_shared: bool = False,
        any_geometry: bool = False,
        readers: int = 0,
        producers: int = 0,
        counts: bool = True,
    ) -> Self:
        """Create a ring file. counts (SPEC.md §22.2): the ring keeps message counts, so len()
        and qsize() are O(1); counts=False makes the header of earlier versions. capacity is rounded up to a power of two (at least 4096).
        replace: atomically replace an existing file. exist_ok: open an existing ring
        instead of raising FileExistsError, only one of the capacity, policy, reader and
        producer slots asked for (else ValueError) unless any_geometry. readers: the slots
        of a reader table (format 1.1; 1 to 496, more than 16 take a larger header), for
        that many readers (reader()); 0: one consumer. producers: the slots of a producer
        table (format 1.1, SPEC.md §18; 1 to 16, reject-when-full only: ValueError for more
        or under overwrite-oldest), for that many producers writing at once; 0: one
        producer at a time. With neither, a 1.0 ring.
        initial_position (a multiple of 8) starts both positions there: for tests of
        positions past 2**32 and across 2**64."""
    @classmethod
    def open(cls, path: StrPath) -> Self:
        """Open an existing ring file (FileNotFoundError, CorruptError, UnsupportedVersionError)."""
    @classmethod
    def anonymous(
        cls, capacity: int, *, policy: PolicyLike = Policy.REJECT_WHEN_FULL, name: str = "ring",
        readers: int = 0, producers: int = 0,
    ) -> Self:
        """Create a ring without a file (SPEC.md §20.2), in anonymous shared memory (memfd):
        nothing is left in any file system. path is "memfd:NAME". A child of os.fork() opens
        it again with Ring.open_fd(ring.fd). capacity, policy, readers, producers as create()."""
    @classmethod
    def open_fd(cls, fd: int) -> Self:
        """Open the ring held by the open descriptor fd (inherited across fork(), received
        over a Unix socket, or any open ring file). The descriptor is duplicated."""

    @property
    def path(self) -> str | bytes:
        """The path as given (bytes paths stay bytes)."""
    @property
    def capacity(self) -> int: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def max_message_size(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def fd(self) -> int:
        """The ring's open descriptor (owned by the ring: do not close it). Readable in a forked
        child, to open the ring again there with open_fd."""
    @property
    def reader_slots(self) -> int:
        """Slots of the reader table: how many readers the ring can have; 0 for a 1.0 ring."""
    @property
    def producer_slots(self) -> int:
        """Slots of the producer table: how many producers may write at once; 0 for a ring
        with one producer at a time."""
    def stats(self) -> Stats:
        """A snapshot of the ring's state. On a ring with readers consumer_position is
        tailPosition (the oldest record still in the ring, SPEC.md §17.3), and used_bytes and
        message_count count the records from there: what the slowest reader may still read."""
    def __len__(self) -> int:
        """Number of unread messages (on a ring with readers: from tailPosition, see stats)."""

    # Readers (a ring created with readers=N).
    def reader(
        self,
        name: str | None = None,
        *,
        gating: bool = True,
        start: Literal["oldest", "newest"] = "oldest",
        gate_timeout: float = 10.0,
    ) -> Reader:
        """Join the ring as one of its readers: a Reader reads every message from where it
        joined, on a cursor of its own. gating (reject-when-full only): the producer never
        reclaims a message it has not read; gating=False: a lapping reader, which never holds
        the producer back and counts what it missed when lapped (missed_count). start:
        "oldest" (the oldest message still in the ring) or "newest" (only new ones). name (at
        most 63 bytes of UTF-8) makes it durable: its slot and cursor stay when it closes or
        dies, and a reader of the same name resumes there; gate_timeout (seconds): how long a
        durable gating reader that died still holds the producer back.
        Raises BusyError (every slot taken; the name used by a live reader), ValueError (a ring
        without reader slots; gating under overwrite-oldest; an empty, too long or NUL name)."""
    def readers(self) -> list[ReaderInfo]:
        """The readers in the reader table, live or not (a durable reader stays after it
        closed or died); [] on a ring without one."""
    def producers(self) -> list[ProducerInfo]:
        """The producers in the producer table: every slot a producer holds, or that a dead or
        stopped producer left with a claim in progress; [] on a ring without one."""

    # Producer side.
    def put(self, data: Buffer, block: bool = True, timeout: float | None = None) -> None:
        """Write one message, as queue.Queue.put: with block, waiting up to timeout seconds for
        room (None: no limit); with block=False, FullError at once (timeout ignored). Raises
        FullError when the time is up, InvalidSizeError, TypeError for non-buffers and for a
        block that is not a bool (give a timeout by keyword)."""
    def put_nowait(self, data: Buffer) -> None:
        """put(data, block=False)."""
    def full(self) -> bool:
        """True if a put of an empty message would not fit now; never under overwrite-oldest."""
    def try_put(self, data: Buffer) -> bool:
        """Write one message if it fits now; False if the ring is full."""
    def put_many(self, items: Iterable[Buffer], timeout: float | None = None) -> int:
        """Write every item in order, in batches (one native call per batch), waiting for
        room as put does; timeout bounds the whole call. Every item is checked first: if
        one is not bytes-like (TypeError) or too large (InvalidSizeError), nothing is
        written. Returns the number written. If the time runs out after some were written,
        the FullError's `written` says how many (retry with items[written:])."""
    def close_writer(self) -> None:
        """End the stream: the consumer drains, then gets EndOfStreamError. Releases the
        producer role; every later write on this Ring raises ClosedError (a put waiting
        for room gives up with it). Idempotent. On a ring with producer slots it gives this
        Ring's slot up, and the stream ends only when the last producer leaves with
        close_writer() (a producer that only closes, or dies, leaves it open)."""

    # Consumer side.
    def get(self, block: bool = True, timeout: float | None = None) -> bytes:
        """Read the oldest message, as queue.Queue.get: with block, waiting up to timeout
        seconds (None: no limit); with block=False, EmptyError at once (timeout ignored).
        Raises EmptyError when the time is up, EndOfStreamError at the end of the stream,
        ProducerGoneError (stop_when_producer_gone) once drained with the producer gone,
        TypeError for a block that is not a bool (give a timeout by keyword)."""
    def get_nowait(self) -> bytes:
        """get(block=False)."""
    def qsize(self) -> int:
        """The unread messages, O(1) (as len())."""
    def empty(self) -> bool:
        """True if there is no message to read now."""
    def try_get(self) -> bytes | None:
        """Read the oldest message if there is one; None if the ring is empty."""
    def get_many(self, max_items: int, timeout: float | None = 0.0) -> list[bytes]:
        """Read up to max_items messages at once, waiting up to timeout for the first.
        Returns [] if none arrived (EndOfStreamError if the stream ended)."""
    def peek_all(self) -> list[bytes]:
        """Every unread message, oldest first, without consuming any."""
    def get_view(self, timeout: float | None = None) -> RecordView:
        """Zero-copy read of the oldest message (see RecordView)."""
    # mm_toolbox's ring buffer names.
    def insert(self, data: Buffer, timeout: float | None = None) -> None:
        """put()."""
    def consume(self, timeout: float | None = None) -> bytes:
        """get()."""
    def consume_all(self) -> list[bytes]:
        """Every message there is now, consumed ([] if none, also at the end of the stream); never waits."""
    def unwrapped(self) -> list[bytes]:
        """peek_all(): every unread message, oldest first, not consumed."""
    def __iter__(self) -> Iterator[bytes]:
        """Yield messages as they arrive until the end of the stream."""
    async def get_async(self, timeout: float | None = None) -> bytes:
        """get() for asyncio, on the consumer's doorbell (loop.add_reader; no thread, no
        polling); cancelling it consumes nothing; close() meanwhile: ClosedError."""
    async def get_many_async(self, max_items: int, timeout: float | None = None) -> list[bytes]:
        """Up to max_items messages, awaiting the first as get_async does."""
    async def put_async(self, data: Buffer, timeout: float | None = None) -> None:
        """put() for asyncio, on the producer's doorbell; a cancelled put_async writes nothing."""
    def __aiter__(self) -> AsyncIterator[bytes]:
        """async for message in ring: until the end of the stream."""
    # Doorbells (SPEC.md §21), for select, poll and epoll.
    def fileno(self) -> int:
        """The consumer's doorbell descriptor (takes the consumer role): arm(), wait for it
        to be readable, disarm(), read without waiting."""
    def arm(self) -> bool:
        """Arm the consumer's doorbell: False if a message is there now, True if armed."""
    def disarm(self) -> None:
        """Disarm the consumer's doorbell (promptly after it is readable). Idempotent."""
    def writer_fileno(self) -> int:
        """The producer's doorbell descriptor (takes the producer role), for room."""
    def arm_writer(self, size: int = 0) -> bool:
        """Arm the producer's doorbell for room for size bytes: False if it fits now."""
    def disarm_writer(self) -> None:
        """Disarm the producer's doorbell."""
    # Liveness (SPEC.md §22.1).
    @property
    def producer_alive(self) -> bool:
        """A live process holds the producer role (or a producer slot)."""
    @property
    def consumer_alive(self) -> bool:
        """A live process holds the consumer role (or a reader slot)."""
    stop_when_producer_gone: bool
    """False by default; True: a drained read raises ProducerGoneError once no live producer
    holds the role, instead of waiting."""

    def flush(self) -> None:
        """msync: make everything written so far durable in the file."""
    def leave(self) -> None:
        """Close the reader and free its slot, a durable reader's too: its name is given up
        and the next reader of that name starts afresh (close() keeps it for its return)."""
    def close(self) -> None:
        """Release the roles and the file. Idempotent; returns once the roles are released
        (also when another thread's close() is under way). BufferError while a memoryview
        of a RecordView is alive."""
    def __enter__(self) -> Self: ...
    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None: ...

class Reader:
    """One reader of a ring with a reader table (made by Ring.reader(), SPEC.md §17).

    It has the read API of a Ring on a cursor of its own: every reader of a ring reads every
    message from where it joined, whatever the others do; it cannot write. The end of the
    stream reaches every reader once it has read the rest. close() (or leaving a with-block)
    leaves the ring: an anonymous reader's slot is freed, a durable one's stays for the next
    reader of its name. A Reader keeps its Ring object alive and ring.close() does not close
    it. Like a Ring it may be shared by threads and belongs to the process that made it.
    """

    @property
    def ring(self) -> Ring:
        """The Ring this reader was made from."""
    @property
    def missed_count(self) -> int:
        """Messages this reader missed because the producer lapped it (a lapping reader), or,
        for a durable reader, reclaimed while it was away (past its gate timeout, if gating).
        A gating reader is never lapped while it is open."""
    @property
    def closed(self) -> bool: ...
    def get(self, block: bool = True, timeout: float | None = None) -> bytes:
        """Read the next message, as Ring.get (queue.Queue's block and timeout)."""
    def get_nowait(self) -> bytes:
        """get(block=False)."""
    def qsize(self) -> int:
        """The messages this reader has not read yet, O(1) (as len())."""
    def __len__(self) -> int: ...
    def empty(self) -> bool:
        """True if this reader has nothing to read now."""
    def try_get(self) -> bytes | None:
        """Read the next message if there is one; None if there is none now."""
    def get_many(self, max_items: int, timeout: float | None = 0.0) -> list[bytes]:
        """Read up to max_items messages at once, waiting up to timeout for the first.
        Returns [] if none arrived (EndOfStreamError if the stream ended)."""
    def peek_all(self) -> list[bytes]:
        """Every message this reader has not read yet, oldest first, without reading any."""
    def get_view(self, timeout: float | None = None) -> RecordView:
        """Zero-copy read of the next message (see RecordView)."""
    def __iter__(self) -> Iterator[bytes]:
        """Yield messages as they arrive until the end of the stream."""
    async def get_async(self, timeout: float | None = None) -> bytes:
        """get() for asyncio, on this reader's doorbell; cancelling it reads nothing."""
    async def get_many_async(self, max_items: int, timeout: float | None = None) -> list[bytes]:
        """Up to max_items messages, awaiting the first as get_async does."""
    def __aiter__(self) -> AsyncIterator[bytes]:
        """async for message in reader: until the end of the stream."""
    def fileno(self) -> int:
        """This reader's doorbell descriptor (see Ring.fileno)."""
    def arm(self) -> bool:
        """Arm this reader's doorbell: False if a message is there now, True if armed."""
    def disarm(self) -> None:
        """Disarm this reader's doorbell."""
    @property
    def producer_alive(self) -> bool:
        """A live process holds the producer role (or a producer slot) of the ring."""
    @property
    def consumer_alive(self) -> bool:
        """A live process holds a reader slot of the ring."""
    stop_when_producer_gone: bool
    """As Ring.stop_when_producer_gone, for this reader."""
    def leave(self) -> None:
        """Close the reader and free its slot, a durable reader's too."""
    def close(self) -> None:
        """Leave the ring (an anonymous reader's slot is freed, a durable one's kept).
        Idempotent. BufferError while a memoryview of a RecordView is alive."""
    def __enter__(self) -> Self: ...
    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None: ...

#: A NumPy array (numpy.ndarray); typed as Any so that the stubs need no NumPy.
_NDArray = Any

class ItemView:
    """A read-only window (buffer protocol) onto unread items in a typed ring's mapping: what
    ItemRing.unwrapped() and latest() wrap as a NumPy array. While a buffer of it is alive the
    ring cannot be closed (BufferError); after close() it gives none (ClosedError)."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    @property
    def ring(self) -> ItemRing: ...

class ItemRing:
    """A typed ring (SPEC.md §19): fixed-size items of one NumPy dtype, in a file or in
    anonymous shared memory, shared by one producer and one consumer in any processes and
    languages. Under overwrite-oldest (the default) it is a deque(maxlen=capacity).

    On a double-mapped ring unwrapped() and latest() return read-only views onto the ring's
    live memory: their contents are the unread items at the time of the call and stay so until
    the next consume (under overwrite-oldest, until the producer next writes); copy=True gives a
    snapshot. close() raises BufferError while a view is alive.
    """

    @classmethod
    def create(
        cls, path: StrPath, dtype: Any, capacity: int, *, policy: PolicyLike = Policy.OVERWRITE_OLDEST,
        mode: int = 0o600, exist_ok: bool = False, replace: bool = False, initial_position: int = 0,
        double_map: bool | None = None,
    ) -> Self:
        """Create a typed ring file of at least capacity items of dtype (TypeError for a dtype
        without a type description, SPEC.md §19.2: object, unicode, datetime...)."""
    @classmethod
    def anonymous(
        cls, dtype: Any, capacity: int, *, policy: PolicyLike = Policy.OVERWRITE_OLDEST, name: str = "ring",
        double_map: bool | None = None,
    ) -> Self:
        """Create a typed ring without a file (memfd, SPEC.md §20.2); share it across os.fork()
        with ItemRing.open_fd(ring.fd)."""
    @classmethod
    def open(cls, path: StrPath, *, dtype: Any = None, double_map: bool | None = None) -> Self:
        """Open a typed ring file; with dtype, ValueError unless the ring holds that type."""
    @classmethod
    def open_fd(cls, fd: int, *, dtype: Any = None, double_map: bool | None = None) -> Self:
        """Open the typed ring held by descriptor fd (duplicated)."""

    @property
    def dtype(self) -> Any:
        """The items' numpy.dtype."""
    @property
    def capacity(self) -> int:
        """Items the ring holds."""
    @property
    def policy(self) -> Policy: ...
    @property
    def path(self) -> str | bytes:
        """The path given; "memfd:NAME" for a ring without a file."""
    @property
    def is_double_mapped(self) -> bool: ...
    @property
    def type_description(self) -> str:
        """The item type in the ring's header (SPEC.md §19.2), e.g. "<f8"."""
    @property
    def item_size(self) -> int: ...
    @property
    def item_alignment(self) -> int: ...
    @property
    def fd(self) -> int:
        """The ring's descriptor (owned by the ring); readable in a forked child for open_fd."""
    @property
    def dropped_count(self) -> int:
        """Items the producer dropped under overwrite-oldest."""
    @property
    def missed_count(self) -> int:
        """Items this consumer did not get because the producer dropped them first (counted
        from its first read)."""
    @property
    def closed(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...
    def __len__(self) -> int:
        """Unread items."""
    def is_empty(self) -> bool: ...
    def is_full(self) -> bool: ...

    def insert(self, item: Any, timeout: float | None = None) -> None:
        """Append one item; reject-when-full waits up to timeout (None: no limit, 0: none), then FullError."""
    def insert_many(self, items: Any, timeout: float | None = None) -> None:
        """Append an array of items as one copy and one commit (all or none)."""
    async def insert_async(self, item: Any, timeout: float | None = None) -> None: ...
    def consume(self, timeout: float | None = None) -> Any:
        """The oldest item (a NumPy scalar; np.void for a structured dtype). EmptyError on
        timeout, EndOfStreamError at the end of the stream."""
    def consume_many(self, n: int, timeout: float | None = None) -> _NDArray:
        """Up to n items (a copy), waiting for the first; empty if none came within timeout."""
    def consume_view(self, n: int | None = None, timeout: float | None = None) -> Any:
        """Context manager: up to n unread items in place (a read-only view), consumed at the end."""
        ...
    def consume_all(self) -> _NDArray:
        """Every item there is now (a copy, maybe empty); never waits."""
    def unwrapped(self, copy: bool = False) -> _NDArray:
        """Every unread item, oldest first, not consumed: a read-only view when double-mapped
        (unless copy), else a copy."""
    def latest(self, n: int, copy: bool = False) -> _NDArray:
        """The newest n unread items, not consumed (a view when double-mapped, as unwrapped)."""
    def __iter__(self) -> Iterator[Any]:
        """Consume items until the end of the stream."""
    async def consume_async(self, timeout: float | None = None) -> Any: ...
    def fileno(self) -> int:
        """The consumer's doorbell descriptor (see Ring.fileno)."""
    def arm(self) -> bool: ...
    def disarm(self) -> None: ...
    def writer_fileno(self) -> int:
        """The producer's doorbell descriptor, for room."""
    def arm_writer(self, count: int = 1) -> bool: ...
    def disarm_writer(self) -> None: ...
    @property
    def producer_alive(self) -> bool: ...
    @property
    def consumer_alive(self) -> bool: ...
    stop_when_producer_gone: bool
    async def aconsume(self, timeout: float | None = None) -> Any:
        """consume_async() (mm_toolbox's name)."""
    def aconsume_iterable(self) -> AsyncIterator[Any]:
        """Items as they arrive until the end of the stream (mm_toolbox's name)."""
    def __aiter__(self) -> AsyncIterator[Any]: ...
    def close_writer(self) -> None:
        """End the stream; releases the producer role."""
    def close(self) -> None:
        """Release the roles and the mapping. Idempotent. BufferError while a view is alive."""
    def __enter__(self) -> Self: ...
    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None: ...

class MemMapRingBuffer:
    """Drop-in replacement for mmringbuffer 0.0.2's MemMapRingBuffer: a persisted
    collections.deque(maxlen) of str or bytes items (overwrite-oldest).

    Opens the ring at file_path if there is one (keeping its unread items), else creates
    it with the given capacity in bytes. Items come back with the type they were put with.
    """

    def __init__(self, file_path: StrPath, capacity: int, *, allow_shared: bool = False) -> None: ...
    def put(self, item: str | bytes) -> None: ...
    def get(self) -> str | bytes:
        """The oldest item; IndexError when empty."""
    def empty(self) -> bool: ...
    def flush(self) -> None: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...
    def __len__(self) -> int: ...

class SlotRing:
    """Byte strings of at most slot_size bytes in fixed-size slots of a typed ring (mm_toolbox's
    BytesRingBufferFast in shared memory): insert (ValueError when longer than a slot), consume,
    consume_all, unwrapped, only_insert_unique, aconsume, aconsume_iterable."""
    slot_size: int
    only_insert_unique: bool
    def __init__(self, ring: ItemRing, *, only_insert_unique: bool = ...) -> None: ...
    @classmethod
    def create(cls, path: Union[str, bytes, os.PathLike], slot_size: int, capacity: int, *,
               policy: Union[Policy, int, str] = ..., only_insert_unique: bool = ..., **options: Any) -> SlotRing: ...
    @classmethod
    def anonymous(cls, slot_size: int, capacity: int, *, policy: Union[Policy, int, str] = ...,
                  only_insert_unique: bool = ..., **options: Any) -> SlotRing: ...
    @classmethod
    def open(cls, path: Union[str, bytes, os.PathLike], *, only_insert_unique: bool = ...) -> SlotRing: ...
    @property
    def ring(self) -> ItemRing: ...
    @property
    def capacity(self) -> int: ...
    def insert(self, data: Any, timeout: Optional[float] = ...) -> None: ...
    def insert_char(self, data: Any, timeout: Optional[float] = ...) -> None: ...
    def consume(self, timeout: Optional[float] = ...) -> bytes: ...
    def consume_all(self) -> List[bytes]: ...
    def unwrapped(self) -> List[bytes]: ...
    async def aconsume(self, timeout: Optional[float] = ...) -> bytes: ...
    def aconsume_iterable(self) -> AsyncIterator[bytes]: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __len__(self) -> int: ...
    def is_empty(self) -> bool: ...
    def is_full(self) -> bool: ...
    def close_writer(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> SlotRing: ...
    def __exit__(self, *exc: Any) -> None: ...
