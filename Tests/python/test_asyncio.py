"""asyncio: get_async, put_async and async iteration do not block the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ringpy import EmptyError, FullError, Policy, Ring


async def _ticker(ticks: list, stop: asyncio.Event) -> None:
    while not stop.is_set():
        ticks.append(time.monotonic())
        await asyncio.sleep(0.01)


def _run(coro, seconds=10):
    async def guarded():
        return await asyncio.wait_for(coro, seconds)

    return asyncio.run(guarded())


def test_get_async_returns_a_message_put_later_without_blocking_the_loop(ring_path):
    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:

        async def main():
            ticks, stop = [], asyncio.Event()
            ticker = asyncio.create_task(_ticker(ticks, stop))
            timer = threading.Timer(0.3, producer.put, args=(b"from a thread",))
            timer.start()
            t0 = time.monotonic()
            message = await consumer.get_async()
            waited = time.monotonic() - t0
            stop.set()
            await ticker
            timer.join()
            return message, waited, ticks

        message, waited, ticks = _run(main())
        assert message == b"from a thread"
        assert 0.2 <= waited < 2.0, f"get_async returned after {waited:.2f} s"
        # a blocked loop would run the ticker 0 times; a free one about 25 times
        assert len(ticks) >= 5, f"the other coroutine ran only {len(ticks)} times while get_async waited"


def test_get_async_returns_at_once_when_a_message_is_there(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"ready")
        assert _run(ring.get_async()) == b"ready"
        ring.put(b"again")
        assert _run(ring.get_async(timeout=0)) == b"again"


def test_get_async_timeout_raises_empty_error(ring_path):
    with Ring.create(ring_path, 4096) as ring:

        async def main():
            ticks, stop = [], asyncio.Event()
            ticker = asyncio.create_task(_ticker(ticks, stop))
            t0 = time.monotonic()
            try:
                with pytest.raises(EmptyError):
                    await ring.get_async(timeout=0.1)
                return time.monotonic() - t0, ticks
            finally:
                stop.set()
                await ticker

        elapsed, ticks = _run(main())
        assert 0.09 <= elapsed < 1.5, f"get_async(timeout=0.1) took {elapsed:.3f} s"
        assert len(ticks) >= 2, f"the loop was blocked during get_async ({len(ticks)} ticks)"


def test_async_for_yields_until_end_of_stream(ring_path):
    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:

        def produce():
            for i in range(20):
                producer.put(b"item %d" % i)
                time.sleep(0.005)
            producer.close_writer()

        async def main():
            t = threading.Thread(target=produce, daemon=True)
            t.start()
            got = [m async for m in consumer]
            t.join(5)
            return got

        assert _run(main()) == [b"item %d" % i for i in range(20)]


def test_async_for_on_an_already_ended_stream(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put_many([b"a", b"b"])
        ring.close_writer()

        async def main():
            return [m async for m in ring]

        assert _run(main(), 5) == [b"a", b"b"]


def test_put_async(ring_path):
    with Ring.create(ring_path, 4096) as ring:

        async def main():
            await ring.put_async(b"async put")
            await ring.put_async(bytearray(b"async bytearray"), timeout=1)

        _run(main())
        assert ring.get_many(5) == [b"async put", b"async bytearray"]


def test_put_async_on_a_full_ring_times_out_with_full_error(ring_path):
    with Ring.create(ring_path, 4096, Policy.REJECT_WHEN_FULL) as ring:
        while ring.try_put(b"z" * 300):
            pass

        async def main():
            t0 = time.monotonic()
            with pytest.raises(FullError):
                await ring.put_async(b"z" * 300, timeout=0.1)
            return time.monotonic() - t0

        elapsed = _run(main())
        assert 0.09 <= elapsed < 1.5


def test_put_async_waits_for_room_without_blocking_the_loop(ring_path):
    with Ring.create(ring_path, 4096) as producer, Ring.open(ring_path) as consumer:
        while producer.try_put(b"q" * 300):
            pass

        async def main():
            ticks, stop = [], asyncio.Event()
            ticker = asyncio.create_task(_ticker(ticks, stop))
            timer = threading.Timer(0.3, consumer.get)
            timer.start()
            await producer.put_async(b"r" * 300, timeout=5)
            stop.set()
            await ticker
            timer.join()
            return ticks

        ticks = _run(main())
        assert len(ticks) >= 5, f"the loop ran only {len(ticks)} ticks while put_async waited"
        assert consumer.peek_all()[-1] == b"r" * 300


def test_put_async_of_a_non_buffer_is_a_type_error(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(TypeError):
            _run(ring.put_async("text is not bytes"))
