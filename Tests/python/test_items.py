"""ItemRing, the typed ring in Python (SPEC.md §19), and rings without a file (§20.2):
round trips of every kind of item, both policies, items straddling the end of the region,
views of a double mapping (§20.1) against copies of a single one, exact drop accounting,
end of stream, another process writing, fork sharing of an anonymous ring, a stateful model
against collections.deque(maxlen), bad input, and 2000 anonymous rings leaking nothing.
Also the anonymous byte ring (Ring.anonymous, Ring.open_fd, Ring.fd) and Ring's mm_toolbox
names (insert, consume, consume_all, unwrapped)."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque

import pytest

np = pytest.importorskip("numpy")

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule  # noqa: E402

from ringpy import (  # noqa: E402
    BusyError,
    ClosedError,
    EmptyError,
    EndOfStreamError,
    ForkedError,
    FullError,
    InvalidSizeError,
    ItemRing,
    ItemView,
    Policy,
    Ring,
)
import ringpy  # noqa: E402
from ringpy._itemtype import describe  # noqa: E402
from ringtools import run_with_deadline  # noqa: E402

REJECT = Policy.REJECT_WHEN_FULL
OVERWRITE = Policy.OVERWRITE_OLDEST

#: 24 bytes, not a power of two: 4096 // 24 = 170 items and 16 bytes left over, so item 170
#: starts 16 bytes before the end of the region and straddles it (SPEC.md §19.3).
TICK = np.dtype([("ts", "<i8"), ("px", "<f8"), ("qty", "<i4")], align=True)
#: 12 bytes: a sub-array item; 4096 // 12 = 341 items, item 341 straddles at offset 4092.
VEC3 = np.dtype(("<f4", (3,)))


def ticks(start: int, n: int) -> np.ndarray:
    """n TICK items whose every field says its sequence number."""
    seq = np.arange(start, start + n)
    out = np.zeros(n, TICK)
    out["ts"] = seq
    out["px"] = seq * 0.5
    out["qty"] = seq % 100_000
    return out


def is_view(a) -> bool:
    """True if array a is a window onto a ring's mapping (an ItemView's buffer)."""
    return isinstance(a.base, memoryview) and isinstance(a.base.obj, ItemView)


# --- Round trips ------------------------------------------------------------------------------


def _values(dt: np.dtype, n: int) -> np.ndarray:
    """n values of dt covering its range: extremes for integers, specials for floats."""
    rng = np.random.default_rng(19)
    if dt.names is not None or dt.subdtype is not None:
        raw = rng.integers(0, 256, size=n * dt.itemsize, dtype=np.uint8)
        out = np.frombuffer(raw.tobytes(), dtype=dt).copy()
        for name in dt.names or ():
            # NaNs compare unequal: give float fields plain numbers.
            if out[name].dtype.kind in "fc":
                out[name] = rng.standard_normal(out[name].shape)
            if out[name].dtype.kind == "b":
                out[name] = rng.integers(0, 2, out[name].shape).astype(bool)
        return out
    if dt.kind == "b":
        return rng.integers(0, 2, n).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        out = rng.integers(info.min, info.max, size=n, dtype=dt.newbyteorder("="), endpoint=True).astype(dt)
        out[:2] = [info.min, info.max]
        return out
    if dt.kind == "f":
        out = rng.standard_normal(n).astype(dt)
        out[:4] = [np.finfo(dt).max, np.finfo(dt).tiny, -0.0, np.inf]
        return out
    out = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)
    out[0] = complex(np.finfo(dt.type(0).real.dtype).max, -1.0)
    return out


ROUND_TRIP_DTYPES = [
    "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8", "c8", "c16", "?", "f2",
    ">i4", ">u8", ">f8", ">c16",
    np.dtype([("ts", "<i8"), ("px", "<f8"), ("qty", "<i4")], align=True),
    np.dtype([("ts", "<i8"), ("px", "<f8"), ("qty", "<i4")], align=False),
    np.dtype([("id", "u1"), ("xyz", "<f4", (3,)), ("m", ">i2", (2, 2)), ("ok", "?")], align=True),
    np.dtype([("id", "u1"), ("xyz", "<f4", (3,)), ("m", ">i2", (2, 2)), ("ok", "?")], align=False),
    np.dtype([("tag", "S5"), ("inner", [("a", ">u4"), ("b", "<c8")])]),
]


@pytest.mark.parametrize("dtype", ROUND_TRIP_DTYPES, ids=str)
def test_round_trip(ring_path, dtype):
    dt = np.dtype(dtype)
    values = _values(dt, 700)  # more than one lap of a 4096-byte region for most types
    with ItemRing.create(ring_path, dt, 256, policy=REJECT) as ring:
        assert ring.dtype == dt and ring.item_size == dt.itemsize
        assert ring.type_description == describe(dt)[0]
        assert ring.item_alignment == dt.alignment
        done = 0
        for chunk in (1, 3, 50, 200, 2, 255, 100, 89):  # batches of every size, laps of the region
            ring.insert_many(values[done:done + chunk])
            got = ring.consume_many(chunk)
            assert got.dtype == dt and got.tobytes() == values[done:done + chunk].tobytes()
            done += chunk
        assert done == len(values)
        ring.insert(values[1])
        one = ring.consume()
        if dt.names:  # a np.void is converted field by field: its padding comes back zero
            assert one == values[1] and one.dtype == dt
        else:
            assert np.asarray(one, dtype=dt).tobytes() == values[1:2].tobytes()
        ring.insert_many(values[:10])
    # Opened again without a dtype: the description in the header gives it.
    with ItemRing.open(ring_path) as again:
        assert describe(again.dtype)[0] == describe(dt)[0]
        assert again.consume_all().tobytes() == values[:10].tobytes()


def test_big_endian_values_read_back_equal():
    with ItemRing.anonymous(">i4", 16) as ring:
        ring.insert_many([1, -2, 0x12345678])
        got = ring.consume_all()
        assert got.dtype == np.dtype(">i4")
        assert got.tolist() == [1, -2, 0x12345678]
        assert got.astype("<i4").tolist() == [1, -2, 0x12345678]
        assert ring.type_description == ">i4"


@pytest.mark.parametrize("dtype", ["<i1", "<u1", ">i2", ">i4", "<u8", "<f2", "<f4", ">f8", "?", "<c8"])
def test_insert_converts_one_item_as_numpy_does(dtype):
    """insert() packs a plain scalar without NumPy (its fast path): the same bytes, or the
    same error, as numpy.asarray(item, dtype)."""
    dt = np.dtype(dtype)
    values = [0, 1, -1, 127, 300, 2**63 - 1, 2**64, -2**70, 3.7, -0.0, float("inf"), float("nan"), 1e300,
              True, np.float32(0.1), np.int64(-5), np.uint8(200), np.float16(2.5), np.bool_(True)]
    with ItemRing.anonymous(dt, 64) as ring:
        for value in values:
            try:
                with np.errstate(all="ignore"):
                    expected = np.asarray(value, dtype=dt).tobytes()
            except (OverflowError, ValueError, TypeError) as e:
                with pytest.raises(type(e)):
                    ring.insert(value)
                continue
            with np.errstate(all="ignore"):
                ring.insert(value)
                assert ring.consume_all().tobytes() == expected, value
                ring.insert(value)
            assert np.asarray(ring.consume()).astype(dt).tobytes() == expected, value


def test_padding_of_converted_items_is_zero():
    """NumPy leaves the padding of a struct it builds uninitialised; none of that heap memory
    may reach the shared ring."""
    with ItemRing.anonymous(TICK, 8) as ring:
        ring.insert((1, 2.0, 3))
        ring.insert(np.frombuffer(bytes(range(24)), TICK)[0])
        ring.insert_many([(4, 5.0, 6)] * 3)
        raw = ring.unwrapped().tobytes()
        assert all(raw[i * 24 + 20:i * 24 + 24] == bytes(4) for i in range(5)), raw.hex()


def test_scalar_kinds_come_back_as_numpy_scalars():
    with ItemRing.anonymous(np.float64, 8) as ring:
        ring.insert(2.5)
        item = ring.consume()
        assert isinstance(item, np.float64) and item == 2.5
    with ItemRing.anonymous(TICK, 8) as ring:
        ring.insert((1, 2.0, 3))
        item = ring.consume()
        assert isinstance(item, np.void) and item["ts"] == 1 and item["px"] == 2.0 and item["qty"] == 3
    with ItemRing.anonymous(VEC3, 8) as ring:
        ring.insert([1, 2, 3])
        ring.insert_many([[4, 5, 6], [7, 8, 9]])
        assert ring.consume().tolist() == [1, 2, 3]
        assert ring.consume_all().shape == (2, 3)


# --- Policies -----------------------------------------------------------------------------------


def test_reject_when_full_waits_then_full_error():
    with ItemRing.anonymous("<u8", 1, policy=REJECT) as ring:
        assert ring.policy is REJECT and ring.capacity == 512
        ring.insert_many(np.arange(512, dtype="<u8"))
        assert ring.is_full() and len(ring) == 512
        with pytest.raises(FullError):
            ring.insert(1, timeout=0)
        started = time.monotonic()
        with pytest.raises(FullError, match="within the timeout"):
            ring.insert(1, timeout=0.1)
        assert time.monotonic() - started >= 0.09
        with pytest.raises(FullError):
            ring.insert_many([1, 2], timeout=0)
        with pytest.raises(InvalidSizeError):
            ring.insert_many(np.zeros(513, "<u8"))  # more than the ring holds, ever
        assert ring.dropped_count == 0
        assert ring.consume() == 0
        ring.insert(512, timeout=0)  # room for one
        assert ring.consume_all().tolist() == list(range(1, 513))


def test_reject_when_full_insert_waits_for_a_consumer():
    with ItemRing.anonymous("<i8", 1, policy=REJECT) as ring:
        ring.insert_many(np.arange(512))

        def consume_later():
            time.sleep(0.1)
            return ring.consume()

        t = threading.Thread(target=consume_later)
        t.start()
        run_with_deadline(lambda: ring.insert(512, timeout=10), 10, "insert waiting for room")
        t.join()
        assert ring.consume_all()[-1] == 512


def test_overwrite_oldest_is_a_deque():
    with ItemRing.anonymous("<i8", 1) as ring:
        assert ring.policy is OVERWRITE
        cap = ring.capacity
        model = deque(maxlen=cap)
        ring.consume_all()  # take the consumer role: it counts from here
        for i in range(cap + 100):
            ring.insert(i)
            model.append(i)
        assert ring.is_full() and list(ring.unwrapped()) == list(model)
        assert ring.dropped_count == 100
        ring.insert_many(np.arange(1000, 1010))
        model.extend(range(1000, 1010))
        assert ring.consume_all().tolist() == list(model)
        assert ring.missed_count == ring.dropped_count == 110


def test_insert_many_larger_than_capacity_keeps_the_last_items_and_counts_exactly():
    with ItemRing.anonymous(TICK, 1) as ring:
        cap = ring.capacity
        assert cap == 4096 // 24
        ring.consume_all()
        produced = 3 * cap + 5
        ring.insert_many(ticks(0, produced))
        assert len(ring) == cap
        received = ring.consume_all()
        np.testing.assert_array_equal(received, ticks(produced - cap, cap))
        assert ring.dropped_count == produced - cap
        assert ring.missed_count == ring.dropped_count
        assert len(received) + ring.missed_count == produced


# --- Items straddling the end, views and copies -------------------------------------------------


@pytest.mark.parametrize("initial_position", [0, 2**32 - 7, 2**64 - 200])
@pytest.mark.parametrize("double_map", [True, False])
def test_items_straddle_the_end(ring_path, initial_position, double_map):
    with ItemRing.create(ring_path, VEC3, 1, policy=REJECT, initial_position=initial_position,
                         double_map=double_map) as ring:
        assert ring.is_double_mapped is double_map
        cap = ring.capacity
        assert cap == 4096 // 12
        seq = 0
        for burst in (cap, 1, cap - 1, 7, cap, 300):  # many laps, every offset of the 12-byte item
            items = np.arange(seq * 3, (seq + burst) * 3, dtype="<f4").reshape(-1, 3)
            ring.insert_many(items)
            np.testing.assert_array_equal(ring.unwrapped(), items)
            np.testing.assert_array_equal(ring.consume_many(burst), items)
            seq += burst
        assert ring.stats()["producer_position"] == (initial_position + seq) % 2**64


def _straddling_ring(path, double_map=None):
    """A TICK ring whose unread items run across the end of the region: 100 consumed, then
    150 unread from position 100 (byte 2400) to 250, past item 170 at byte 4080."""
    ring = ItemRing.create(path, TICK, 1, policy=REJECT, double_map=double_map)
    ring.insert_many(ticks(0, 100))
    ring.consume_many(100)
    ring.insert_many(ticks(100, 150))
    return ring


def test_view_across_the_wrap_equals_the_copies(ring_path):
    ring = _straddling_ring(ring_path)
    assert ring.is_double_mapped, "a 4 KiB-page host double-maps a typed ring by default"
    expected = ticks(100, 150)
    view = ring.unwrapped()
    assert not view.flags.writeable and not view.flags.owndata
    assert is_view(view)
    copy = ring.unwrapped(copy=True)
    assert copy.flags.writeable and not is_view(copy), "a copy of its own"
    np.testing.assert_array_equal(view, expected)
    np.testing.assert_array_equal(copy, expected)
    latest = ring.latest(80)  # starts at position 170: the straddling item first
    np.testing.assert_array_equal(latest, expected[-80:])
    assert not latest.flags.writeable
    np.testing.assert_array_equal(ring.latest(1000), expected)
    assert ring.latest(0).size == 0
    assert len(ring) == 150, "peeks consume nothing"
    # The view is the concatenation of the copies the consumer reads in pieces.
    pieces = np.concatenate([ring.consume_many(70), ring.consume_many(1), ring.consume_many(1000)])
    np.testing.assert_array_equal(pieces, view)
    del view, latest, pieces
    ring.close()


def test_single_mapping_gives_equal_copies(ring_path):
    ring = _straddling_ring(ring_path)
    doubled = ring.unwrapped(copy=True)
    ring.close()
    with ItemRing.open(ring_path, double_map=False) as once:
        assert not once.is_double_mapped
        unwrapped = once.unwrapped()
        assert unwrapped.flags.writeable and not is_view(unwrapped), "mapped once: a copy"
        np.testing.assert_array_equal(unwrapped, doubled)
        for n in (80, 60, 1):  # from inside the first span, from the second
            np.testing.assert_array_equal(once.latest(n), doubled[-n:])
        np.testing.assert_array_equal(once.consume_all(), doubled)


def test_a_view_is_a_window_onto_live_memory():
    with ItemRing.anonymous("<i8", 1) as ring:
        cap = ring.capacity
        ring.insert_many(np.arange(cap))
        view = ring.unwrapped()
        assert view.tolist() == list(range(cap))
        assert ring.consume() == 0  # consuming does not invalidate the view's memory
        ring.insert(cap)  # overwrite-oldest: the slot of item 0, which the view shows first
        assert view[0] == cap
        assert view[1:].tolist() == list(range(1, cap))
        del view


def test_a_view_keeps_its_ring_alive():
    ring = ItemRing.anonymous("<f8", 4)
    ring.insert_many([1.0, 2.0])
    view = ring.unwrapped()
    del ring
    gc.collect()
    assert view.tolist() == [1.0, 2.0]
    owner = view.base.obj.ring
    with pytest.raises(BufferError):
        owner.close()
    del view
    owner.close()


def test_close_with_a_live_view_raises_buffer_error_and_a_view_after_close_fails():
    ring = ItemRing.anonymous("<f8", 4)
    ring.insert_many([1.0, 2.0, 3.0])
    view = ring.latest(2)
    with pytest.raises(BufferError, match="still alive"):
        ring.close()
    assert not ring.closed and view.tolist() == [2.0, 3.0]
    exporter = view.base.obj
    view.base.release()  # what the array held (the array must go first)
    del view
    gc.collect()
    ring.close()
    assert ring.closed
    with pytest.raises(ClosedError):
        memoryview(exporter)
    with pytest.raises(ClosedError):
        np.frombuffer(exporter, "<f8")
    with pytest.raises(ClosedError):
        ring.unwrapped()


# --- End of stream, iteration, async ----------------------------------------------------------


def test_end_of_stream():
    with ItemRing.anonymous("<i4", 16, policy=REJECT) as ring:
        ring.insert_many([1, 2, 3])
        ring.close_writer()
        with pytest.raises(ClosedError):
            ring.insert(4)
        assert ring.stats()["writer_closed"]
        assert [int(x) for x in ring] == [1, 2, 3]
        with pytest.raises(EndOfStreamError):
            ring.consume()
        with pytest.raises(EndOfStreamError):
            ring.consume_many(5, timeout=0)
        assert ring.consume_all().size == 0
        assert ring.unwrapped().size == 0


def test_empty_and_timeouts():
    with ItemRing.anonymous("<i4", 16) as ring:
        with pytest.raises(EmptyError):
            ring.consume(timeout=0)
        started = time.monotonic()
        with pytest.raises(EmptyError):
            ring.consume(timeout=0.1)
        assert time.monotonic() - started >= 0.09
        assert ring.consume_many(10, timeout=0.05).size == 0
        assert ring.consume_all().size == 0 and ring.unwrapped().size == 0 and ring.latest(3).size == 0
        assert ring.is_empty() and not ring


def test_close_ends_a_blocked_consume():
    ring = ItemRing.anonymous("<i4", 16)
    box = {}

    def blocked():
        try:
            ring.consume()
        except ClosedError as e:
            box["error"] = e

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.1)
    run_with_deadline(ring.close, 5, "close() of a ring with a blocked consume")
    t.join(5)
    assert not t.is_alive() and isinstance(box.get("error"), ClosedError)


def test_async():
    async def main():
        with ItemRing.anonymous("<i8", 1, policy=REJECT) as ring:
            cap = ring.capacity

            async def produce():
                for i in range(cap + 50):  # more than fit: insert_async waits for room
                    await ring.insert_async(i)
                ring.close_writer()

            task = asyncio.create_task(produce())
            first = await ring.aconsume(timeout=5)
            second = await ring.consume_async()
            rest = [int(x) async for x in ring.aconsume_iterable()]
            await task
            assert [first, second] + rest == list(range(cap + 50))
            with pytest.raises(EndOfStreamError):
                await ring.consume_async()
        with ItemRing.anonymous("<i8", 4) as ring:
            with pytest.raises(EmptyError):
                await ring.consume_async(timeout=0.05)
            ring.insert_many([7, 8])
            ring.close_writer()
            assert [int(x) async for x in ring] == [7, 8]

    run_with_deadline(lambda: asyncio.run(main()), 30, "the async ItemRing test")


# --- Another process, fork -------------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    import ringpy

    ring = ringpy.ItemRing.open(sys.argv[1], dtype="<f8")
    produced, total = 0, int(sys.argv[2])
    rng = np.random.default_rng(5)
    while produced < total:
        n = min(int(rng.integers(1, 200)), total - produced)
        if n == 1:
            ring.insert(produced + 0.25)
        else:
            ring.insert_many(np.arange(produced, produced + n) + 0.25)
        produced += n
    ring.close_writer()
""")


@pytest.mark.parametrize("policy", [REJECT, OVERWRITE])
def test_another_process_writes_100k(ring_path, policy):
    total = 100_000
    ring = ItemRing.create(ring_path, "<f8", 1024, policy=policy)
    ring.consume_all()  # the consumer role is ours before the first write: missed counts every drop
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(ring_path), str(total)])
    chunks = []
    try:
        if policy is OVERWRITE:  # let the child lap the ring first, so that some items are surely dropped
            deadline = time.monotonic() + 60
            while ring.dropped_count == 0 and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
        while True:
            try:
                chunks.append(ring.consume_many(4096, timeout=30))
            except EndOfStreamError:
                break
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
    received = np.concatenate(chunks)
    seq = received - 0.25
    assert np.array_equal(seq, np.floor(seq)), "every item is a sequence number + 0.25"
    seq = seq.astype(np.int64)
    assert np.all(np.diff(seq) > 0), "in order, none twice"
    assert seq[-1] == total - 1, "the end of the stream comes after the last item"
    if policy is REJECT:
        assert np.array_equal(seq, np.arange(total))
        assert ring.missed_count == 0 and ring.dropped_count == 0
    else:
        gaps = int(seq[0] + np.sum(np.diff(seq) - 1))
        assert ring.missed_count > 0
        assert len(received) + ring.missed_count == total
        assert ring.missed_count == gaps == ring.dropped_count
    ring.close()


_FLOODER = textwrap.dedent("""
    import sys
    import numpy as np
    import ringpy

    ring = ringpy.ItemRing.open(sys.argv[1])
    seq = np.arange(int(sys.argv[2]), dtype="<i8")
    for start in range(0, len(seq), 7):
        ring.insert_many(seq[start:start + 7])
    ring.close_writer()
""")


def test_copies_under_a_racing_producer_are_runs_of_the_stream(ring_path):
    """Another process overwrites the oldest items as fast as it can while this one copies
    the unread items (unwrapped, latest) and consumes: every copy is a run of consecutive
    sequence numbers, as the ring held them at one moment (SPEC.md §19.4 step 5: a copy
    the producer overwrote meanwhile is taken again)."""
    total = 300_000
    ring = ItemRing.create(ring_path, "<i8", 64, policy=OVERWRITE, double_map=False)
    ring.consume_all()
    child = subprocess.Popen([sys.executable, "-c", _FLOODER, str(ring_path), str(total)])
    copies = consumed = last = 0
    try:
        while True:
            for run in (ring.unwrapped(copy=True), ring.latest(40, copy=True)):
                assert np.array_equal(run, np.arange(run[0], run[0] + len(run))) if len(run) else True, run
                copies += 1
            try:
                got = ring.consume_many(5, timeout=30)
            except EndOfStreamError:
                break
            assert len(got) and got[0] >= last and np.array_equal(got, np.arange(got[0], got[0] + len(got)))
            last = int(got[-1]) + 1
            consumed += len(got)
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert last == total and consumed + ring.missed_count == total
    assert copies > 100
    ring.close()


def test_a_ring_without_a_file_passed_to_another_program():
    """The memfd is close-on-exec; a child given it (pass_fds) opens the ring from it."""
    ring = ItemRing.anonymous("<i8", 100, policy=REJECT, name="passed")
    ring.consume_all()
    code = ("import sys, ringpy; r = ringpy.ItemRing.open_fd(int(sys.argv[1]), dtype='<i8'); "
            "assert r.path == 'memfd:passed', r.path; r.insert_many(range(10)); r.close_writer()")
    subprocess.run([sys.executable, "-c", code, str(ring.fd)], pass_fds=[ring.fd], check=True, timeout=60)
    assert np.concatenate(list(_drain(ring))).tolist() == list(range(10))
    ring.close()


pytestmark_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytestmark_fork
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_shares_an_anonymous_ring():
    from test_fork import in_child

    ring = ItemRing.anonymous(TICK, 64, policy=REJECT, name="shared")
    assert ring.path == "memfd:shared"
    ring.consume_all()  # the parent consumes; the child produces

    def child():
        with pytest.raises(ForkedError):
            ring.insert(ticks(0, 1)[0])
        with pytest.raises(ForkedError):
            ring.consume_all()
        mine = ItemRing.open_fd(ring.fd, dtype=TICK)
        assert mine.path == "memfd:shared" and mine.capacity == ring.capacity
        mine.insert_many(ticks(0, 50))
        mine.close_writer()
        mine.close()
        ring.close()  # only forgets the inherited handles

    in_child(child)
    np.testing.assert_array_equal(np.concatenate(list(_drain(ring))), ticks(0, 50))
    ring.close()


def _drain(ring):
    while True:
        try:
            yield ring.consume_many(1000, timeout=5)
        except EndOfStreamError:
            return


@pytestmark_fork
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_shares_an_anonymous_byte_ring():
    from test_fork import in_child

    ring = Ring.anonymous(4096, name="bytes")
    assert ring.path == "memfd:bytes" and ring.policy is REJECT
    ring.consume_all()

    def child():
        with pytest.raises(ForkedError):
            ring.put(b"inherited")
        mine = Ring.open_fd(ring.fd)
        assert mine.path == "memfd:bytes"
        mine.insert(b"from the child")
        mine.put_many([b"a", b"b"])
        mine.close_writer()
        mine.close()

    in_child(child)
    assert [bytes(m) for m in ring] == [b"from the child", b"a", b"b"]
    ring.close()


# --- Byte rings without a file, and Ring's mm_toolbox names --------------------------------------


def test_anonymous_byte_ring_and_aliases():
    with Ring.anonymous(4096, policy=OVERWRITE, name="events") as ring:
        assert ring.path == "memfd:events" and ring.capacity == 4096 and ring.policy is OVERWRITE
        assert isinstance(ring.fd, int) and ring.fd >= 0
        ring.insert(b"one")
        ring.insert(b"two", timeout=0)
        assert ring.unwrapped() == [b"one", b"two"] and len(ring) == 2
        assert ring.consume() == b"one"
        assert ring.consume_all() == [b"two"]
        assert ring.consume_all() == []
        ring.put(b"three")
        with Ring.open_fd(ring.fd) as same:  # another handle on the same memory and roles
            assert same.path == "memfd:events" and len(same) == 1
            with pytest.raises(BusyError):
                same.put(b"four")
        assert ring.consume(timeout=1) == b"three"
        ring.close_writer()
        assert ring.consume_all() == []


def test_open_fd_of_a_ring_file(ring_path):
    with ItemRing.create(ring_path, "<u2", 16) as ring:
        ring.insert_many([1, 2, 3])
        fd = os.open(ring_path, os.O_RDWR)
        try:
            with ItemRing.open_fd(fd) as other:
                assert other.path == str(ring_path)
                assert other.dtype == np.dtype("<u2") and len(other) == 3
        finally:
            os.close(fd)


# --- A model: collections.deque(maxlen=capacity) -------------------------------------------------


class _DequeMachine(RuleBasedStateMachine):
    """An anonymous overwrite-oldest ItemRing against deque(maxlen=capacity). Items carry
    their sequence number in every field, so a torn or misplaced straddling item shows."""

    DTYPE: np.dtype
    DOUBLE_MAP: bool

    @initialize()
    def make(self):
        self.ring = ItemRing.anonymous(self.DTYPE, 1, double_map=self.DOUBLE_MAP)
        assert self.ring.is_double_mapped == self.DOUBLE_MAP
        self.model = deque(maxlen=self.ring.capacity)
        self.produced = 0
        self.received = 0
        self.ring.consume_all()  # the consumer role is taken: missed_count counts every drop

    def items(self, n):
        """The next n items: every field of each holds its sequence number."""
        seq = np.arange(self.produced, self.produced + n)
        out = np.zeros(n, self.DTYPE)
        for name in self.DTYPE.names:
            out[name] = seq.reshape((-1,) + (1,) * (out[name].ndim - 1))
        return out

    def sequence(self, items):
        return [int(x) for x in np.atleast_1d(items)["seq"]]

    def check_items(self, items):
        items = np.atleast_1d(items)
        for name in self.DTYPE.names:
            field = items[name].reshape(len(items), -1) if len(items) else items[name]
            assert (field == items["seq"].reshape(-1, 1)).all(), f"field {name} is torn"

    def _insert(self, n):
        self.ring.insert_many(self.items(n))
        self.model.extend(range(self.produced, self.produced + n))
        self.produced += n

    @rule(n=st.integers(min_value=0, max_value=8))
    def insert_many(self, n):
        self._insert(n)

    @rule(laps=st.integers(min_value=1, max_value=3), extra=st.integers(min_value=0, max_value=3))
    def insert_many_large(self, laps, extra):
        self._insert(laps * self.ring.capacity + extra)

    @rule()
    def insert(self):
        self.ring.insert(self.items(1)[0])
        self.model.append(self.produced)
        self.produced += 1

    @rule()
    def consume(self):
        if not self.model:
            with pytest.raises(EmptyError):
                self.ring.consume(timeout=0)
            return
        item = self.ring.consume(timeout=0)
        self.check_items(item)
        assert int(item["seq"]) == self.model.popleft()
        self.received += 1

    @rule(n=st.integers(min_value=0, max_value=10))
    def consume_many(self, n):
        got = self.ring.consume_many(n, timeout=0)
        self.check_items(got)
        expected = [self.model.popleft() for _ in range(min(n, len(self.model)))]
        assert self.sequence(got) == expected
        self.received += len(got)

    @rule()
    def consume_all(self):
        got = self.ring.consume_all()
        self.check_items(got)
        assert self.sequence(got) == list(self.model)
        self.received += len(got)
        self.model.clear()

    @rule(copy=st.booleans())
    def unwrapped(self, copy):
        got = self.ring.unwrapped(copy=copy)
        self.check_items(got)
        assert self.sequence(got) == list(self.model)
        assert is_view(got) == (not copy and self.ring.is_double_mapped and len(got) > 0)
        assert got.flags.writeable != is_view(got)

    @rule(n=st.integers(min_value=0, max_value=200))
    def latest(self, n):
        got = self.ring.latest(n)
        self.check_items(got)
        assert self.sequence(got) == list(self.model)[max(0, len(self.model) - n):]

    @invariant()
    def counts(self):
        assert len(self.ring) == len(self.model)
        assert self.ring.is_empty() == (not self.model)
        assert self.ring.is_full() == (len(self.model) == self.ring.capacity)
        # Every item was received, is unread, or was dropped.
        assert self.ring.dropped_count == self.produced - self.received - len(self.model)

    def teardown(self):
        self.ring.consume_all()
        assert self.ring.missed_count == self.ring.dropped_count
        self.ring.close()


class TinyItems(_DequeMachine):
    """1200-byte items: the ring holds 3, and every third item straddles the end; double-mapped."""

    DTYPE = np.dtype([("seq", "<i8"), ("data", "<i4", (298,))])
    DOUBLE_MAP = True


class TickItems(_DequeMachine):
    """24-byte items (170 in the ring, 16 bytes left over) with a big-endian field; mapped once."""

    DTYPE = np.dtype([("seq", "<i8"), ("px", ">f8"), ("qty", "<i8")])
    DOUBLE_MAP = False


_MODEL_SETTINGS = settings(
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target),
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestTinyItems = TinyItems.TestCase
TestTinyItems.settings = _MODEL_SETTINGS
TestTickItems = TickItems.TestCase
TestTickItems.settings = _MODEL_SETTINGS


# --- Bad input --------------------------------------------------------------------------------------


def test_open_with_another_dtype_names_both(ring_path):
    ItemRing.create(ring_path, TICK, 8).close()
    with pytest.raises(ValueError) as info:
        ItemRing.open(ring_path, dtype="<f8")
    assert "{ts:<i8@0,px:<f8@8,qty:<i4@16}24" in str(info.value) and "'<f8'" in str(info.value)
    with ItemRing.open(ring_path, dtype=TICK) as ring:  # the same type: fine
        assert ring.dtype == TICK
    with pytest.raises(ValueError):
        ItemRing.create(ring_path, "<f8", 8, exist_ok=True)  # an existing ring of another type


@pytest.mark.parametrize("dtype", [object, "U4", "M8[s]", np.dtype([])], ids=str)
def test_unsupported_dtype_is_type_error(ring_path, dtype):
    with pytest.raises(TypeError):
        ItemRing.create(ring_path, dtype, 8)
    with pytest.raises(TypeError):
        ItemRing.anonymous(dtype, 8)
    assert not ring_path.exists()


def test_bad_arguments(ring_path):
    with pytest.raises(InvalidSizeError):
        ItemRing.anonymous("<f8", 0)
    with pytest.raises(ValueError):
        ItemRing.anonymous("<f8", -1)
    with pytest.raises(TypeError):
        ItemRing.anonymous("<f8", 1.5)
    with pytest.raises(ValueError):
        ItemRing.anonymous("<f8", 8, policy="sometimes")
    with pytest.raises(TypeError):
        ItemRing()
    with ItemRing.anonymous(VEC3, 8) as ring:
        with pytest.raises(ValueError):
            ring.insert([1, 2])  # an item is 3 floats
        with pytest.raises(ValueError):
            ring.insert_many([1, 2, 3])  # items come as (n, 3)
        with pytest.raises(ValueError):
            ring.consume_many(-1)
        with pytest.raises(ValueError):
            ring.latest(-1)
    Ring.create(ring_path, 4096).close()
    with pytest.raises(ValueError, match="byte records"):
        ItemRing.open(ring_path)


def test_roles_are_taken_lazily_and_held(ring_path):
    with ItemRing.create(ring_path, "<f8", 16, policy=REJECT) as writer, ItemRing.open(ring_path) as reader:
        writer.insert(1.0)
        assert reader.consume() == 1.0
        with pytest.raises(BusyError):
            reader.insert(2.0)
        with pytest.raises(BusyError):
            writer.consume(timeout=0)
        assert reader.missed_count == 0


def test_closed_ring_raises_closed_error():
    ring = ItemRing.anonymous("<f8", 8)
    ring.close()
    ring.close()  # idempotent
    for call in (lambda: ring.insert(1.0), lambda: ring.consume(timeout=0), ring.consume_all, ring.unwrapped,
                 lambda: len(ring), lambda: ring.fd, lambda: ring.dropped_count, lambda: ring.missed_count,
                 ring.close_writer):
        with pytest.raises(ClosedError):
            call()
    assert "closed" in repr(ring)


# --- No leaks ----------------------------------------------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _vm_size_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    raise AssertionError("no VmSize in /proc/self/status")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_2000_anonymous_rings_leak_no_fd_and_no_address_space():
    def one(i):
        ring = ItemRing.anonymous("<f8", 1000, double_map=bool(i % 2))
        ring.insert_many(np.arange(10.0))
        view = ring.unwrapped()
        assert view[-1] == 9.0
        del view
        if i % 3:
            ring.close()  # else let dealloc release it
        byte_ring = Ring.anonymous(4096)
        byte_ring.put(b"x")
        byte_ring.close()

    for i in range(50):  # warm up: allocator arenas, caches
        one(i)
    gc.collect()
    fds, vm = _open_fds(), _vm_size_kib()
    for i in range(2000):
        one(i)
    gc.collect()
    assert _open_fds() == fds
    # 2000 leaked double mappings of a 8 KiB region would be over 40 MiB.
    assert _vm_size_kib() - vm < 4096, f"VmSize grew by {_vm_size_kib() - vm} KiB"


# --- In place, and the native insert ------------------------------------------------------------

def test_consume_view_reads_in_place_and_consumes_at_the_end_of_the_block():
    ring = ringpy.ItemRing.anonymous(np.float64, 1024, policy=ringpy.Policy.REJECT_WHEN_FULL)
    ring.insert_many(np.arange(1000.0))
    ring.consume_many(900)
    ring.insert_many(np.arange(1000.0, 1900.0))   # the unread run now crosses the end of the region
    window = ring.unwrapped()
    with ring.consume_view(timeout=0) as items:
        assert not items.flags.writeable
        if ring.is_double_mapped:   # every unread item, in place, across the end of the region
            assert np.shares_memory(items, window)
            assert (items == np.arange(900.0, 1900.0)).all()
        seen = len(items)
        with pytest.raises(ringpy.BusyError):
            ring.consume()
    assert len(ring) == 1000 - seen
    with ring.consume_view(5, timeout=0) as items:
        assert len(items) == min(5, len(ring))
    with ring.consume_view(timeout=0) as rest:
        pass
    assert len(ring) == 0
    with ring.consume_view(timeout=0.01) as none:
        assert len(none) == 0


def test_a_block_that_raises_consumes_nothing():
    ring = ringpy.ItemRing.anonymous(np.int32, 64)
    ring.insert_many(np.arange(10, dtype=np.int32))
    with pytest.raises(KeyError):
        with ring.consume_view() as items:
            assert len(items) == 10
            raise KeyError("stop")
    assert len(ring) == 10
    assert int(ring.consume()) == 0


def test_consume_view_under_overwrite_reports_what_the_producer_dropped_while_viewed():
    ring = ringpy.ItemRing.anonymous(np.uint64, 512)
    ring.insert_many(np.arange(512, dtype=np.uint64))
    with pytest.raises(ringpy.OverwrittenError) as caught:
        with ring.consume_view(100) as items:
            assert len(items) == 100
            ring.insert_many(np.arange(512, 517, dtype=np.uint64))   # drops items 0..4 while viewed
    assert caught.value.dropped == 5
    assert ring.missed_count == 5
    assert int(ring.consume()) == 100                               # 5..99 were consumed


@pytest.mark.parametrize("dtype,values", [
    (np.float64, [0.0, -1.5, 1e300, float("inf")]), (np.float32, [0.5, -2.25, 3.0e38]),
    (np.int64, [0, -1, 2**63 - 1, -2**63]), (np.int32, [7, -2**31]), (np.int16, [-32768, 32767]),
    (np.int8, [-128, 127]), (np.uint64, [0, 2**64 - 1]), (np.uint32, [2**32 - 1]), (np.uint16, [65535]),
    (np.uint8, [0, 255]),
])
def test_the_native_insert_of_python_numbers_equals_numpys_conversion(dtype, values):
    ring = ringpy.ItemRing.anonymous(dtype, 64)
    for v in values:
        ring.insert(v)
    assert (ring.consume_all() == np.array(values, dtype=dtype)).all()


def test_the_native_insert_leaves_other_values_to_numpy_and_its_errors():
    ring = ringpy.ItemRing.anonymous(np.uint8, 64)
    with pytest.raises(OverflowError):
        ring.insert(256)
    ring.insert(np.uint8(7))
    ring.insert(True)
    ints = ringpy.ItemRing.anonymous(np.int64, 64)
    ints.insert(2.0)      # NumPy converts a float for an integer type
    assert list(ring.consume_all()) == [7, 1]
    assert int(ints.consume()) == 2
    with pytest.raises(TypeError):
        ring.insert(1, 2, 3)


def test_a_typed_ring_file_persists_like_mmringbuffer(ring_path):
    """MemMapRingBuffer's use: the ring and its unread items outlive the process that wrote
    them; reopening with exist_ok finds them, and what was consumed stays consumed."""
    code = textwrap.dedent("""
        import sys, numpy as np, ringpy
        ring = ringpy.ItemRing.create(sys.argv[1], np.int64, 1000, exist_ok=True)
        ring.insert_many(np.arange(int(sys.argv[2]), int(sys.argv[3])))
        print(int(ring.consume()))
    """)
    first = subprocess.run([sys.executable, "-c", code, ring_path, "0", "10"], capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "0"
    second = subprocess.run([sys.executable, "-c", code, ring_path, "10", "20"], capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "1"
    ring = ItemRing.create(ring_path, np.int64, 1000, exist_ok=True)
    assert ring.consume_all().tolist() == list(range(2, 20))
    with pytest.raises(ValueError):
        ItemRing.create(ring_path, np.float64, 1000, exist_ok=True)   # another dtype: refused, named
