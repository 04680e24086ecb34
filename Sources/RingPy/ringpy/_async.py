"""asyncio on the doorbells (SPEC.md §21): waits with no thread and no polling.

Every side of a ring object (a Ring's consumer and producer, a Reader, an ItemRing's two
sides) has a doorbell: a descriptor that becomes readable when an armed wait of it may end.
A task that finds the ring empty (or full) arms the doorbell, hands the descriptor to the
running loop with ``loop.add_reader`` and awaits a future; the reader callback disarms it
and wakes the task, which tries again without waiting (and arms again if it must still
wait). The descriptor leaves the loop once no task waits on it. Many rings in one loop cost
one descriptor each, however many tasks await one of them.

Cancellation loses nothing: a message is taken, and a message written, only by a call that
waits for nothing, made by the task itself after its await and followed by no other await.
A task cancelled while it waits has taken or written nothing.

close() of a ring object (``release``) takes its descriptors out of their loops and fails
the tasks awaiting them with ClosedError.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable, Optional

from ._ringpy import ClosedError, EmptyError, FullError

__all__ = ["wait_until", "release"]

#: How long a task sleeps before it tries again when another thread holds the role's lock
#: (a blocking call of this very object in a thread: rare, and then there is nothing to arm).
_LOCK_BUSY_SLEEP = 0.001

#: What an attempt returns when the operation would have to wait.
NOT_YET = object()


class _Bell:
    """One side ("consumer" or "producer") of one ring object: its doorbell descriptor, and
    the futures of the tasks awaiting it in one event loop.

    The descriptor joins the loop (add_reader) when a task first arms the doorbell, and stays
    while tasks keep waiting: a woken task that finds the ring empty again arms it again, in
    the same loop iteration, without a new add_reader (which costs more than the rest of a
    wake-up). It leaves the loop at the end of the iteration in which nobody armed it again,
    or when the owner is closed. A disarmed doorbell is not readable, so staying costs nothing.

    Nothing here waits for the role's lock: where another thread holds it (a blocking call
    of the same object), a try is put off by a millisecond instead of stalling the loop.

    The owner keeps its bells (``owner._bells``); a bell holds its owner only while its
    descriptor is in a loop (the loop then holds both), so that a ring object nobody uses
    is freed at once (an unused Reader left in a reference cycle would gate the producer)."""

    __slots__ = ("_owner", "_role", "_fd", "_loop", "_waiters", "_armed", "_registered", "_retry", "__weakref__")

    def __init__(self, role: str) -> None:
        self._owner: Any = None
        self._role = role
        self._fd: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._waiters: set = set()
        self._armed = False                # the doorbell is armed (counts as a waiter in the ring)
        self._registered = False           # the descriptor is in self._loop
        self._retry: Optional[asyncio.TimerHandle] = None  # a disarm put off (lock busy)

    async def wait(self, owner: Any, size: int, deadline: Optional[float]) -> None:
        """Return once the operation may succeed (the doorbell rang, or it need not be armed,
        or one 100 ms slice passed), or at the deadline (loop time); the caller tries again."""
        loop = asyncio.get_running_loop()
        if self._registered and self._loop is not loop:
            raise RuntimeError(f"{owner!r} is awaited in another event loop")
        if not self._armed:
            if self._fd is None:
                bell = owner._bell(self._role)
                if bell is None:  # another thread uses this role right now
                    await asyncio.sleep(_LOCK_BUSY_SLEEP)
                    return
                self._fd = bell[0]
            armed = owner._arm(self._role, size)  # disarms first: a put-off disarm is moot
            if armed is None:
                await asyncio.sleep(_LOCK_BUSY_SLEEP)
                return
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None
            if not armed:  # it is there now (a message, room, the end of the stream)
                return
            self._armed = True
            if not self._registered:
                self._owner, self._loop = owner, loop
                try:
                    loop.add_reader(self._fd, self._rang)
                except BaseException:
                    self._armed = False
                    owner._disarm(self._role, True)
                    self._owner = None
                    raise
                self._registered = True
        future = loop.create_future()
        self._waiters.add(future)
        timer = loop.call_at(deadline, _wake, future) if deadline is not None else None
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()
            self._waiters.discard(future)
            if not self._waiters:
                if self._armed:  # the last waiter gave up (cancelled, timed out)
                    self._armed = False
                    self._disarm()
                # This task decides in this very step whether it arms again; the look comes after.
                self._look_when_idle()

    def _disarm(self) -> None:
        """Disarm now, or, while another thread holds the role's lock, a millisecond later."""
        self._retry = None
        if not self._owner._disarm(self._role):
            self._retry = self._loop.call_later(_LOCK_BUSY_SLEEP, self._disarm)

    def _look_when_idle(self) -> None:
        """Soon (after the running task's step): leave the loop if nobody armed the doorbell
        again. One callback looks at every bell queued before it runs (200 rings ringing at
        once cost one)."""
        loop = self._loop
        bells = _to_look_at.get(loop)
        if bells is None:
            bells = _to_look_at[loop] = set()
        if not bells:
            loop.call_soon(_look_at_bells, loop)
        bells.add(self)

    def _leave_if_idle(self) -> None:
        if self._registered and not self._armed and not self._waiters and self._retry is None:
            self._registered = False
            self._loop.remove_reader(self._fd)
            self._owner = None

    def _rang(self) -> None:
        """The reader callback: disarm at once (an armed doorbell costs the writer a wake-up
        call per commit; disarming also consumes the readiness), then wake every waiter;
        each tries again and arms again if it must still wait."""
        self._armed = False
        try:
            self._disarm()
        except BaseException as error:  # the ring broke under us: the waiters get to know
            self._fail(error)
        else:
            for future in self._waiters:
                if not future.done():
                    future.set_result(None)
        if not self._waiters:  # rang with nobody waiting (a cancellation's completion)
            self._look_when_idle()

    def _fail(self, error: BaseException) -> None:
        for future in self._waiters:
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        """The owner is being closed (from any thread): take the descriptor out of the loop
        and fail the waiters with ClosedError, on the loop's thread. (Freeing the handle
        disarms it.)"""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._armed = False
        if not self._registered:
            return
        self._registered = False
        loop, name = self._loop, repr(self._owner)
        self._owner = None

        def closed() -> None:
            loop.remove_reader(self._fd)  # a descriptor closed meanwhile is simply forgotten
            self._fail(ClosedError(f"{name} was closed while a task awaited it"))

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            closed()
        elif not loop.is_closed():
            # Another thread: the loop does it on its own thread (remove_reader is not
            # thread-safe), after the handle (and the descriptor) went.
            try:
                loop.call_soon_threadsafe(closed)
            except RuntimeError:  # closed meanwhile
                pass


#: loop -> the bells that lost their last waiter since its last look (_look_at_bells).
_to_look_at: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set]" = weakref.WeakKeyDictionary()


def _look_at_bells(loop: asyncio.AbstractEventLoop) -> None:
    for bell in _to_look_at.pop(loop, ()):
        bell._leave_if_idle()


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _bell_of(owner: Any, role: str) -> _Bell:
    """owner's doorbell of that side, made on first use (owner has a ``_bells`` slot)."""
    try:
        bells = owner._bells
    except AttributeError:
        bells = owner._bells = {}
    bell = bells.get(role)
    if bell is None:
        bell = bells[role] = _Bell(role)
    return bell


def _deadline(loop: asyncio.AbstractEventLoop, timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    if not timeout >= 0:
        raise ValueError("'timeout' must be a non-negative number")
    return loop.time() + timeout


async def wait_until(owner: Any, role: str, attempt: Callable[[], Any], timeout: Optional[float],
                     size: int = 0) -> Any:
    """Run ``attempt()`` (which never waits) until it returns something other than NOT_YET,
    awaiting owner's doorbell of ``role`` between tries (armed for ``size``: bytes or items
    of room, for a producer). At the deadline: EmptyError (consumer) or FullError (producer)."""
    loop = asyncio.get_running_loop()
    deadline = _deadline(loop, timeout)
    bell = None
    while True:
        result = attempt()
        if result is not NOT_YET:
            return result
        if deadline is not None and loop.time() >= deadline:
            if role == "consumer":
                raise EmptyError("ring is empty" if timeout == 0 else "ring is empty: nothing within the timeout")
            raise FullError("ring is full" if timeout == 0 else "ring is full: no room within the timeout")
        if bell is None:
            bell = _bell_of(owner, role)
        await bell.wait(owner, size, deadline)


def release(owner: Any) -> None:
    """For owner.close(): every doorbell of owner out of its loop, its waiters failed with
    ClosedError."""
    bells = getattr(owner, "_bells", None)
    if bells:
        for bell in list(bells.values()):
            bell.close()
        bells.clear()
