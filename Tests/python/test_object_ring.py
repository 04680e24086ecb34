"""ringpy._inprocess.ObjectRing, the in-process ring of Python objects (mm_toolbox's
GenericRingBuffer): random operation sequences against collections.deque(maxlen), the
only_insert_unique rule, threads, and aconsume / aconsume_iterable woken by inserts from
the event loop and from other threads. Needs no native module."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ringpy._inprocess import EmptyError, ObjectRing

#: Few distinct values, so that only_insert_unique finds duplicates.
VALUES = st.integers(0, 5) | st.sampled_from(["a", "b", (1, 2), None])


def _run(coro, seconds=10):
    async def guarded():
        return await asyncio.wait_for(coro, seconds)

    return asyncio.run(guarded())


# --- Against the model ----------------------------------------------------------------------


class ObjectRingMachine(RuleBasedStateMachine):
    """An ObjectRing and a deque(maxlen) get the same calls and must agree after each."""

    @initialize(capacity=st.integers(1, 6), unique=st.booleans())
    def make(self, capacity, unique):
        self.ring = ObjectRing(capacity, only_insert_unique=unique)
        self.model = deque(maxlen=capacity)
        self.unique = unique

    def model_insert(self, obj):
        if not (self.unique and obj in self.model):
            self.model.append(obj)

    @rule(obj=VALUES)
    def insert(self, obj):
        self.ring.insert(obj)
        self.model_insert(obj)

    @rule(objs=st.lists(VALUES, max_size=10), as_generator=st.booleans())
    def insert_many(self, objs, as_generator):
        self.ring.insert_many(iter(objs) if as_generator else objs)
        for obj in objs:
            self.model_insert(obj)

    @rule()
    def consume(self):
        if self.model:
            assert self.ring.consume() == self.model.popleft()
        else:
            with pytest.raises(EmptyError):
                self.ring.consume()

    @rule()
    def consume_all(self):
        assert self.ring.consume_all() == list(self.model)
        self.model.clear()

    @rule(n=st.integers(0, 8))
    def latest(self, n):
        expected = list(self.model)[-n:] if n else []
        assert self.ring.latest(n) == expected

    @rule()
    def clear(self):
        self.ring.clear()
        self.model.clear()

    @rule(obj=VALUES)
    def contains(self, obj):
        assert (obj in self.ring) == (obj in self.model)

    @invariant()
    def agrees(self):
        assert self.ring.unwrapped() == list(self.model) == list(self.ring)
        assert len(self.ring) == len(self.model)
        assert self.ring.is_empty() == (not self.model)
        assert self.ring.is_full() == (len(self.model) == self.model.maxlen)
        assert self.ring.capacity == self.model.maxlen
        if self.unique:
            assert len(set(map(repr, self.model))) == len(self.model)


ObjectRingMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
TestObjectRingAgainstDeque = ObjectRingMachine.TestCase


# --- Plain behaviour ---------------------------------------------------------------------------


def test_a_full_ring_drops_the_oldest():
    ring = ObjectRing(3)
    ring.insert_many(range(5))
    assert ring.unwrapped() == [2, 3, 4] and ring.is_full() and len(ring) == 3
    ring.insert("x")
    assert ring.consume() == 3 and ring.latest(2) == [4, "x"] and ring.latest(10) == [4, "x"]
    assert ring.consume_all() == [4, "x"] and ring.is_empty() and ring.consume_all() == []


def test_objects_are_kept_not_copied():
    ring = ObjectRing(2)
    item = {"k": [1]}
    ring.insert(item)
    assert ring.unwrapped()[0] is item and ring.consume() is item


def test_consume_of_an_empty_ring_raises_empty_error():
    ring = ObjectRing(1)
    with pytest.raises(EmptyError):
        ring.consume()
    with pytest.raises(queue.Empty):  # as ringpy.EmptyError is
        ring.consume()


def test_empty_error_is_ringpy_empty_error_with_the_native_module():
    try:
        from ringpy import _ringpy
    except ImportError:
        pytest.skip("ringpy's native module is not built: ObjectRing uses its stand-in EmptyError")
    assert EmptyError is _ringpy.EmptyError


@pytest.mark.parametrize("capacity,error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                            (True, TypeError), ("3", TypeError)])
def test_a_bad_capacity_is_refused(capacity, error):
    with pytest.raises(error):
        ObjectRing(capacity)


def test_latest_of_a_negative_count_is_refused():
    with pytest.raises(ValueError):
        ObjectRing(2).latest(-1)


def test_only_insert_unique_skips_equal_objects_until_they_leave():
    ring = ObjectRing(3, only_insert_unique=True)
    ring.insert_many(["a", "b", "a", "c", "b"])
    assert ring.unwrapped() == ["a", "b", "c"] and ring.only_insert_unique
    ring.insert(1)
    ring.insert(1.0)  # equal, not identical: skipped
    assert ring.unwrapped() == ["b", "c", 1]
    ring.insert("a")  # "a" was dropped when 1 came in: it may come back
    assert ring.unwrapped() == ["c", 1, "a"]
    assert ring.consume() == "c"
    ring.insert("c")
    assert ring.unwrapped() == [1, "a", "c"]


def test_without_only_insert_unique_duplicates_stay():
    ring = ObjectRing(4)
    ring.insert_many(["a", "a", "a"])
    assert ring.unwrapped() == ["a", "a", "a"] and not ring.only_insert_unique


def test_iteration_is_a_snapshot_that_consumes_nothing():
    ring = ObjectRing(4)
    ring.insert_many([1, 2, 3])
    seen = []
    for obj in ring:
        seen.append(obj)
        ring.insert(obj * 10)  # changing the ring while iterating is allowed
    assert seen == [1, 2, 3] and ring.unwrapped() == [3, 10, 20, 30]


def test_threads_insert_and_consume_without_losing_or_repeating():
    ring = ObjectRing(100_000)
    producers, per_producer = 4, 5000
    consumed, done = [], threading.Event()

    def produce(p):
        for i in range(0, per_producer, 50):
            ring.insert_many((p, j) for j in range(i, i + 50))
            ring.insert(("single", p, i))

    def consume():
        while not done.is_set() or not ring.is_empty():
            try:
                consumed.append(ring.consume())
            except EmptyError:
                time.sleep(0)

    consumer = threading.Thread(target=consume)
    consumer.start()
    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    consumer.join(30)
    pairs = [c for c in consumed if len(c) == 2]
    assert len(pairs) == producers * per_producer and len(consumed) == producers * per_producer * 51 // 50
    for p in range(producers):
        assert [j for q, j in pairs if q == p] == list(range(per_producer)), f"producer {p}'s order"


# --- Async ------------------------------------------------------------------------------------


def test_aconsume_returns_at_once_when_there_is_an_object():
    ring = ObjectRing(4)
    ring.insert_many(["first", "second"])
    assert _run(ring.aconsume()) == "first" and ring.unwrapped() == ["second"]


def test_aconsume_is_woken_by_an_insert_from_a_task():
    ring = ObjectRing(4)

    async def main():
        waiter = asyncio.create_task(ring.aconsume())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done(), "aconsume returned from an empty ring"

        async def producer():
            await asyncio.sleep(0.05)
            ring.insert("from a task")

        producing = asyncio.create_task(producer())
        got = await waiter
        await producing
        return got

    assert _run(main()) == "from a task" and ring.is_empty()


def test_aconsume_is_woken_by_an_insert_from_another_thread_without_blocking_the_loop():
    ring = ObjectRing(4)

    async def main():
        ticks, stop = [], asyncio.Event()

        async def ticker():
            while not stop.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        timer = threading.Timer(0.3, ring.insert, args=("from a thread",))
        timer.start()
        t0 = time.monotonic()
        got = await ring.aconsume()
        waited = time.monotonic() - t0
        stop.set()
        await ticking
        timer.join()
        return got, waited, ticks

    got, waited, ticks = _run(main())
    assert got == "from a thread"
    assert 0.2 <= waited < 2.0, f"aconsume returned after {waited:.2f} s"
    assert len(ticks) >= 5, f"the loop ran another task only {len(ticks)} times while aconsume waited"


def test_a_woken_aconsume_that_finds_the_ring_empty_waits_again():
    ring = ObjectRing(4)

    async def main():
        waiter = asyncio.create_task(ring.aconsume())
        await asyncio.sleep(0.01)
        ring.insert("taken")
        assert ring.consume() == "taken"  # before the woken waiter runs
        await asyncio.sleep(0.05)
        assert not waiter.done(), "aconsume returned with nothing to consume"
        ring.insert("second")
        return await waiter

    assert _run(main()) == "second"


def test_two_waiters_get_one_object_each():
    ring = ObjectRing(4)

    async def main():
        waiters = [asyncio.create_task(ring.aconsume()) for _ in range(2)]
        await asyncio.sleep(0.01)
        ring.insert("one")
        await asyncio.sleep(0.05)
        assert sum(w.done() for w in waiters) == 1, "one insert completed two aconsumes"
        threading.Thread(target=ring.insert, args=("two",)).start()
        return sorted(await asyncio.gather(*waiters))

    assert _run(main()) == ["one", "two"]


def test_a_cancelled_aconsume_takes_nothing():
    ring = ObjectRing(4)

    async def main():
        waiter = asyncio.create_task(ring.aconsume())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        ring.insert("kept")
        await asyncio.sleep(0.01)
        return ring.consume()

    assert _run(main()) == "kept"


def test_an_insert_after_a_waiters_loop_closed_does_not_fail():
    ring = ObjectRing(2)
    loop = asyncio.new_event_loop()
    waiter = loop.create_task(ring.aconsume())
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()  # with the aconsume still waiting, never cancelled
    waiter._log_destroy_pending = False  # (asyncio would log that pending task when it is collected)
    ring.insert("later")
    assert ring.consume() == "later" and not waiter.done()


def test_aconsume_iterable_yields_objects_as_they_come():
    ring = ObjectRing(8)
    expected = [f"thread {i}" for i in range(10)] + ["task"]

    def produce():
        for obj in expected[:-1]:
            time.sleep(0.005)
            ring.insert(obj)

    async def main():
        got = []
        thread = threading.Thread(target=produce)
        thread.start()
        async for obj in ring.aconsume_iterable():
            got.append(obj)
            if len(got) == 10:
                ring.insert("task")
            if len(got) == len(expected):
                break
        thread.join()
        return got

    assert _run(main()) == expected and ring.is_empty()
