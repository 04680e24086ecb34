"""Processes and languages: Python producer and consumer processes, and Python paired
with the Swift ringctl and the C ring_peer on one ring file, all running the seeded
interop workload (interop/README.md) and comparing its FNV-1a checksum.

The Swift and C binaries come from RINGCTL / RING_PEER / RINGFORMAT_LIB (conftest.py); a
missing binary fails these tests."""

from __future__ import annotations

import multiprocessing
import os
import subprocess

import pytest

from ringpy import Policy, Ring
from ringtools import HEADER_SIZE, finish, parse_consumed, python_peer_command, read_bytes, start
from workload import Workload, expected_checksum

REJECT = Policy.REJECT_WHEN_FULL
OVERWRITE = Policy.OVERWRITE_OLDEST


def _spawn_producer(path, count, seed, lo, hi):
    import ringpy
    from workload import Workload as W

    w = W(seed, lo, hi)
    with ringpy.Ring.open(path) as ring:
        for i in range(count):
            ring.put(w.message(i), timeout=30)
        ring.close_writer()


def _spawn_consumer(path, count, seed, lo, hi, result):
    import ringpy
    from workload import StreamChecksum
    from workload import Workload as W

    w = W(seed, lo, hi)
    c = StreamChecksum()
    n = 0
    with ringpy.Ring.open(path) as ring:
        while True:
            try:
                batch = ring.get_many(256, timeout=30)
            except ringpy.EndOfStreamError:
                break
            for m in batch:
                if m != w.message(n):
                    result.put(("wrong", n, len(m)))
                    return
                c.add(m)
                n += 1
    result.put(("ok", n, c.value))


def test_multiprocessing_spawn_producer_and_consumer(ring_path):
    count, seed, lo, hi = 30_000, 99, 0, 100
    Ring.create(ring_path, 1 << 14).close()
    ctx = multiprocessing.get_context("spawn")
    result = ctx.Queue()
    consumer = ctx.Process(target=_spawn_consumer, args=(str(ring_path), count, seed, lo, hi, result))
    producer = ctx.Process(target=_spawn_producer, args=(str(ring_path), count, seed, lo, hi))
    consumer.start()
    producer.start()
    try:
        outcome = result.get(timeout=60)
    finally:
        producer.join(30)
        consumer.join(30)
        for p in (producer, consumer):
            if p.is_alive():
                p.kill()
    assert producer.exitcode == 0, f"producer exit code {producer.exitcode}"
    assert outcome[0] == "ok", f"consumer found message {outcome[1]} wrong ({outcome[2]} bytes)"
    assert outcome[1] == count
    assert outcome[2] == expected_checksum(seed, count, lo, hi)[0]


def test_python_processes_pass_100k_seeded_messages(ring_path):
    count, seed, lo, hi = 100_000, 42, 8, 64
    Ring.create(ring_path, 1 << 16).close()
    common = ["--count", str(count), "--seed", str(seed), "--min-size", str(lo), "--max-size", str(hi),
              "--timeout-ms", "30000"]
    consumer = start(python_peer_command("consume", str(ring_path), *common))
    producer = start(python_peer_command("produce", str(ring_path), *common, "--batch", "1"))
    finish(producer, 90, "python producer")
    c = parse_consumed(finish(consumer, 90, "python consumer"))
    checksum, total = expected_checksum(seed, count, lo, hi)
    assert (c.messages, c.bytes, c.overwritten) == (count, total, 0)
    assert c.checksum == checksum, f"checksum {c.checksum:#x}, expected {checksum:#x}"


# --- Python with Swift and C ------------------------------------------------------------


def _command(side, tool, role, path, args):
    if side == "python":
        return python_peer_command(role, path, *args)
    return [tool, role, path, *args]


@pytest.fixture
def tools(request):
    """Lazily resolves the binaries so that a missing one fails only the tests that use it."""

    def get(side):
        if side == "python":
            return None, None
        if side == "swift":
            return request.getfixturevalue("ring_workload"), None
        return request.getfixturevalue("ring_peer"), request.getfixturevalue("ring_peer_env")

    return get


PAIRS = [("python", "swift"), ("swift", "python"), ("python", "c"), ("c", "python"), ("python", "python")]
#: (producer, consumer, batch): every pairing with Python on one side, and batched writes
#: (put_many) from Python to each consumer.
REJECT_CASES = [
    ("python", "swift", 1), ("python", "swift", 16), ("swift", "python", 1), ("swift", "python", 16),
    ("python", "c", 1), ("python", "c", 16), ("c", "python", 1), ("python", "python", 16),
]


@pytest.mark.parametrize("producer_side,consumer_side,batch", REJECT_CASES,
                         ids=[f"{p}-to-{c}-batch{b}" for p, c, b in REJECT_CASES])
def test_reject_when_full_between_languages(ring_path, tools, producer_side, consumer_side, batch):
    count, seed = 10_000, 1234
    Ring.create(ring_path, 1 << 14, REJECT).close()
    p_tool, p_env = tools(producer_side)
    c_tool, c_env = tools(consumer_side)
    common = ["--count", str(count), "--seed", str(seed), "--timeout-ms", "30000"]
    consumer = start(_command(consumer_side, c_tool, "consume", str(ring_path), common), env=c_env)
    producer = start(_command(producer_side, p_tool, "produce", str(ring_path), common + ["--batch", str(batch)]),
                     env=p_env)
    out = finish(producer, 90, f"{producer_side} producer")
    assert f"produced {count} messages" in out
    c = parse_consumed(finish(consumer, 90, f"{consumer_side} consumer"))
    checksum, total = expected_checksum(seed, count, 0, 256)
    assert (c.messages, c.bytes, c.overwritten) == (count, total, 0), c
    assert c.checksum == checksum, (
        f"{consumer_side} consumer printed checksum {c.checksum:#x}; the workload gives {checksum:#x}")


@pytest.mark.parametrize("timing", ["concurrent", "producer-first"])
@pytest.mark.parametrize("producer_side,consumer_side", PAIRS, ids=[f"{p}-to-{c}" for p, c in PAIRS])
def test_overwrite_oldest_between_languages(ring_path, tools, producer_side, consumer_side, timing):
    count, seed = 10_000, 777
    Ring.create(ring_path, 4096, OVERWRITE).close()
    p_tool, p_env = tools(producer_side)
    c_tool, c_env = tools(consumer_side)
    sizes = ["--seed", str(seed), "--min-size", "8", "--max-size", "200"]
    consumer_cmd = _command(consumer_side, c_tool, "consume", str(ring_path),
                            ["--count", str(count), "--until-end", "--timeout-ms", "30000", *sizes])
    producer = start(_command(producer_side, p_tool, "produce", str(ring_path),
                              ["--count", str(count), "--close", *sizes]), env=p_env)
    if timing == "producer-first":
        finish(producer, 90, f"{producer_side} producer")
        consumer = start(consumer_cmd, env=c_env)
    else:
        consumer = start(consumer_cmd, env=c_env)
        finish(producer, 90, f"{producer_side} producer")
    c = parse_consumed(finish(consumer, 90, f"{consumer_side} consumer"))
    # Every message is either consumed whole, in order, or counted as overwritten; the
    # last one is never overwritten (nothing follows it).
    assert c.messages + c.overwritten == count, c
    assert c.messages >= 1
    if timing == "producer-first":
        # the ring holds only the newest messages: about capacity / (8 + average size)
        assert c.overwritten > count - 100 and c.messages > 10, c
    with Ring.open(ring_path) as ring:
        s = ring.stats()
        assert s["writer_closed"] is True and s["used_bytes"] == 0
        assert s["dropped_count"] == c.overwritten, "the producer's dropped count equals the consumer's gaps"


def test_python_consumer_checksum_equals_swift_consumer_checksum(tmp_path, ring_workload):
    # The same stream, written once by a Python producer into each of two rings, consumed
    # by ringctl from one and by Python from the other.
    count, seed = 5000, 31337
    paths = [tmp_path / "for-swift", tmp_path / "for-python"]
    for p in paths:
        Ring.create(p, 1 << 22).close()  # room for the whole stream: no concurrency needed
        finish(start(python_peer_command("produce", str(p), "--count", str(count), "--seed", str(seed), "--close")),
               60, "python producer")
    swift = parse_consumed(finish(start([ring_workload, "consume", str(paths[0]), "--count", str(count), "--seed",
                                         str(seed), "--until-end"]), 60, "ring-workload consume"))
    python = parse_consumed(finish(start(python_peer_command("consume", str(paths[1]), "--count", str(count),
                                                            "--seed", str(seed), "--until-end")), 60,
                                   "python consume"))
    assert swift == python, f"ringctl printed {swift}, the Python consumer {python}"
    assert swift.checksum == expected_checksum(seed, count, 0, 256)[0]


def test_python_and_swift_write_byte_identical_files(tmp_path, ringctl):
    # SPEC.md §6.2: two implementations performing the same operations produce
    # byte-identical files.
    texts = ["hello", "world", "", "x" * 2001, "y" * 1901, "z" * 301]
    swift = tmp_path / "swift"
    python = tmp_path / "python"
    subprocess.run([ringctl, "create", str(swift), "--capacity", "4096"], check=True, capture_output=True)
    subprocess.run([ringctl, "write", str(swift), *texts[:3]], check=True, capture_output=True)
    subprocess.run([ringctl, "read", str(swift)], check=True, capture_output=True)
    subprocess.run([ringctl, "write", str(swift), *texts[3:5]], check=True, capture_output=True)
    for _ in range(3):
        subprocess.run([ringctl, "read", str(swift)], check=True, capture_output=True)
    subprocess.run([ringctl, "write", str(swift), texts[5]], check=True, capture_output=True)  # wraps
    with Ring.create(python, 4096) as ring:
        for t in texts[:3]:
            ring.put(t.encode())
        ring.get()
        for t in texts[3:5]:
            ring.put(t.encode())
    for _ in range(3):
        with Ring.open(python) as ring:
            ring.get()
    with Ring.open(python) as ring:
        ring.put(texts[5].encode())
        assert ring.stats()["producer_position"] == 3968 + 128 + 312, "the last write wrapped with padding"
    size = os.path.getsize(swift)
    assert os.path.getsize(python) == size == HEADER_SIZE + 4096
    a, b = read_bytes(swift, 0, size), read_bytes(python, 0, size)
    if a != b:
        first = next(i for i in range(size) if a[i] != b[i])
        pytest.fail(f"files differ first at byte {first:#x}: swift {a[first:first + 16].hex()} "
                    f"python {b[first:first + 16].hex()}")


def test_swift_reads_what_python_wrote_and_inspects_it(ring_path, ringctl):
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        for letter in "ABCDE":
            ring.put(letter.encode() * 1000)
    out = subprocess.run([ringctl, "inspect", str(ring_path)], check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert fields["producerPosition"] == "5104" and fields["consumerPosition"] == "1008", out
    assert fields["messageCount"] == "4" and fields["droppedCount"] == "1", out
    out = subprocess.run([ringctl, "read", str(ring_path)], check=True, capture_output=True, text=True).stdout
    assert out == "B" * 1000 + "\n"
    with Ring.open(ring_path) as ring:
        assert ring.get() == b"C" * 1000


def test_python_reads_what_swift_wrote(ring_path, ringctl):
    subprocess.run([ringctl, "create", str(ring_path), "--capacity", "4096", "--initial-position", "4294967288"],
                   check=True, capture_output=True)
    subprocess.run([ringctl, "write", str(ring_path), "hello", "positions past 2^32"], check=True,
                   capture_output=True)
    with Ring.open(ring_path) as ring:
        s = ring.stats()
        assert (s["producer_position"], s["consumer_position"], s["used_bytes"], s["message_count"]) == (
            4294967344, 4294967288, 56, 2), s
        assert ring.get() == b"hello"
        assert ring.stats()["consumer_position"] == 4294967312
        assert ring.get() == b"positions past 2^32"


def test_swift_producer_role_makes_python_busy(ring_path, ring_workload):
    # While ring-workload produces into a full ring (it waits), Python cannot take the producer role.
    import time

    from ringpy import BusyError

    Ring.create(ring_path, 4096).close()
    p = start([ring_workload, "produce", str(ring_path), "--count", "100", "--min-size", "500", "--max-size", "500",
               "--timeout-ms", "20000"])
    try:
        deadline = time.monotonic() + 10
        with Ring.open(ring_path) as ring:
            while ring.stats()["used_bytes"] < 4000 and time.monotonic() < deadline:
                time.sleep(0.02)
            with pytest.raises(BusyError):
                ring.put(b"python")
            w = Workload(1, 500, 500)
            got = []
            while len(got) < 100:
                got += ring.get_many(100, timeout=10)
            assert got == [w.message(i) for i in range(100)]
        finish(p, 30, "ring-workload produce")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
