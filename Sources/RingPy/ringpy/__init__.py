"""ringpy: RingFormat shared-memory ring buffer files for Python (format: SPEC.md 1.0).

A ring is a file of length-prefixed messages shared through mmap by one producer and one
consumer, in any processes and languages (Swift, C, Python). Bytes in, bytes out::

    import ringpy
    with ringpy.Ring.create("/dev/shm/events", 1 << 20, exist_ok=True) as ring:
        ring.put(b"hello")
        assert ring.get() == b"hello"

The native core (``_ringpy``) is a C extension over libringformat.so, which ships inside
this package; no Swift installation is needed at run time.
"""

from __future__ import annotations

import asyncio
import enum
import os
from typing import AsyncIterator, Iterator, Union

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
    OverwrittenError,
    RecordView,
    RingBase as _RingBase,
    RingError,
    UnsupportedVersionError,
)

try:  # written by setup.py from the file VERSION
    from ._version import __version__
except ImportError:  # an editable install: the installed metadata has it
    from importlib.metadata import version as _distribution_version

    __version__ = _distribution_version("ringpy")

__all__ = [
    "ABI_VERSION", "FORMAT_VERSION", "BusyError", "ClosedError", "CorruptError", "EmptyError",
    "EndOfStreamError", "ForkedError", "FullError", "InvalidSizeError", "MemMapRingBuffer", "OverwrittenError",
    "Policy", "RecordView", "Ring", "RingError", "UnsupportedVersionError", "__version__",
]

#: How long one wait of the async helpers runs in a worker thread before looking again.
_ASYNC_SLICE = 0.25


class Policy(enum.IntEnum):
    """What a full ring does (SPEC.md §9)."""

    #: The writer is told the ring is full (put waits, try_put returns False).
    REJECT_WHEN_FULL = 0
    #: The writer drops the oldest messages, like collections.deque(maxlen).
    OVERWRITE_OLDEST = 1


class Ring(_RingBase):
    """An open ring file.

    Create one with ``Ring.create(path, capacity, policy)`` or open an existing one with
    ``Ring.open(path)``. The producer role is taken on the first put-like call, the
    consumer role on the first get-like call; another holder of a role raises BusyError.
    close() (or leaving a with-block) releases both. A Ring may be shared by threads:
    blocking calls release the GIL and can be interrupted with Ctrl-C.
    """

    __slots__ = ()

    @property
    def policy(self) -> Policy:
        """What a full ring does."""
        return Policy(self._policy)

    def stats(self) -> dict:
        """A snapshot: capacity, max_message_size, policy, version, producer_position,
        consumer_position, used_bytes, message_count, dropped_count, writer_closed."""
        stats = self._stats()
        stats["policy"] = Policy(stats["policy"])
        return stats

    def __iter__(self) -> Iterator[bytes]:
        """Yield messages as they arrive until the end of the stream."""
        while True:
            try:
                yield self.get()
            except EndOfStreamError:
                return

    async def get_async(self, timeout: Union[float, None] = None) -> bytes:
        """get() that does not block the event loop.

        Messages are taken only on the event-loop thread, with a call that waits for
        nothing (not even for another thread using the consumer role); the waiting
        happens in a worker thread, which never consumes, so cancelling loses nothing.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            message = self._poll_get()
            if message is not None:
                return message
            left = _ASYNC_SLICE if deadline is None else min(_ASYNC_SLICE, deadline - loop.time())
            if left <= 0:
                raise EmptyError("ring is empty: no message within the timeout")
            await loop.run_in_executor(None, self._wait, left)

    async def put_async(self, data, timeout: Union[float, None] = None) -> None:
        """put() that does not block the event loop.

        The message is written only on the event-loop thread, with a call that waits for
        nothing; a worker thread waits for room without writing, so a cancelled
        put_async has written nothing.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._poll_put(data):
                return
            left = _ASYNC_SLICE if deadline is None else min(_ASYNC_SLICE, deadline - loop.time())
            if left <= 0:
                raise FullError("ring is full: no room within the timeout")
            await loop.run_in_executor(None, self._wait_room, data, left)

    def __aiter__(self) -> AsyncIterator[bytes]:
        """``async for message in ring``: until the end of the stream."""
        return self._messages()

    async def _messages(self) -> AsyncIterator[bytes]:
        while True:
            try:
                yield await self.get_async()
            except EndOfStreamError:
                return

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"capacity={self.capacity} policy={self.policy.name}"
        return f"<ringpy.Ring {self.path!r} {state}>"


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
