"""ringpy.zmq: the ZeroMQ transport (SPEC.md §23) from Python.

Every topology (SPSC; MPSC with three producer threads and with three producer processes;
SPMC with three consumer threads and with three consumer processes) over ipc:// and
tcp://127.0.0.1, one message per frame and packed, with self-checking messages (stream,
index, CRC-32) and exact accounting (counters on both sides). Then timeouts, close from
another thread, buffer-protocol input, large messages, bad arguments, MPMC refused,
mm_toolbox's names, malformed frames from a raw pyzmq socket, and the ImportError of a ringpy
built without libzmq.

Without ringpy._zmq (libzmq missing at build time) every test but the ImportError one skips.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import pytest

import ringpy

try:
    from ringpy import zmq as rz
    ZMQ_MISSING = ""
except ImportError as error:  # a ringpy built without libzmq
    rz = None
    ZMQ_MISSING = str(error)

needs_zmq = pytest.mark.skipif(rz is None, reason="ringpy._zmq is absent (libzmq was missing at build time): " + ZMQ_MISSING)

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "interop" / "python" / "zmq_peer.py"


# --- helpers ---------------------------------------------------------------------------------


def make(stream: int, index: int) -> bytes:
    """A self-checking message: u64 index, u32 stream, a body of 4..203 bytes, CRC-32 of the rest."""
    head = struct.pack("<QI", index, stream)
    body = bytes([(index * 7 + stream) & 0xFF]) * (4 + (index * 37 + stream * 11) % 200)
    return head + body + struct.pack("<I", zlib.crc32(head + body))


def check(message: bytes) -> tuple:
    """(stream, index) of a message made by make(), after checking its CRC and its bytes."""
    assert type(message) is bytes
    assert len(message) >= 20, len(message)
    (crc,) = struct.unpack_from("<I", message, len(message) - 4)
    assert zlib.crc32(message[:-4]) == crc, "CRC of a message"
    index, stream = struct.unpack_from("<QI", message)
    assert message == make(stream, index)
    return stream, index


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["ipc", "tcp"])
def endpoint(request):
    """A fresh endpoint: an ipc:// socket file in a short private directory, or tcp://127.0.0.1:PORT."""
    if request.param == "tcp":
        yield "tcp://127.0.0.1:%d" % free_port()
        return
    directory = tempfile.mkdtemp(prefix="rz-", dir="/tmp")
    yield "ipc://%s/s.sock" % directory
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


class Worker(threading.Thread):
    """A thread that runs fn and keeps its result or its exception (raised again by join())."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.result, self.error = fn, args, None, None
        self.start()

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            self.error = e

    def join(self, timeout: float = 60.0):
        super().join(timeout)
        assert not self.is_alive(), "a worker thread hung"
        if self.error is not None:
            raise self.error
        return self.result


def send(producer, stream: int, count: int, packed: int, end_frames: int = 1) -> None:
    """Messages 0..count-1 of stream, one per put or `packed` per put_packed, then END."""
    if packed:
        for first in range(0, count, packed):
            batch = [make(stream, i) for i in range(first, min(count, first + packed))]
            assert producer.put_packed(batch, timeout=30) == len(batch)
    else:
        for i in range(count):
            producer.put(make(stream, i), timeout=30)
    producer.close_writer(end_frames, timeout=30)


def drain(consumer, packed: int, idle: float = 30.0) -> list:
    """Every message until the end of the stream (or `idle` seconds with nothing): (stream, index) pairs."""
    got = []
    while True:
        try:
            if packed:
                batch = consumer.get_many(packed, timeout=idle)
                if not batch:
                    return got
                got.extend(check(m) for m in batch)
            else:
                got.append(check(consumer.get(timeout=idle)))
        except ringpy.EndOfStreamError:
            return got
        except ringpy.EmptyError:
            return got


def frames_for(count: int, packed: int) -> int:
    """Frames a producer sends for count messages (no batch here reaches max_frame_bytes)."""
    return count if not packed else -(-count // packed)


# --- topologies ------------------------------------------------------------------------------

COUNT = 3000


@needs_zmq
@pytest.mark.parametrize("packed", [0, 100], ids=["single", "packed"])
def test_spsc(endpoint, packed):
    """One producer (binds) to one consumer (connects): every message, in order, counted exactly."""
    with rz.ZmqProducer(endpoint, "spsc") as producer, rz.ZmqConsumer(endpoint, "spsc") as consumer:
        assert producer.topology is rz.Topology.SPSC and consumer.endpoint == endpoint
        worker = Worker(send, producer, 5, COUNT, packed)
        got = drain(consumer, packed)
        worker.join()
        assert got == [(5, i) for i in range(COUNT)]
        assert consumer.last_drop is None and consumer.pending == 0
        sent, received = producer.counters, consumer.counters
    assert sent.messages_sent == COUNT and sent.frames_sent == frames_for(COUNT, packed) + 1  # + END
    assert sent.bytes_sent == sum(len(make(5, i)) for i in range(COUNT))
    assert received.messages_received == COUNT and received.bytes_received == sent.bytes_sent
    assert received.frames_received == sent.frames_sent
    assert received.end_frames_received == 1
    assert (received.frames_dropped, received.frames_ignored, received.sequence_breaks) == (0, 0, 0)


@needs_zmq
@pytest.mark.parametrize("packed", [0, 64], ids=["single", "packed"])
def test_mpsc_three_producer_threads(endpoint, packed):
    """Three producer threads (connect) into one consumer (binds, producers=3): every message
    of each stream, each stream in order, the stream ending after the third END."""
    with rz.ZmqConsumer(endpoint, "mpsc", producers=3) as consumer:
        producers = [rz.ZmqProducer(endpoint, "mpsc") for _ in range(3)]
        workers = [Worker(send, p, s, COUNT, packed) for s, p in enumerate(producers, 1)]
        got = drain(consumer, packed)
        for w in workers:
            w.join()
        received = consumer.counters
        for p in producers:
            assert p.counters.messages_sent == COUNT
            p.close()
    for s in (1, 2, 3):
        assert [i for (stream, i) in got if stream == s] == list(range(COUNT))
    assert len(got) == 3 * COUNT
    assert received.messages_received == 3 * COUNT and received.end_frames_received == 3
    assert received.frames_received == 3 * (frames_for(COUNT, packed) + 1)
    assert (received.frames_dropped, received.sequence_breaks) == (0, 0)


@needs_zmq
@pytest.mark.parametrize("packed", [0, 50], ids=["single", "packed"])
def test_spmc_three_consumer_threads(endpoint, packed):
    """One producer (binds) to three consumers (connect): each message reaches exactly one
    consumer, each consumer's share in increasing order; one END per consumer."""
    with rz.ZmqProducer(endpoint, "spmc") as producer:
        consumers = [rz.ZmqConsumer(endpoint, "spmc") for _ in range(3)]
        time.sleep(0.5)  # all three connected before anything is dealt
        readers = [Worker(drain, c, packed, 3.0) for c in consumers]
        send(producer, 9, COUNT, packed, end_frames=3)
        shares = [r.join() for r in readers]
        counters = [c.counters for c in consumers]
        for c in consumers:
            c.close()
    everything = sorted(i for share in shares for (_, i) in share)
    assert everything == list(range(COUNT)), "each message exactly once"
    for share in shares:
        indices = [i for (_, i) in share]
        assert indices == sorted(indices) and len(share) > 0
    assert sum(c.messages_received for c in counters) == COUNT
    assert sum(c.frames_received - c.end_frames_received for c in counters) == frames_for(COUNT, packed)
    assert all(c.sequence_breaks == 0 and c.frames_dropped == 0 for c in counters)


def run_peer(*args: str) -> subprocess.Popen:
    """interop/python/zmq_peer.py with args, its output captured."""
    return subprocess.Popen([sys.executable, str(PEER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(ROOT))


def finish(process: subprocess.Popen) -> str:
    """The one line a peer printed; fails with its stderr if it failed."""
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out.strip()


@needs_zmq
@pytest.mark.parametrize("packed", [0, 32], ids=["single", "packed"])
def test_mpsc_three_producer_processes(endpoint, packed):
    """Three zmq_peer.py producer processes (seeds 1, 2, 3) into a consumer here: every message
    of each seed, in order, byte for byte the interop workload."""
    from workload import Workload

    workloads = {s: Workload(s, 8, 256) for s in (1, 2, 3)}
    count = 1000
    with rz.ZmqConsumer(endpoint, "mpsc", producers=3) as consumer:
        extra = ["--packed", str(packed)] if packed else []
        peers = [run_peer("zmq-produce", endpoint, "--topology", "mpsc", "--count", str(count), "--seed", str(s), *extra)
                 for s in (1, 2, 3)]
        last = {1: -1, 2: -1, 3: -1}
        while True:
            try:
                message = consumer.get(timeout=60)
            except ringpy.EndOfStreamError:
                break
            index = int.from_bytes(message[:8], "little")
            seed = next(s for s in (1, 2, 3) if index == last[s] + 1 and workloads[s].matches(index, message))
            last[seed] = index
        lines = [finish(p) for p in peers]
        assert consumer.counters.messages_received == 3 * count
    assert last == {1: count - 1, 2: count - 1, 3: count - 1}
    assert all(line.startswith("produced %d messages" % count) for line in lines), lines


@needs_zmq
@pytest.mark.parametrize("packed", [0, 40], ids=["single", "packed"])
def test_spmc_three_consumer_processes(endpoint, packed):
    """A producer here to three zmq_peer.py consumer processes: their counts and index sums add
    up to the stream's, each share an in-order subsequence (the peers check that)."""
    count = 2000
    with rz.ZmqProducer(endpoint, "spmc") as producer:
        extra = ["--packed", str(packed)] if packed else []
        peers = [run_peer("zmq-consume", endpoint, "--topology", "spmc", "--seeds", "4", "--subsequence",
                          "--idle-ms", "3000", *extra) for _ in range(3)]
        time.sleep(1.5)  # the interpreters start and connect
        from workload import Workload

        w = Workload(4, 8, 256)
        messages = [w.message(i) for i in range(count)]
        if packed:
            for first in range(0, count, packed):
                assert producer.put_packed(messages[first:first + packed], timeout=30) == len(messages[first:first + packed])
        else:
            for m in messages:
                producer.put(m, timeout=30)
        producer.close_writer(3, timeout=30)
        lines = [finish(p) for p in peers]
    received = indices = 0
    for line in lines:
        words = line.split()
        assert words[0] == "consumed", line
        received += int(words[1])
        indices += int(words[words.index("indices") + 1])
    assert received == count and indices == count * (count - 1) // 2, lines


# --- timeouts, close, inputs -----------------------------------------------------------------


@needs_zmq
def test_timeouts(endpoint):
    """EmptyError after a get's timeout, [] after get_many's, FullError after a put's with no
    consumer connected (a bound PUSH has no room), with FullError.written for put_packed."""
    with rz.ZmqProducer(endpoint, "spsc", linger=0) as producer:
        start = time.monotonic()
        with pytest.raises(ringpy.FullError):
            producer.put(b"nobody listens", timeout=0.2)
        assert 0.15 < time.monotonic() - start < 2.0
        with pytest.raises(ringpy.FullError) as info:
            producer.put_packed([b"a", b"b"], timeout=0.1)
        assert info.value.written == 0
        with pytest.raises(ringpy.FullError):
            producer.put(b"x", timeout=0)
        assert producer.counters.messages_sent == 0
    with rz.ZmqConsumer(endpoint, "spsc", bind=True) as consumer:
        start = time.monotonic()
        with pytest.raises(ringpy.EmptyError):
            consumer.get(timeout=0.2)
        assert 0.15 < time.monotonic() - start < 2.0
        assert consumer.get_many(10, timeout=0.1) == []
        with pytest.raises(ringpy.EmptyError):
            consumer.get(timeout=0)
        assert consumer.pending == 0
        with pytest.raises(ValueError):
            consumer.get(timeout=-1)


@needs_zmq
def test_close_from_another_thread_wakes_a_blocked_get(endpoint):
    """A get waiting with no limit gives up with ClosedError when another thread closes the consumer."""
    consumer = rz.ZmqConsumer(endpoint, "spsc", bind=True)
    worker = Worker(consumer.get)
    time.sleep(0.2)
    start = time.monotonic()
    consumer.close()
    with pytest.raises(ringpy.ClosedError):
        worker.join(5)
    assert time.monotonic() - start < 2.0
    consumer.close()  # idempotent


@needs_zmq
def test_buffers_large_messages_and_closed_errors(endpoint):
    """bytes, bytearray and memoryview in (bytes out); a 1 MiB message (past the first receive
    buffer) by get and get_many; ClosedError after close_writer and after close; counters after close."""
    big = bytes(range(256)) * 4096
    with rz.ZmqProducer(endpoint, "spsc") as producer, rz.ZmqConsumer(endpoint, "spsc") as consumer:
        producer.put(b"bytes", timeout=10)
        producer.put(bytearray(b"bytearray"), timeout=10)
        producer.put(memoryview(b"--memoryview--")[2:-2], timeout=10)
        producer.put(b"", timeout=10)
        producer.put(big, timeout=10)
        producer.put_packed([bytearray(b"p1"), memoryview(b"p2"), b"p3", big], timeout=10)
        with pytest.raises(TypeError):
            producer.put("text", timeout=1)
        with pytest.raises(TypeError):
            producer.put_packed([b"ok", 5], timeout=1)
        with pytest.raises(TypeError):
            producer.put_packed(b"one message", timeout=1)
        with pytest.raises((TypeError, BufferError, ValueError)):
            producer.put(memoryview(b"abcdef")[::2], timeout=1)
        producer.close_writer()
        producer.close_writer()  # does nothing
        with pytest.raises(ringpy.ClosedError):
            producer.put(b"after END", timeout=1)
        got = [consumer.get(timeout=10) for _ in range(5)]
        assert got == [b"bytes", b"bytearray", b"memoryview", b"", big]
        assert all(type(m) is bytes for m in got)
        rest = []
        while len(rest) < 4:
            rest.extend(consumer.get_many(10, timeout=10))
        assert rest == [b"p1", b"p2", b"p3", big]
        with pytest.raises(ringpy.EndOfStreamError):
            consumer.get(timeout=5)
        assert list(consumer) == []
    assert producer.closed and consumer.closed
    assert producer.counters.messages_sent == 9 and consumer.counters.messages_received == 9
    with pytest.raises(ringpy.ClosedError):
        producer.put(b"after close")
    with pytest.raises(ringpy.ClosedError):
        consumer.get(timeout=0)


@needs_zmq
def test_iteration_until_end_of_stream(endpoint):
    """for message in consumer: every message, then the loop ends at END."""
    with rz.ZmqProducer(endpoint) as producer, rz.ZmqConsumer(endpoint) as consumer:
        worker = Worker(send, producer, 3, 500, 0)
        assert [check(m) for m in consumer] == [(3, i) for i in range(500)]
        worker.join()


@needs_zmq
def test_bad_arguments_and_mpmc_refused(endpoint):
    """ValueError or TypeError for options out of range; MPMC refused with a clear message."""
    for bad in ("mpmc", "MPMC"):
        with pytest.raises(ValueError, match="MPMC"):
            rz.ZmqProducer(endpoint, bad)
        with pytest.raises(ValueError, match="MPMC"):
            rz.ZmqConsumer(endpoint, bad)
    with pytest.raises(ValueError, match="MPMC"):
        rz.IPCRingBufferConfig(endpoint, num_producers=2, num_consumers=3)
    with pytest.raises(ValueError):
        rz.ZmqProducer(endpoint, "ring")
    with pytest.raises(ValueError):
        rz.ZmqProducer(endpoint, send_hwm=-1)
    with pytest.raises(ValueError):
        rz.ZmqProducer(endpoint, stream_id=0)
    with pytest.raises(ValueError):
        rz.ZmqProducer(endpoint, max_messages_per_frame=0)
    with pytest.raises(ValueError):
        rz.ZmqConsumer(endpoint, producers=0)
    with pytest.raises(TypeError):
        rz.ZmqConsumer(endpoint, bind="yes")
    with pytest.raises(OSError):
        rz.ZmqProducer("nonsense://here")


@needs_zmq
def test_bind_and_stream_id_overrides(endpoint):
    """bind=False on a producer and bind=True on a consumer turn SPSC around; stream_id is accepted."""
    with rz.ZmqConsumer(endpoint, "spsc", bind=True) as consumer, \
            rz.ZmqProducer(endpoint, "spsc", bind=False, stream_id=0x1122334455667788) as producer:
        send(producer, 1, 100, 10)
        assert drain(consumer, 0) == [(1, i) for i in range(100)]


# --- mm_toolbox's names ----------------------------------------------------------------------


@needs_zmq
def test_mm_toolbox_names(endpoint):
    """IPCRingBufferConfig (.default(), the topology from the counts, should_producer_bind),
    IPCRingBufferProducer (insert, insert_packed, stop) and IPCRingBufferConsumer (consume,
    consume_packed, consume_all, stop)."""
    default = rz.IPCRingBufferConfig.default()
    assert default.path.startswith("ipc://") and default.topology is rz.Topology.SPSC
    assert default.should_producer_bind() and rz.should_producer_bind(default)
    assert not rz.IPCRingBufferConfig(endpoint, num_producers=3).should_producer_bind()
    assert rz.IPCRingBufferConfig(endpoint, num_consumers=3).topology is rz.Topology.SPMC
    assert rz.should_producer_bind("spmc") and not rz.should_producer_bind(rz.Topology.MPSC)
    config = rz.IPCRingBufferConfig(endpoint, backlog=100)
    with rz.IPCRingBufferProducer(config) as producer, rz.IPCRingBufferConsumer(config) as consumer:
        producer.insert(make(1, 0))
        assert producer.insert_packed([make(1, i) for i in range(1, 51)]) == 50
        for i in range(51, 60):
            producer.insert(make(1, i))
        assert check(consumer.consume(timeout=10)) == (1, 0)
        first = consumer.consume_packed(timeout=10)
        assert [check(m) for m in first] == [(1, i) for i in range(1, 1 + len(first))]
        seen = 1 + len(first)
        deadline = time.monotonic() + 10
        while seen < 60 and time.monotonic() < deadline:
            batch = consumer.consume_all()
            assert [check(m) for m in batch] == [(1, i) for i in range(seen, seen + len(batch))]
            seen += len(batch)
            time.sleep(0.01)
        assert seen == 60
        assert consumer.consume_all() == []
        producer.stop()
        producer.stop()  # idempotent
        with pytest.raises(ringpy.EndOfStreamError):
            consumer.consume(timeout=10)
        assert consumer.consume_all() == []
        assert producer.counters.messages_sent == 60 and consumer.counters.messages_received == 60
    consumer.stop()


# --- malformed frames from a raw socket -------------------------------------------------------

HEADER = struct.Struct("<IHHIIIIQQQ")
MAGIC, WIRE_VERSION, DATA, END, HELLO = 0x57474E52, 1, 1, 2, 3


def record(payload: bytes) -> bytes:
    """A message record: u32 length, u32 kind 1, the payload, zeros to a multiple of 8."""
    raw = struct.pack("<II", len(payload), 1) + payload
    return raw + b"\0" * (-len(raw) % 8)


def frame(kind: int, body: bytes = b"", count: int = 0, first: int = 0, position: int = 0, *, stream: int = 7,
          magic: int = MAGIC, version: int = WIRE_VERSION, flags: int = 0, length=None) -> bytes:
    """A frame of SPEC.md §23.2, with any field as given."""
    return HEADER.pack(magic, version, kind, flags, count, len(body) if length is None else length, 0, stream, first,
                       position) + body


@needs_zmq
def test_malformed_frames_from_a_raw_socket(endpoint):
    """A pyzmq PUSH socket sends frames that break each rule of SPEC.md §23.5 between good
    ones: the bad ones are dropped whole and counted (last_drop says why), a HELLO is ignored,
    the good messages arrive, and END ends the stream."""
    zmq = pytest.importorskip("zmq", reason="pyzmq is not installed in the test virtualenv (scripts/test_python.sh installs it)")
    good1 = frame(DATA, record(b"hi") + record(b"world"), count=2, first=0, position=0)
    good2 = frame(DATA, record(b"again"), count=1, first=2, position=32)
    bad = [
        b"short",                                                              # truncated
        frame(DATA, record(b"x"), count=1, magic=0x474E4952),                  # bad magic ("RING")
        frame(DATA, record(b"x"), count=1, version=2),                         # bad version
        frame(9, record(b"x"), count=1),                                       # unknown kind
        frame(DATA, record(b"x"), count=1, flags=1),                           # unknown flags
        frame(DATA, record(b"x"), count=1, length=200),                        # lying body length
        frame(END, record(b"x"), count=0),                                     # END with a body
        frame(DATA, struct.pack("<II", 4, 2) + b"abcd", count=1),              # record kind 2
        frame(DATA, struct.pack("<II", 1000, 1) + b"abcd\0\0\0\0", count=1),   # record past the end
        frame(DATA, record(b"x") + record(b"y"), count=5),                     # lying count
        frame(DATA, b"", count=0),                                             # DATA without a record
    ]
    with rz.ZmqConsumer(endpoint, "spsc", bind=True) as consumer:
        context = zmq.Context()
        push = context.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        push.connect(endpoint)
        try:
            push.send(good1)
            for b in bad:
                push.send(b)
            push.send_multipart([good2, good2])                                # multipart: dropped once
            push.send(frame(HELLO, b"", count=0))                              # a bridge kind: ignored
            push.send(good2)
            push.send(frame(END, b"", count=0, first=3, position=48))
            got = []
            while True:
                try:
                    got.append(consumer.get(timeout=10))
                except ringpy.EndOfStreamError:
                    break
        finally:
            push.close()
            context.term()
        counters = consumer.counters
        assert got == [b"hi", b"world", b"again"]
        assert counters.frames_dropped == len(bad) + 1
        assert counters.frames_ignored == 1
        assert counters.messages_received == 3 and counters.end_frames_received == 1
        assert counters.sequence_breaks == 0
        assert isinstance(consumer.last_drop, str) and consumer.last_drop


# --- without libzmq --------------------------------------------------------------------------


def test_import_error_without_libzmq():
    """A ringpy built without ringpy._zmq (simulated: the module made unimportable) refuses
    `import ringpy.zmq` with an ImportError that names libzmq and Debian's libzmq3-dev."""
    code = (
        "import sys\n"
        "sys.modules['ringpy._zmq'] = None\n"
        "try:\n"
        "    import ringpy.zmq\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
        "else:\n"
        "    print('imported')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/tmp", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ImportError:"), out.stdout
    assert "libzmq3-dev" in out.stdout and "build time" in out.stdout
    if rz is None:
        assert "libzmq3-dev" in ZMQ_MISSING


# --- threads, signals, fork ------------------------------------------------------------------


@needs_zmq
def test_two_threads_share_one_producer(endpoint):
    """Two threads putting on one producer at once (the object's lock serialises them): every
    message arrives once, each thread's in its order."""
    with rz.ZmqProducer(endpoint) as producer, rz.ZmqConsumer(endpoint) as consumer:
        def put_all(stream):
            for i in range(1000):
                producer.put(make(stream, i), timeout=30)
        reader = Worker(drain, consumer, 0)
        workers = [Worker(put_all, s) for s in (1, 2)]
        for w in workers:
            w.join()
        producer.close_writer(timeout=30)
        got = reader.join()
    for s in (1, 2):
        assert [i for (stream, i) in got if stream == s] == list(range(1000))


@needs_zmq
def test_a_signal_interrupts_a_blocked_get(endpoint):
    """A get waiting with no limit runs Python's signal handlers between slices: the
    handler's exception comes out of get within a slice."""
    import signal

    class Alarm(Exception):
        pass

    def handler(signum, frame):
        raise Alarm()

    old = signal.signal(signal.SIGALRM, handler)
    try:
        with rz.ZmqConsumer(endpoint, bind=True) as consumer:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            start = time.monotonic()
            with pytest.raises(Alarm):
                consumer.get()
            assert time.monotonic() - start < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@needs_zmq
def test_forked_child_gets_forked_error(endpoint):
    """A producer inherited across fork raises ForkedError in the child (SPEC.md §23.8) and
    the parent's goes on working."""
    with rz.ZmqProducer(endpoint) as producer, rz.ZmqConsumer(endpoint) as consumer:
        pid = os.fork()
        if pid == 0:  # the child: never touches libzmq
            code = 1
            try:
                producer.put(b"from the child", timeout=1)
            except ringpy.ForkedError:
                code = 0
            except BaseException:  # noqa: BLE001
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        producer.put(b"from the parent", timeout=10)
        assert consumer.get(timeout=10) == b"from the parent"
