"""Threads: a producer thread and a consumer thread, two threads sharing one Ring's
consumer side, the GIL released while blocked, and Ctrl-C (SIGINT) interrupting a
blocked call."""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
import threading
import time

import pytest

from ringpy import EndOfStreamError, Policy, Ring

PACK = struct.Struct("<Q")


def _join(threads, seconds):
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"threads still running after {seconds} s: {alive}"


def test_producer_thread_and_consumer_thread_pass_200k_messages_in_order(ring_path):
    count = 200_000
    errors = []
    received = [0]
    Ring.create(ring_path, 1 << 16).close()

    def produce():
        try:
            with Ring.open(ring_path) as ring:
                for i in range(count):
                    ring.put(PACK.pack(i) + b"x" * (i % 24), timeout=20)
                ring.close_writer()
        except BaseException as e:  # noqa: BLE001
            errors.append(("producer", repr(e)))

    def consume():
        try:
            with Ring.open(ring_path) as ring:
                expected = 0
                while True:
                    try:
                        m = ring.get(timeout=20)
                    except EndOfStreamError:
                        break
                    if m != PACK.pack(expected) + b"x" * (expected % 24):
                        errors.append(("consumer", f"message {expected} is {m!r}"))
                        return
                    expected += 1
                received[0] = expected
        except BaseException as e:  # noqa: BLE001
            errors.append(("consumer", repr(e)))

    threads = [threading.Thread(target=produce, name="producer", daemon=True),
               threading.Thread(target=consume, name="consumer", daemon=True)]
    for t in threads:
        t.start()
    _join(threads, 60)
    assert not errors, errors
    assert received[0] == count, f"consumer received {received[0]} of {count}"


def test_two_threads_getting_from_one_ring_receive_every_message_once(ring_path):
    count = 20_000
    got = {"a": [], "b": []}
    errors = []
    shared = Ring.create(ring_path, 1 << 14)

    def consume(name):
        try:
            while True:
                try:
                    m = shared.get(timeout=20)
                except EndOfStreamError:
                    return
                got[name].append(PACK.unpack(m)[0])
        except BaseException as e:  # noqa: BLE001
            errors.append((name, repr(e)))

    def produce():
        try:
            with Ring.open(ring_path) as producer:
                for i in range(count):
                    producer.put(PACK.pack(i), timeout=20)
                producer.close_writer()
        except BaseException as e:  # noqa: BLE001
            errors.append(("producer", repr(e)))

    threads = [threading.Thread(target=consume, args=(n,), name=f"consumer-{n}", daemon=True) for n in got]
    threads.append(threading.Thread(target=produce, name="producer", daemon=True))
    for t in threads:
        t.start()
    _join(threads, 60)
    shared.close()
    assert not errors, errors
    everything = got["a"] + got["b"]
    assert len(everything) == len(set(everything)), "a message was delivered twice"
    assert sorted(everything) == list(range(count)), f"lost {count - len(set(everything))} messages"
    for name, seq in got.items():
        assert seq == sorted(seq), f"thread {name} received messages out of order"


def test_threads_mixing_get_many_and_get_on_one_ring(ring_path):
    count = 10_000
    got = []
    lock = threading.Lock()
    errors = []
    shared = Ring.create(ring_path, 1 << 14)

    def by_batches():
        try:
            while True:
                try:
                    batch = shared.get_many(17, timeout=20)
                except EndOfStreamError:
                    return
                with lock:
                    got.extend(PACK.unpack(m)[0] for m in batch)
        except BaseException as e:  # noqa: BLE001
            errors.append(("get_many", repr(e)))

    def one_by_one():
        try:
            while True:
                try:
                    value = PACK.unpack(shared.get(timeout=20))[0]
                except EndOfStreamError:
                    return
                with lock:
                    got.append(value)
        except BaseException as e:  # noqa: BLE001
            errors.append(("get", repr(e)))

    threads = [threading.Thread(target=by_batches, daemon=True), threading.Thread(target=one_by_one, daemon=True)]
    for t in threads:
        t.start()
    with Ring.open(ring_path) as producer:
        for i in range(0, count, 50):
            producer.put_many([PACK.pack(j) for j in range(i, i + 50)], timeout=20)
        producer.close_writer()
    _join(threads, 60)
    shared.close()
    assert not errors, errors
    assert len(got) == count, f"received {len(got)} of {count}"
    assert sorted(got) == list(range(count)), "every message exactly once"


def test_two_producer_threads_on_one_ring(ring_path):
    per_thread = 5_000
    errors = []
    with Ring.create(ring_path, 1 << 14) as shared, Ring.open(ring_path) as consumer:

        def produce(tag):
            try:
                for i in range(per_thread):
                    shared.put(bytes([tag]) + PACK.pack(i), timeout=20)
            except BaseException as e:  # noqa: BLE001
                errors.append((tag, repr(e)))

        threads = [threading.Thread(target=produce, args=(tag,), daemon=True) for tag in (1, 2)]
        for t in threads:
            t.start()
        seen = {1: [], 2: []}
        while len(seen[1]) + len(seen[2]) < 2 * per_thread:
            for m in consumer.get_many(100, timeout=20):
                seen[m[0]].append(PACK.unpack(m[1:])[0])
        _join(threads, 30)
    assert not errors, errors
    for tag in (1, 2):
        assert seen[tag] == list(range(per_thread)), f"thread {tag}'s messages are not whole and in order"


def test_blocked_get_releases_the_gil_and_is_woken_promptly(ring_path):
    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        result = {}
        about_to_block = threading.Event()

        def blocked_get():
            about_to_block.set()
            try:
                result["message"] = consumer.get(timeout=2)
            except BaseException as e:  # noqa: BLE001
                result["error"] = e
            result["returned_at"] = time.monotonic()

        counter = [0]
        stop = threading.Event()

        def count():
            n = 0
            while not stop.is_set():
                n += 1
                if n % 1000 == 0:
                    counter[0] = n
            counter[0] = n

        getter = threading.Thread(target=blocked_get, daemon=True)
        t0 = time.monotonic()
        getter.start()
        about_to_block.wait(5)
        time.sleep(0.05)  # now inside get()
        counting = threading.Thread(target=count, daemon=True)
        counting.start()
        time.sleep(0.5)
        stop.set()
        counting.join(5)
        elapsed = time.monotonic() - t0
        assert getter.is_alive() and "returned_at" not in result, f"get returned early: {result}"
        assert elapsed < 1.5, f"the other threads were stalled for {elapsed:.2f} s: get() holds the GIL"
        assert counter[0] > 100_000, f"the counting thread made only {counter[0]} increments in 0.5 s"
        put_at = time.monotonic()
        producer.put(b"wake up")
        getter.join(3)
        assert "error" not in result, result
        assert result.get("message") == b"wake up"
        assert result["returned_at"] - put_at < 1.0, "a put must wake the blocked get promptly"


def test_blocked_put_releases_the_gil(ring_path):
    with Ring.create(ring_path, 4096) as producer, Ring.open(ring_path) as consumer:
        while producer.try_put(b"f" * 500):
            pass
        done = {}

        def blocked_put():
            try:
                producer.put(b"g" * 500, timeout=2)
                done["ok"] = time.monotonic()
            except BaseException as e:  # noqa: BLE001
                done["error"] = e

        t = threading.Thread(target=blocked_put, daemon=True)
        t0 = time.monotonic()
        t.start()
        time.sleep(0.05)
        n = 0
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            n += 1
        assert time.monotonic() - t0 < 1.5, "put() held the GIL while waiting"
        assert n > 10_000
        got_at = time.monotonic()
        consumer.get()
        t.join(3)
        assert "error" not in done, done
        assert done["ok"] - got_at < 1.0, "a get must wake the blocked put promptly"


INTERRUPT_SCRIPTS = {
    "get": (
        "import ringpy, sys\n"
        "r = ringpy.Ring.open(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "r.get()\n"
    ),
    "put": (
        "import ringpy, sys\n"
        "r = ringpy.Ring.open(sys.argv[1])\n"
        "while r.try_put(b'x' * 1000):\n"
        "    pass\n"
        "print('ready', flush=True)\n"
        "r.put(b'x' * 1000)\n"
    ),
    "get_view": (
        "import ringpy, sys\n"
        "r = ringpy.Ring.open(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "r.get_view()\n"
    ),
}


@pytest.mark.parametrize("call", list(INTERRUPT_SCRIPTS))
def test_sigint_interrupts_a_blocked_call(ring_path, call):
    Ring.create(ring_path, 4096, Policy.REJECT_WHEN_FULL).close()
    child = subprocess.Popen([sys.executable, "-c", INTERRUPT_SCRIPTS[call], str(ring_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "ready", f"child did not start: {line!r}"
        time.sleep(0.3)  # let it block in the call
        assert child.poll() is None, "the blocked call returned on its own"
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        try:
            _, err = child.communicate(timeout=2)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{call}() did not react to SIGINT within 2 s (it hangs)")
        assert time.monotonic() - sent < 2.0
        assert child.returncode != 0
        assert "KeyboardInterrupt" in err, f"no KeyboardInterrupt traceback on stderr: {err!r}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
