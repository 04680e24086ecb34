"""queue.Queue habits on a Ring: get(block, timeout) and put(item, block, timeout) as in
queue.Queue, get_nowait/put_nowait, qsize/empty/full, queue.Empty and queue.Full, and an
O(1) message count (SPEC.md §22.2)."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from ringpy import EmptyError, FullError, Policy, Ring


def test_get_true_waits_for_a_message_not_one_second(ring_path):
    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        threading.Timer(0.3, producer.put, args=(b"late",)).start()
        t0 = time.monotonic()
        assert consumer.get(True) == b"late"
        waited = time.monotonic() - t0
        assert 0.25 < waited < 0.9, f"get(True) returned after {waited:.2f} s"


def test_get_true_with_a_timeout(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        t0 = time.monotonic()
        with pytest.raises(EmptyError):
            ring.get(True, 0.2)
        assert 0.15 < time.monotonic() - t0 < 1.0


def test_block_false_raises_at_once_and_ignores_the_timeout(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        t0 = time.monotonic()
        with pytest.raises(EmptyError):
            ring.get(block=False)
        with pytest.raises(EmptyError):
            ring.get(False, 5)
        with pytest.raises(queue.Empty):
            ring.get_nowait()
        assert time.monotonic() - t0 < 0.1
        while ring.try_put(b"x" * 100):
            pass
        while ring.try_put(b""):
            pass
        t0 = time.monotonic()
        with pytest.raises(FullError):
            ring.put(b"y", block=False)
        with pytest.raises(FullError):
            ring.put(b"y", False, 5)
        with pytest.raises(queue.Full):
            ring.put_nowait(b"y")
        assert time.monotonic() - t0 < 0.1


def test_put_nowait_and_get_nowait(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put_nowait(b"one")
        ring.put(b"two", True, 1.0)
        assert ring.get_nowait() == b"one"
        assert ring.get(block=True, timeout=1.0) == b"two"


def test_a_number_in_blocks_place_is_a_clear_type_error(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"kept")
        with pytest.raises(TypeError, match=r"get\(timeout=0.5\)"):
            ring.get(0.5)
        with pytest.raises(TypeError, match=r"put\(timeout=2\)"):
            ring.put(b"x", 2)
        assert ring.get_many(5) == [b"kept"], "the failed calls changed nothing"
        # mm_toolbox's names keep the timeout as their argument.
        ring.insert(b"i", 0.5)
        assert ring.consume(0.5) == b"i"


def test_qsize_empty_full_on_known_states(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        assert (ring.qsize(), ring.empty(), ring.full()) == (0, True, False)
        ring.put(b"a")
        ring.put(b"b")
        assert (ring.qsize(), ring.empty(), ring.full(), len(ring)) == (2, False, False, 2)
        while ring.try_put(b""):
            pass
        assert ring.full(), "no room for an empty message"
        ring.get()
        assert not ring.full()
        # A Ring without the producer role judges from the positions.
        with Ring.open(ring_path) as observer:
            assert not observer.full()
            while ring.try_put(b""):
                pass
            assert observer.full() and ring.full()
            assert observer.qsize() == len(ring)


def test_full_is_false_under_overwrite_oldest(ring_path):
    with Ring.create(ring_path, 4096, Policy.OVERWRITE_OLDEST) as ring:
        for _ in range(1000):
            ring.put(b"x" * 40)
        assert not ring.full(), "a put never waits under overwrite-oldest"


def test_a_readers_qsize_is_its_own(ring_path):
    with Ring.create(ring_path, 65536, readers=2) as ring:
        fast, slow = ring.reader(), ring.reader()
        for i in range(10):
            ring.put(b"%d" % i)
        fast.get_many(7)
        assert (fast.qsize(), len(fast), slow.qsize(), fast.empty()) == (3, 3, 10, False)
        fast.get_many(3)
        assert fast.empty()
        fast.close()
        slow.close()


def test_len_is_constant_time_with_a_million_unread_messages(tmp_path):
    with Ring.create(tmp_path / "big", 1 << 24) as ring:
        batch = [b"m"] * 10000
        for _ in range(100):
            ring.put_many(batch)
        assert len(ring) == 1_000_000
        best = float("inf")
        for _ in range(200):
            t0 = time.perf_counter()
            len(ring)
            best = min(best, time.perf_counter() - t0)
        print(f"\nlen() of a ring with 1M unread messages: {best * 1e6:.2f} us")
        assert best < 50e-6, f"len() took {best * 1e6:.0f} us (a walk of the records takes ms)"
        assert ring.qsize() == 1_000_000
