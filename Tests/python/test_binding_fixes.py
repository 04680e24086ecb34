"""ringpy's fixes for issue 11 (one test, or a few, per defect; each failed before its fix):

- defect 1: get_many / get / try_get under overwrite-oldest deliver only what ring_consume
  reports consumed (no copy from a pass the producer reclaimed);
- defect 4: flush() racing close() (a use-after-free);
- defect 6: a put() waiting when close_writer() runs never takes the producer role again;
- defect 11: put_many's FullError after a partial write says how many were written;
- defect 12: stats/len/peek_all never wait for a lock with the GIL held, get_async never
  waits for the role lock on the event loop, a cancelled put_async writes nothing, and a
  second close() returns only once the roles are released.

Every test is short and bounded by timeouts: a regression fails, it does not hang.
"""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
import threading
import time
import zlib

import pytest

from ringpy import BusyError, ClosedError, EmptyError, EndOfStreamError, FullError, Policy, Ring
from ringtools import run_with_deadline

# A self-checking message: index, crc32 of the body, then the body (index-dependent bytes).
HEAD = struct.Struct("<QI")


def _message(index: int, size: int) -> bytes:
    body = (index.to_bytes(8, "little") * (size // 8 + 1))[:size]
    return HEAD.pack(index, zlib.crc32(body)) + body


def _check(message: bytes) -> int:
    index, crc = HEAD.unpack_from(message)
    assert zlib.crc32(message[HEAD.size:]) == crc, f"message {index} fails its checksum (torn or reclaimed)"
    return index


def _run(code: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)


def _fill(ring: Ring) -> list[bytes]:
    """Fills a reject-when-full ring until not even an empty message fits; returns what it wrote."""
    kept = []
    for size in (100, 0):
        while ring.try_put(b"%03d" % len(kept) + bytes(size)):
            kept.append(b"%03d" % len(kept) + bytes(size))
    while ring.try_put(b""):
        kept.append(b"")
    return kept


def _join(threads, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not [t for t in threads if t.is_alive()], f"threads still running after {seconds} s"


# --- defect 1: reads under overwrite-oldest ------------------------------------------------

PRODUCER = r"""
import struct, sys, time, zlib, ringpy
HEAD = struct.Struct("<QI")
ring = ringpy.Ring.open(sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < end:
    size = 1000 + (i * 7919) % 31000
    body = (i.to_bytes(8, "little") * (size // 8 + 1))[:size]
    ring.put(HEAD.pack(i, zlib.crc32(body)) + body)
    i += 1
print(i)
"""


def test_get_many_and_get_under_overwrite_oldest_return_only_intact_messages(ring_path):
    # A fast producer in another process and a slow consumer: 64 KiB ring, messages up
    # to 32 KiB. Before the fix get_many returned copies of a pass ring_consume had
    # discarded (reclaimed, torn bytes): messages whose checksum fails.
    with Ring.create(ring_path, 64 * 1024, Policy.OVERWRITE_OLDEST) as ring:
        producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(ring_path), "1.2"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            last = -1
            received = 0
            while producer.poll() is None:
                batch = ring.get_many(8)
                one = ring.try_get()
                for message in batch + ([one] if one is not None else []):
                    index = _check(message)
                    assert index > last, f"message {index} after {last}: out of order or repeated"
                    last = index
                    received += 1
                time.sleep(0.0005)  # the slow consumer
            out, err = producer.communicate(timeout=10)
        finally:
            if producer.poll() is None:
                producer.kill()
                producer.wait()
        assert producer.returncode == 0, err
        for message in ring.get_many(1000):
            _check(message)
        assert received > 0


# --- defect 4: flush() racing close() ------------------------------------------------------

FLUSH_VS_CLOSE = r"""
import sys, threading, time, ringpy
path = sys.argv[1]
for round in range(100):
    ring = ringpy.Ring.create(path, 1 << 20, replace=True)
    start = threading.Barrier(5)
    def hammer():
        start.wait()
        while True:
            try:
                ring.flush()
            except ringpy.ClosedError:
                return
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    ring.put(bytes(50000))  # dirty pages: each msync takes a while
    start.wait()
    time.sleep(0.001)
    ring.close()
    for t in threads:
        t.join()
print("ok")
"""


def test_flush_racing_close_neither_crashes_nor_uses_a_freed_ring(ring_path):
    # In a child process: before the fix a flush that had passed its closed check called
    # ring_flush on a ring close() was freeing or had freed: a crash, or a hang on the
    # freed handle's lock.
    try:
        result = _run(FLUSH_VS_CLOSE, str(ring_path), timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("flush() racing close() hung (a flush used the freed ring's lock)")
    assert result.returncode == 0 and result.stdout.strip() == "ok", (result.returncode, result.stderr[-2000:])


# --- defect 6: close_writer() while a put waits ----------------------------------------------


def test_put_waiting_when_close_writer_runs_fails_and_never_reopens_the_stream(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        kept = _fill(ring)
        outcome = {}

        def late_put():
            try:
                ring.put(b"late", timeout=1.5)
                outcome["result"] = "written"
            except BaseException as e:  # noqa: BLE001 - inspected below
                outcome["result"] = e

        writer = threading.Thread(target=late_put)
        writer.start()
        time.sleep(0.05)  # the put is waiting for room
        run_with_deadline(ring.close_writer, 2, "close_writer() while a put waits")
        assert ring.get(timeout=0) == kept[0]  # room for the late put, if it were still trying
        _join([writer], 3)
        assert isinstance(outcome["result"], ClosedError), outcome
        assert ring.stats()["writer_closed"] is True
        with pytest.raises(ClosedError):
            ring.try_put(b"after")
        with pytest.raises(ClosedError):
            ring.put(b"after", timeout=0)
        with pytest.raises(ClosedError):
            ring.put_many([b"after"])
        assert ring.stats()["writer_closed"] is True
        assert ring.get_many(1000) == kept[1:]
        with pytest.raises(EndOfStreamError):
            ring.get(timeout=0)


# --- defect 11: put_many's partial write -------------------------------------------------------


def test_put_many_that_times_out_after_a_partial_write_reports_how_many(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        items = [b"%04d" % i + bytes(200) for i in range(100)]
        with pytest.raises(FullError) as caught:
            ring.put_many(items, timeout=0.05)
        written = caught.value.written
        assert 0 < written < len(items)
        assert ring.get_many(1000) == items[:written]
        assert ring.put_many(items[written:written + 3], timeout=0) == 3  # a retry skips what was written
        assert ring.get_many(10) == items[written:written + 3]
        ring.put_many(items[:written])
        with pytest.raises(FullError) as caught:
            ring.put_many([b"one more" + bytes(300)], timeout=0)
        assert caught.value.written == 0


# --- defect 12: the smaller ones ---------------------------------------------------------------


def test_second_close_returns_only_once_the_roles_are_released(ring_path):
    for _ in range(6):
        ring = Ring.create(ring_path, 4096, replace=True)
        ring.put(b"x")
        assert ring.get() == b"x"  # this Ring holds both roles
        getter = threading.Thread(target=lambda: pytest.raises(ClosedError, ring.get, timeout=2))
        getter.start()
        time.sleep(0.03)  # the get is waiting, holding the consumer lock
        first = threading.Thread(target=ring.close)
        first.start()
        time.sleep(0.003)  # the first close() is under way
        ring.close()
        with Ring.open(ring_path) as other:
            other.put(b"y")  # BusyError if the roles were still held
            assert other.get(timeout=0) == b"y"
        _join([getter, first], 3)


def test_get_async_does_not_stall_the_event_loop_while_another_thread_holds_the_consumer(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"x")
        assert ring.get() == b"x"
        holder = threading.Thread(target=lambda: pytest.raises(EmptyError, ring.get, timeout=0.6))
        holder.start()
        time.sleep(0.03)  # a blocking get holds the consumer lock

        async def main():
            loop = asyncio.get_running_loop()
            gaps = []
            stop = False

            async def ticker():
                last = loop.time()
                while not stop:
                    await asyncio.sleep(0.002)
                    now = loop.time()
                    gaps.append(now - last)
                    last = now

            tick = asyncio.ensure_future(ticker())
            await asyncio.sleep(0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ring.get_async(), 0.3)
            stop = True
            await tick
            return max(gaps)

        worst = run_with_deadline(lambda: asyncio.run(main()), 5, "get_async")
        _join([holder], 3)
        assert worst < 0.02, f"the event loop stalled {worst * 1000:.0f} ms in get_async"


def test_cancelled_put_async_writes_nothing(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        kept = _fill(ring)

        async def main():
            task = asyncio.ensure_future(ring.put_async(b"cancelled"))
            await asyncio.sleep(0.05)  # put_async is waiting for room
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert ring.get_many(1000) == kept  # room, while a worker might still be waiting
            await asyncio.sleep(0.4)  # longer than one wait slice of put_async's worker

        run_with_deadline(lambda: asyncio.run(main()), 5, "put_async")
        assert ring.get_many(10) == [], "a cancelled put_async wrote its message"


def test_put_async_still_writes_once_there_is_room(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        kept = _fill(ring)

        async def main():
            task = asyncio.ensure_future(ring.put_async(b"late", timeout=3))
            await asyncio.sleep(0.05)
            assert ring.get_many(1000) == kept
            await asyncio.wait_for(task, 2)
            with pytest.raises(FullError):
                while True:  # fill again: put_async with a timeout gives up with FullError
                    await ring.put_async(bytes(500), timeout=0.05)

        run_with_deadline(lambda: asyncio.run(main()), 5, "put_async")
        assert ring.get(timeout=0) == b"late"


@pytest.mark.parametrize("call", ["stats", "len", "peek_all"])
def test_reads_of_the_ring_state_keep_other_threads_running_behind_a_flush(ring_path, call):
    # A flush (msync) holds the ring handle; before the fix stats(), len() and peek_all()
    # waited for it with the GIL held, so every Python thread stopped meanwhile.
    # (The file is on a disk, not tmpfs: msync of 64 MiB of dirty pages takes 20-50 ms.)
    calls = {"stats": lambda r: r.stats(), "len": len, "peek_all": lambda r: r.peek_all()}
    size = 64 << 20
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # so that a thread waiting for the GIL gets it quickly
    try:
        with Ring.create(ring_path, size) as ring:
            chunk = bytes(ring.max_message_size // 2)
            stalls = []
            for _ in range(3):
                for _ in range(size // len(chunk)):  # dirty the whole mapping for the flush
                    ring.put(chunk)
                    ring.get()
                flushing = threading.Event()

                def flush():
                    flushing.set()
                    ring.flush()

                flusher = threading.Thread(target=flush)
                ticks = []
                running = True

                def ticker():
                    while running:
                        ticks.append(time.monotonic())
                        time.sleep(0.001)

                tick = threading.Thread(target=ticker)
                tick.start()
                time.sleep(0.01)
                flusher.start()
                flushing.wait(1)
                time.sleep(0.001)
                calls[call](ring)
                _join([flusher], 10)
                time.sleep(0.01)
                running = False
                _join([tick], 2)
                stalls.append(max(b - a for a, b in zip(ticks, ticks[1:])))
    finally:
        sys.setswitchinterval(interval)
    assert min(stalls) < 0.015, f"other threads stalled {min(stalls) * 1000:.0f} ms behind {call}()"


def test_full_error_of_put_has_written_zero(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(FullError) as caught:
            while True:
                ring.put(bytes(1000), timeout=0)
        assert caught.value.written == 0
