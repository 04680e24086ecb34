"""Full rings under both policies (SPEC.md §9) and the batch calls put_many, get_many,
peek_all."""

from __future__ import annotations

import collections
import threading
import time

import pytest

from ringpy import EmptyError, FullError, Policy, Ring
from ringtools import RingModel, run_with_deadline
from workload import Workload

REJECT = Policy.REJECT_WHEN_FULL
OVERWRITE = Policy.OVERWRITE_OLDEST


# --- reject-when-full --------------------------------------------------------------------


def test_reject_fills_then_refuses(ring_path):
    with Ring.create(ring_path, 4096, REJECT) as ring:
        message = b"\x09" * 100  # 112-byte records
        written = 0
        while ring.try_put(message):
            written += 1
            assert written < 1000, "try_put never reported a full ring"
        assert written == 4096 // 112
        assert ring.try_put(message) is False
        with pytest.raises(FullError):
            ring.put(message, timeout=0)
        with pytest.raises(FullError):
            ring.put(message, timeout=0.05)
        s = ring.stats()
        assert s["used_bytes"] == written * 112 and s["message_count"] == written and len(ring) == written
        assert s["dropped_count"] == 0
        assert ring.try_put(b"") is True, "an 8-byte record still fits in the 64 bytes left"
        assert ring.get() == message
        ring.put(message, timeout=0)  # room again after one read
        assert len(ring) == written + 1


def test_reject_full_for_a_large_record_but_not_a_small_one(ring_path):
    with Ring.create(ring_path, 4096, REJECT) as ring:
        ring.put(b"a" * 2001)  # 2016
        ring.put(b"b" * 1901)  # 1912: 3928 used, 168 free
        assert ring.try_put(b"c" * 200) is False
        assert ring.try_put(b"c" * 150) is True  # 160 bytes
        assert ring.get() == b"a" * 2001
        # 3928+160=4088: 8 bytes before the end; 2016+8 free in all, but a 312-byte record
        # needs 8 bytes of padding + 312 = 320 bytes
        assert ring.try_put(b"d" * 301) is True
        assert ring.stats()["producer_position"] == 4096 + 312


def test_reject_never_loses_messages(ring_path):
    w = Workload(seed=11, min_size=0, max_size=400)
    model = RingModel(4096, REJECT)
    received = []
    with Ring.create(ring_path, 4096, REJECT) as ring:
        for i in range(3000):
            m = w.message(i)
            ok = ring.try_put(m)
            assert ok == model.put(m), f"message {i}: ring said {ok}, the model disagrees"
            if not ok:
                received += ring.get_many(7)
                model.get_many(7)
                ring.put(m, timeout=0)
                model.put(m)
        received += ring.get_many(100000)
    assert received == [w.message(i) for i in range(3000)]


# --- overwrite-oldest ----------------------------------------------------------------------


def test_overwrite_keeps_the_newest_like_deque_maxlen(ring_path):
    w = Workload(seed=7, min_size=100, max_size=100)
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        for i in range(100):
            ring.put(w.message(i))
        s = ring.stats()
        assert s["dropped_count"] + len(ring) == 100
        assert s["dropped_count"] + s["message_count"] == 100
        kept = ring.get_many(1000)
    assert len(kept) == s["message_count"] and len(kept) >= 30
    assert kept == list(collections.deque((w.message(i) for i in range(100)), maxlen=len(kept)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overwrite_matches_the_model(ring_path, seed):
    w = Workload(seed=seed, min_size=0, max_size=700)
    model = RingModel(4096, OVERWRITE)
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        for i in range(1000):
            m = w.message(i)
            assert ring.try_put(m) is True, "overwrite-oldest always accepts a valid message"
            model.put(m)
            if i % 50 == 0:
                s = ring.stats()
                assert (s["producer_position"], s["consumer_position"], s["dropped_count"], len(ring)) == (
                    model.head, model.tail, model.dropped, len(model)), f"after message {i}"
            if i % 97 == 0:
                assert ring.get(timeout=0) == model.get()
        assert ring.stats()["dropped_count"] + len(ring) + (1000 // 97 + 1) == 1000
        assert ring.peek_all() == model.messages()


def test_overwrite_put_never_raises_full(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        for i in range(200):
            ring.put(bytes([i & 0xFF]) * 2040, timeout=0)
        s = ring.stats()
        assert s["dropped_count"] + len(ring) == 200
        assert ring.get(timeout=0) == bytes([198]) * 2040


def test_overwrite_batch_larger_than_the_ring_keeps_its_newest(ring_path):
    w = Workload(seed=3, min_size=200, max_size=200)
    batch = [w.message(i) for i in range(50)]
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        assert ring.put_many(batch) == 50
        kept = ring.get_many(100)
        s = ring.stats()
    assert kept and kept[-1] == batch[-1]
    assert kept == batch[-len(kept):]
    assert s["dropped_count"] == 50 - len(kept)


def test_overwrite_with_a_slow_consumer_sees_an_in_order_subsequence(ring_path):
    w = Workload(seed=5, min_size=8, max_size=300)
    got = []
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        for i in range(2000):
            ring.put(w.message(i))
            if i % 10 == 0:
                m = ring.try_get()
                if m is not None:
                    got.append(m)
        got += ring.get_many(10000)
        dropped = ring.stats()["dropped_count"]
    indices = [Workload.index_in(m) for m in got]
    assert indices == sorted(set(indices)), "strictly increasing indices"
    for i, m in zip(indices, got):
        assert m == w.message(i), f"message {i} is not whole"
    assert indices[-1] == 1999
    assert len(got) + dropped == 2000


# --- batches -------------------------------------------------------------------------------


def test_put_many_returns_the_count_and_keeps_the_order(ring_path):
    items = [b"m%03d" % i for i in range(100)]
    with Ring.create(ring_path, 1 << 16) as ring:
        assert ring.put_many(items) == 100
        assert ring.put_many([]) == 0
        assert ring.put_many(iter(items[:3])) == 3, "any iterable"
        assert ring.put_many(x for x in [b"g1", b"g2"]) == 2, "a generator"
        assert len(ring) == 105
        assert ring.get_many(1000) == items + items[:3] + [b"g1", b"g2"]


def test_put_many_mixed_bytes_like(ring_path):
    import array

    items = [b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), array.array("B", [1, 2, 3]), b""]
    with Ring.create(ring_path, 4096) as ring:
        assert ring.put_many(items) == 5
        assert ring.get_many(10) == [bytes(memoryview(x)) for x in items]


def test_get_many_returns_up_to_max_items(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put_many([b"%d" % i for i in range(12)])
        assert ring.get_many(5) == [b"0", b"1", b"2", b"3", b"4"]
        assert ring.get_many(1) == [b"5"]
        assert ring.get_many(100) == [b"%d" % i for i in range(6, 12)]
        assert run_with_deadline(lambda: ring.get_many(10), 3, "get_many(10) on an empty ring") == [], (
            "get_many's default timeout is 0: it returns [] at once")
        assert ring.get_many(10, timeout=0) == []
        t0 = time.monotonic()
        assert ring.get_many(10, timeout=0.05) == [], "no EmptyError: [] if none arrived"
        assert 0.04 <= time.monotonic() - t0 < 1.0


def test_get_many_waits_for_the_first(ring_path):
    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        timer = threading.Timer(0.1, producer.put_many, args=([b"a", b"b"],))
        timer.start()
        t0 = time.monotonic()
        got = consumer.get_many(10, timeout=5)
        assert time.monotonic() - t0 < 2.0
        timer.join()
        got += consumer.get_many(10)
        assert got == [b"a", b"b"]


def test_get_many_over_a_wrap(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        for _ in range(30):
            ring.put(b"w" * 120)
        ring.get_many(30)
        items = [bytes([i]) * (50 + i * 13) for i in range(20)]
        written = ring.put_many(items)
        assert written == 20
        assert ring.get_many(20) == items


def test_peek_all_does_not_consume(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        assert ring.peek_all() == []
        ring.put_many([b"a", b"", b"c"])
        before = ring.stats()
        assert ring.peek_all() == [b"a", b"", b"c"]
        assert ring.peek_all() == [b"a", b"", b"c"]
        after = ring.stats()
        assert after["consumer_position"] == before["consumer_position"] and len(ring) == 3
        assert ring.get() == b"a"
        assert ring.peek_all() == [b"", b"c"]
        assert all(type(m) is bytes for m in ring.peek_all())


def test_peek_all_over_a_wrap_and_after_overwrites(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        items = [bytes([i]) * 333 for i in range(40)]
        for m in items:
            ring.put(m)
        kept = ring.peek_all()
        assert kept == items[-len(kept):]
        assert ring.get_many(100) == kept


def test_put_many_on_a_full_reject_ring_writes_a_prefix_then_full_error(ring_path):
    items = [bytes([i]) * 500 for i in range(20)]  # 8 records of 512 bytes fit
    with Ring.create(ring_path, 4096, REJECT) as ring:
        t0 = time.monotonic()
        with pytest.raises(FullError):
            ring.put_many(items, timeout=0.05)
        assert time.monotonic() - t0 < 2.0
        assert ring.peek_all() == items[:8], "the longest prefix that fits was written, in order"


def test_put_many_waits_for_room_as_put_does(ring_path):
    items = [b"%05d" % i * 20 for i in range(1000)]  # 100-byte messages, far more than fit
    got = []

    def consume():
        with Ring.open(ring_path) as consumer:
            while len(got) < len(items):
                got.extend(consumer.get_many(64, timeout=5) or [])

    with Ring.create(ring_path, 4096, REJECT) as producer:
        t = threading.Thread(target=consume, daemon=True)
        t.start()
        assert producer.put_many(items, timeout=10) == 1000
        t.join(20)
        assert not t.is_alive()
    assert got == items


def test_get_many_empty_error_not_raised_and_get_raises(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        assert ring.get_many(3, timeout=0) == []
        with pytest.raises(EmptyError):
            ring.get(timeout=0)
