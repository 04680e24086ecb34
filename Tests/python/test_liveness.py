"""Liveness (SPEC.md §22.1): producer_alive and consumer_alive, in stats() too, and
stop_when_producer_gone: a reader drains what a killed producer committed, then raises
ProducerGoneError instead of waiting forever; in blocking reads, iteration and asyncio."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import numpy as np
import pytest

import ringpy
from ringpy import ItemRing, Policy, ProducerGoneError, Ring, RingError

HEAD = struct.Struct("<QI")

# Writes self-checking messages (index, CRC-32 of the body, body) as fast as there is room,
# printing each committed index's count every 500, until it is killed.
PRODUCER = textwrap.dedent("""
    import struct, sys, zlib
    import ringpy
    HEAD = struct.Struct("<QI")
    ring = ringpy.Ring.open(sys.argv[1])
    ring.put(b"")  # the first message: the producer role is taken
    print("started", flush=True)
    index = 0
    while True:
        body = bytes([index & 0xFF]) * (index % 200)
        ring.put(HEAD.pack(index, zlib.crc32(body)) + body)
        index += 1
""")


def start_producer(path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", PRODUCER, str(path)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    return p


def check(expected: int, message: bytes) -> None:
    index, crc = HEAD.unpack_from(message)
    body = message[HEAD.size:]
    assert index == expected and zlib.crc32(body) == crc and body == bytes([index & 0xFF]) * (index % 200), \
        f"message {index} (due: {expected}) is damaged or out of order"


def test_producer_gone_error_is_a_ring_error():
    assert issubclass(ProducerGoneError, RingError)
    assert ringpy.ProducerGoneError is ProducerGoneError


def test_kill_9_the_producer_while_a_consumer_iterates(ring_path):
    with Ring.create(ring_path, 65536) as ring:
        assert not ring.producer_alive, "nobody writes yet"
        producer = start_producer(ring_path)
        assert ring.producer_alive and ring.stats()["producer_alive"]
        ring.stop_when_producer_gone = True
        assert ring.get() == b""
        received = 0
        killed_at = None
        try:
            with pytest.raises(ProducerGoneError):
                for message in ring:
                    check(received, message)
                    received += 1
                    if received == 20000:
                        os.kill(producer.pid, signal.SIGKILL)
                        producer.wait()
                        killed_at = time.monotonic()
            stopped = time.monotonic() - killed_at
        finally:
            if producer.poll() is None:
                producer.kill()
                producer.wait()
        assert received >= 20000
        # Every committed message was read first: the ring is drained.
        assert len(ring) == 0
        assert stopped < 1.0, f"ProducerGoneError came {stopped:.3f} s after the kill"
        assert not ring.producer_alive and not ring.stats()["producer_alive"]
        assert ring.consumer_alive and ring.stats()["consumer_alive"]
        print(f"\nkill -9 after {received} messages read: ProducerGoneError {stopped * 1e3:.0f} ms after the kill")


def test_without_stop_when_producer_gone_a_get_times_out(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        producer = start_producer(ring_path)
        os.kill(producer.pid, signal.SIGKILL)
        producer.wait()
        assert ring.get_many(10000, timeout=0)
        while ring.get_many(10000, timeout=0):
            pass
        assert not ring.stop_when_producer_gone
        with pytest.raises(ringpy.EmptyError):
            ring.get(timeout=0.3)
        ring.stop_when_producer_gone = True
        with pytest.raises(ProducerGoneError):
            ring.get(timeout=5)
        with pytest.raises(ProducerGoneError):
            ring.get(block=False)
        with pytest.raises(TypeError):
            ring.stop_when_producer_gone = 1


def test_async_for_stops_when_the_producer_is_killed(ring_path):
    with Ring.create(ring_path, 65536) as ring:
        ring.stop_when_producer_gone = True  # before the consumer role is taken: given to it then
        producer = start_producer(ring_path)

        async def main():
            received = 0
            killed_at = None
            with pytest.raises(ProducerGoneError):
                async for message in ring:
                    if received:
                        check(received - 1, message)
                    received += 1
                    if received == 5000:
                        os.kill(producer.pid, signal.SIGKILL)
                        killed_at = time.monotonic()
            return received, time.monotonic() - killed_at

        try:
            received, stopped = asyncio.run(asyncio.wait_for(main(), 30))
        finally:
            producer.kill()
            producer.wait()
        assert received >= 5000 and stopped < 1.0, f"{received} read, stopped {stopped:.3f} s after the kill"


def test_a_reader_stops_when_the_producer_is_gone(ring_path):
    with Ring.create(ring_path, 65536, readers=2) as ring:
        reader = ring.reader()
        assert ring.consumer_alive and reader.producer_alive is False
        reader.stop_when_producer_gone = True
        producer = start_producer(ring_path)
        assert reader.producer_alive
        os.kill(producer.pid, signal.SIGKILL)
        producer.wait()
        assert reader.get() == b""
        n = 0
        with pytest.raises(ProducerGoneError):
            for message in reader:
                check(n, message)
                n += 1
        assert reader.qsize() == 0
        reader.close()


def test_an_item_ring_consumer_stops_when_the_producer_is_gone(ring_path):
    with ItemRing.create(ring_path, np.int64, 256, policy=Policy.REJECT_WHEN_FULL) as ring:
        with ItemRing.open(ring_path) as producer:
            producer.insert_many(np.arange(10))
            assert ring.producer_alive
        assert not ring.producer_alive, "the producer closed (without ending the stream)"
        ring.stop_when_producer_gone = True
        assert [int(x) for x in ring.consume_many(100)] == list(range(10))
        with pytest.raises(ProducerGoneError):
            ring.consume(timeout=5)
