"""asyncio on the doorbells (SPEC.md §21; ringpy/_async.py): hundreds of rings in one loop
with no executor thread, cancellation in both directions, close() during an await, fileno()
for select, and the doorbell across languages (a Python asyncio reader woken by Swift and C
producers, a C epoll reader woken by a Python producer)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import select
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import numpy as np
import pytest

from ringpy import ClosedError, EmptyError, FullError, ItemRing, Policy, Ring
from workload import Workload, expected_checksum

# A self-checking message: index (u64), producer's CLOCK_MONOTONIC ns (u64), CRC-32 of the
# body (u32), then a body whose length and bytes follow from the index.
HEAD = struct.Struct("<QQI")


def body_of(ring_no: int, index: int) -> bytes:
    return bytes([(ring_no * 31 + index) & 0xFF]) * (index * 7 % 97)


def check(ring_no: int, expected_index: int, message: bytes) -> int:
    """The message's send time (ns); AssertionError unless it is message expected_index of ring_no."""
    index, sent_ns, crc = HEAD.unpack_from(message)
    body = message[HEAD.size:]
    assert index == expected_index, f"ring {ring_no}: message {index} arrived when {expected_index} was due"
    assert body == body_of(ring_no, index) and zlib.crc32(body) == crc, f"ring {ring_no}: message {index} is damaged"
    return sent_ns


class NoExecutor(concurrent.futures.ThreadPoolExecutor):
    """A default executor that fails any use: the doorbell waits must never reach for a thread
    (asyncio takes only a ThreadPoolExecutor as the default one)."""

    def submit(self, fn, *args, **kwargs):
        raise AssertionError(f"an executor was used for {fn!r}")


def run(coro, seconds: float = 30):
    """asyncio.run with a deadline and an executor that refuses work."""
    async def guarded():
        asyncio.get_running_loop().set_default_executor(NoExecutor())
        return await asyncio.wait_for(coro, seconds)

    return asyncio.run(guarded())


def registered(fd: int) -> bool:
    """Whether fd is in the running loop's selector."""
    return fd in asyncio.get_running_loop()._selector.get_map()


async def left_loop(fd: int) -> bool:
    """Whether fd left the running loop once the tasks woken with this one have run (a
    doorbell nobody arms again leaves the loop then)."""
    for _ in range(3):
        await asyncio.sleep(0)
    return not registered(fd)


# --- 200 rings in one loop ----------------------------------------------------------------

PRODUCER = textwrap.dedent("""
    import struct, sys, time, zlib
    import ringpy
    HEAD = struct.Struct("<QQI")
    first, count, per_ring, pause = (int(a) for a in sys.argv[1:5])
    paths = sys.argv[5:]
    rings = [ringpy.Ring.open(p) for p in paths]
    print("ready", flush=True)
    sys.stdin.readline()
    for index in range(per_ring):
        for k, ring in enumerate(rings):
            ring_no = first + k
            body = bytes([(ring_no * 31 + index) & 0xFF]) * (index * 7 % 97)
            ring.put(HEAD.pack(index, time.monotonic_ns(), zlib.crc32(body)) + body, timeout=30)
        time.sleep(pause / 1000)
    for ring in rings:
        ring.close_writer()
        ring.close()
""")


def run_200_rings(directory) -> tuple[float, float, float]:
    """200 rings in one loop, 4 producer processes writing 50 each: checks every message and
    that no thread was used; returns (ticker lateness p99, its max, wake latency p99) in s."""
    rings_count, processes, per_ring = 200, 4, 50
    directory.mkdir()
    tmp_path = directory
    rings = [Ring.create(tmp_path / f"r{i}", 16384) for i in range(rings_count)]
    share = rings_count // processes
    producers = [subprocess.Popen([sys.executable, "-c", PRODUCER, str(p * share), str(share), str(per_ring), "20",
                                   *(str(tmp_path / f"r{i}") for i in range(p * share, (p + 1) * share))],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for p in range(processes)]
    try:
        for p in producers:
            assert p.stdout.readline().strip() == "ready"
        threads_before = threading.active_count()

        async def main():
            loop = asyncio.get_running_loop()
            latencies, lateness = [], []
            done = asyncio.Event()

            async def consume(ring_no: int, ring: Ring) -> int:
                n = 0
                async for message in ring:
                    sent = check(ring_no, n, message)
                    latencies.append(time.monotonic_ns() - sent)
                    n += 1
                assert await left_loop(ring.fileno()), "a ring's doorbell stayed in the loop"
                return n

            async def ticker():
                due = loop.time()
                while not done.is_set():
                    due += 0.010
                    await asyncio.sleep(max(0.0, due - loop.time()))
                    lateness.append(loop.time() - due)

            tasks = [asyncio.create_task(consume(i, r)) for i, r in enumerate(rings)]
            await asyncio.sleep(0.2)  # every consumer armed and waiting before the first message
            # (the first wait of a ring makes its doorbell, an io_uring: about 0.1 ms each)
            tick = asyncio.create_task(ticker())
            for p in producers:
                p.stdin.write("go\n")
                p.stdin.flush()
            counts = await asyncio.gather(*tasks)
            done.set()
            await tick
            assert threading.active_count() == threads_before, "a thread was started"
            return counts, latencies, lateness

        counts, latencies, lateness = run(main(), 120)
        for p in producers:
            assert p.wait(30) == 0
        assert counts == [per_ring] * rings_count, "every message arrived once, in order, on every ring"
        latencies.sort()
        lateness.sort()
        p99 = lateness[int(len(lateness) * 0.99)]
        print(f"\n200 rings: {len(latencies)} messages, wake latency p50 {latencies[len(latencies) // 2] / 1e6:.2f} ms "
              f"p99 {latencies[int(len(latencies) * 0.99)] / 1e6:.2f} ms max {latencies[-1] / 1e6:.2f} ms; "
              f"10 ms ticker late by p99 {p99 * 1e3:.2f} ms, max {lateness[-1] * 1e3:.2f} ms over {len(lateness)} ticks")
        return p99, lateness[-1], latencies[int(len(latencies) * 0.99)] / 1e9
    finally:
        for p in producers:
            if p.poll() is None:
                p.kill()
                p.wait()
        for r in rings:
            r.close()


def test_200_rings_in_one_loop_fed_by_4_processes(tmp_path):
    """Every message of 200 rings arrives once, in order, with no executor thread, and the
    loop is never blocked: a 10 ms ticker keeps ticking. How late it ticks is speed: printed
    here (with the wake-up latency, which bench/python/bench_wake.py --rings 200 measures
    beside pyzmq's asyncio), not asserted, since CI's shared 2 cores made it 26 ms (p99)
    where a quiet run measured 2.8-6.7 ms. A wait that blocked the loop instead of awaiting
    the doorbell would stop the ticker for the whole wait (the producers pause 20 ms between
    messages, a run lasts about a second), which the bound below catches at any load."""
    p99, worst, wake_p99 = run_200_rings(tmp_path / "run")
    assert worst < 1.0, f"the loop was blocked for {worst * 1e3:.0f} ms"


def test_hundreds_of_tasks_on_one_ring_share_one_descriptor(ring_path):
    with Ring.create(ring_path, 65536) as ring:
        async def main():
            waiters = [asyncio.create_task(ring.get_async(timeout=10)) for _ in range(300)]
            await asyncio.sleep(0.05)
            assert registered(ring.fileno())
            for i in range(300):
                ring.put(b"%d" % i)
            got = await asyncio.gather(*waiters)
            assert sorted(got, key=int) == [b"%d" % i for i in range(300)], "each message went to one task"
            assert await left_loop(ring.fileno())

        run(main())


# --- Cancellation ---------------------------------------------------------------------------


def test_cancelled_get_async_loses_nothing(ring_path):
    """A message committed around the cancellation, from the loop or from a thread at any
    moment, is either the task's result or read by the next get: never lost, never twice."""
    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        async def main():
            seen = []
            for i in range(40):
                task = asyncio.create_task(consumer.get_async())
                await asyncio.sleep(0.002 * (i % 5))
                message = b"m%d" % i
                if i % 2:
                    producer.put(message)  # committed, the doorbell rang: the task has not run yet
                    task.cancel()
                else:
                    t = threading.Thread(target=lambda: (time.sleep(0.0005 * (i % 4)), producer.put(message)))
                    t.start()
                    await asyncio.sleep(0.0005 * (i % 3))
                    task.cancel()
                    t.join()
                try:
                    seen.append(await task)
                except asyncio.CancelledError:
                    pass
                assert await left_loop(consumer.fileno())
                rest = consumer.get_many(10, timeout=0)
                seen.extend(rest)
                assert seen[-1] == message, f"round {i}: {message!r} was lost"
            return seen

        seen = run(main())
        assert seen == [b"m%d" % i for i in range(40)]


def _fill(ring: Ring) -> list:
    kept = []
    while ring.try_put(b"k%d" % len(kept)):
        kept.append(b"k%d" % (len(kept)))
    return kept


def test_cancelled_put_async_on_a_full_ring_writes_nothing(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        kept = _fill(ring)

        async def main():
            task = asyncio.create_task(ring.put_async(b"cancelled"))
            await asyncio.sleep(0.05)
            assert registered(ring.writer_fileno()), "put_async waits on the producer's doorbell"
            assert ring.get_many(1000) == kept  # room: the doorbell rings ...
            task.cancel()  # ... and the task is cancelled before it runs again
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await left_loop(ring.writer_fileno())
            await asyncio.sleep(0.3)  # no worker is left that could still write it
            assert ring.get_many(1000) == [], "the cancelled put wrote nothing"

        run(main())


def test_put_async_cancelled_at_random_moments_writes_exactly_what_it_reports(ring_path):
    """A consumer thread makes room at a moment of its own while the task is cancelled: the
    stream holds p_i exactly when put_async(p_i) returned, in the order written."""
    with Ring.create(ring_path, 4096) as producer, Ring.open(ring_path) as consumer:
        expected = _fill(producer)
        consumed = []

        async def main():
            for i in range(30):
                task = asyncio.create_task(producer.put_async(b"p%d" % i))
                await asyncio.sleep(0.001 * (i % 3))
                t = threading.Thread(target=lambda: (time.sleep(0.0004 * (i % 5)), consumed.extend(consumer.get_many(3))))
                t.start()
                await asyncio.sleep(0.0003 * (i % 4))
                task.cancel()
                t.join()
                try:
                    await task
                    expected.append(b"p%d" % i)
                except asyncio.CancelledError:
                    pass
                while producer.try_put(b"f%d" % i):  # full again for the next round
                    expected.append(b"f%d" % i)

        run(main())
        consumed.extend(consumer.get_many(10000))
        assert consumed == expected, "every message written once, in order, and no cancelled one"
        assert any(m.startswith(b"p") for m in expected), "some puts completed"


def test_timeouts_raise_empty_and_full_errors_and_leave_nothing_in_the_loop(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        async def main():
            t0 = time.monotonic()
            with pytest.raises(EmptyError):
                await ring.get_async(timeout=0.1)
            waited = time.monotonic() - t0
            assert 0.09 <= waited < 0.5, f"get_async(timeout=0.1) took {waited:.3f} s"
            assert await left_loop(ring.fileno())
            _fill(ring)
            t0 = time.monotonic()
            with pytest.raises(FullError):
                await ring.put_async(b"x", timeout=0.1)
            assert 0.09 <= time.monotonic() - t0 < 0.5
            assert await left_loop(ring.writer_fileno())
            with pytest.raises(FullError):
                await ring.put_async(b"x", timeout=0)
            with pytest.raises(ValueError):
                await ring.get_async(timeout=-1)

        run(main())


def test_close_during_an_await_raises_closed_error_in_the_awaiting_tasks(ring_path):
    ring = Ring.create(ring_path, 4096)
    full = Ring.create(ring_path.with_name("full"), 4096)
    _fill(full)

    async def main():
        getter = asyncio.create_task(ring.get_async())
        putter = asyncio.create_task(full.put_async(b"never"))
        await asyncio.sleep(0.05)
        fds = ring.fileno(), full.writer_fileno()
        assert all(registered(fd) for fd in fds)
        ring.close()
        full.close()
        with pytest.raises(ClosedError):
            await getter
        with pytest.raises(ClosedError):
            await putter
        assert all([await left_loop(fd) for fd in fds])
        with pytest.raises(ClosedError):
            await ring.get_async()

    run(main())


def test_close_from_another_thread_fails_the_awaiting_task(ring_path):
    ring = Ring.create(ring_path, 4096)

    async def main():
        task = asyncio.create_task(ring.get_async())
        await asyncio.sleep(0.05)
        fd = ring.fileno()
        closer = threading.Thread(target=ring.close)
        closer.start()
        with pytest.raises(ClosedError):
            await task
        closer.join()
        assert await left_loop(fd)

    run(main())


# --- Readers, typed rings, fileno -------------------------------------------------------------


def test_readers_await_their_own_doorbells(ring_path):
    with Ring.create(ring_path, 65536, readers=3) as ring:
        readers = [ring.reader() for _ in range(3)]

        async def main():
            async def read(reader):
                return [m async for m in reader]

            tasks = [asyncio.create_task(read(r)) for r in readers]
            await asyncio.sleep(0.05)
            assert all(registered(r.fileno()) for r in readers)
            for i in range(200):
                await ring.put_async(b"%d" % i)
                if i % 50 == 0:
                    await asyncio.sleep(0.01)
            ring.close_writer()
            return await asyncio.gather(*tasks)

        for got in run(main()):
            assert got == [b"%d" % i for i in range(200)]
        for r in readers:
            r.close()


def test_item_ring_consume_async_and_insert_async(ring_path):
    with ItemRing.create(ring_path, np.int64, 64, policy=Policy.REJECT_WHEN_FULL) as ring:
        async def main():
            async def produce():
                for i in range(1000):
                    await ring.insert_async(i)
                ring.close_writer()

            got = []

            async def consume():
                async for item in ring:
                    got.append(int(item))

            await asyncio.gather(consume(), produce())
            assert await left_loop(ring.fileno())
            return got

        assert run(main()) == list(range(1000))


def test_fileno_with_select(ring_path):
    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        assert consumer.arm() is True, "empty: armed"
        threading.Timer(0.25, producer.put, args=(b"rung",)).start()
        t0 = time.monotonic()
        wakeups = 0
        while True:  # the loop of fileno()'s documentation
            readable, _, _ = select.select([consumer], [], [], 5)
            assert readable == [consumer], "the doorbell rang within 5 s"
            wakeups += 1
            consumer.disarm()
            try:
                message = consumer.get(block=False)
                break
            except EmptyError:  # one 100 ms slice without news
                assert consumer.arm() is True
        waited = time.monotonic() - t0
        assert message == b"rung" and 0.2 < waited < 1.5, f"woken after {waited:.3f} s"
        if consumer._bell("consumer")[1] == 1:  # RING_DOORBELL_FUTEX (the poll kind's timer fires often)
            assert wakeups <= 4, f"{wakeups} wake-ups in {waited:.3f} s: the descriptor is readable only when rung"
        producer.put(b"there")
        assert consumer.arm() is False, "a message is there: nothing armed"
        assert consumer.get_nowait() == b"there"


# --- Across languages -------------------------------------------------------------------------


async def _read_workload(ring: Ring, w: Workload, count: int) -> int:
    n = 0
    async for message in ring:
        assert w.matches(n, message), f"message {n} is not the workload's"
        n += 1
    assert n == count
    return n


@pytest.mark.parametrize("language", ["swift", "c"])
def test_python_asyncio_reader_woken_by_a_swift_or_c_producer(ring_path, language, request):
    count, seed = 20000, 17
    with Ring.create(ring_path, 4096) as ring:
        if language == "swift":
            command, env = [request.getfixturevalue("ring_workload")], None
        else:
            command, env = [request.getfixturevalue("ring_peer")], request.getfixturevalue("ring_peer_env")
        command += ["produce", str(ring_path), "--count", str(count), "--seed", str(seed), "--min-size", "8",
                    "--max-size", "300", "--timeout-ms", "30000", "--close"]

        async def main():
            reader = asyncio.create_task(_read_workload(ring, Workload(seed, 8, 300), count))
            await asyncio.sleep(0.1)
            assert registered(ring.fileno()), "the reader is waiting on its doorbell before the producer starts"
            producer = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE)
            n = await reader
            await producer.communicate()
            assert producer.returncode == 0
            return n

        assert run(main(), 60) == count


def test_c_epoll_reader_woken_by_a_python_producer(ring_path, epoll_reader, ring_peer_env):
    count, seed = 3000, 23
    w = Workload(seed, 8, 200)
    with Ring.create(ring_path, 4096) as ring:
        reader = subprocess.Popen([epoll_reader, str(ring_path), "--seed", str(seed), "--min-size", "8",
                                   "--max-size", "200", "--timeout-ms", "10000"],
                                  env=ring_peer_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while not ring.consumer_alive:
                assert time.monotonic() < deadline, "the C reader did not open the ring"
                time.sleep(0.01)
            for i in range(count):
                ring.put(w.message(i), timeout=10)
                if i % 100 == 0:
                    time.sleep(0.005)  # the reader drains the ring and waits on its doorbell
            ring.close_writer()
            out, err = reader.communicate(timeout=30)
        finally:
            if reader.poll() is None:
                reader.kill()
    assert reader.returncode == 0, err
    fields = out.split()
    received, wakeups, checksum = int(fields[1]), int(fields[3]), int(fields[5], 16)
    assert received == count
    assert checksum == expected_checksum(seed, count, 8, 200)[0]
    assert wakeups >= 10, f"the C reader was woken by its doorbell only {wakeups} times"
