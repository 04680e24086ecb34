"""Several readers of one ring (format 1.1, SPEC.md §17) through ringpy: Ring.create(readers=N),
Ring.reader(), Reader, Ring.readers(), with racing producer processes and exact accounting.

The racing tests write self-checking messages of the interop workload (bytes 0..7 carry the
message's index; every byte is a function of the index) from a producer PROCESS, and read
them with several Readers at once, each through one read API, in threads of this process
and in ring_peer.py reader processes. Every reader checks each message it is given against
its index, and that indexes strictly increase; then:

- a gating reader (reject-when-full) receives every message, in order: no gaps, missed 0;
- a lapping reader (either policy): received + gaps == produced and gaps == missed_count
  (the library counts exactly what it skipped, from the indexes the records carry), and the
  slow one was really lapped;
- a RecordView the producer reclaimed while it was held raises OverwrittenError on release
  and its message counts as missed (its bytes may be anything: a view of a reader the
  producer had already lapped shows what is at its stale cursor now, and only the release
  tells);
- every reader ends with the end of the stream.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import ringpy
from ringpy import BusyError, ClosedError, EmptyError, EndOfStreamError, ForkedError, OverwrittenError, Policy, Ring
from ringtools import finish, parse_consumed, python_peer_command, run_with_deadline
from workload import StreamChecksum, Workload, expected_checksum

LONG = os.environ.get("RING_RACE_LONG", "") not in ("", "0")
REJECT = Policy.REJECT_WHEN_FULL
OVERWRITE = Policy.OVERWRITE_OLDEST
INTEROP_PYTHON = str(Path(__file__).resolve().parents[2] / "interop" / "python")


# --- accounting -------------------------------------------------------------------


@dataclass
class Account:
    """What one reader received, checked message by message."""

    name: str
    w: Workload
    produced: int
    expected: int = 0
    received: int = 0
    gaps: int = 0
    bytes: int = 0
    ended: bool = False
    missed: int | None = None
    overwritten_views: int = 0
    peeked: int = 0
    #: The interop stream checksum (pure Python, slow), or None when not kept.
    checksum: StreamChecksum | None = None
    problems: list = field(default_factory=list)

    def check(self, data) -> int | None:
        """The index of a message that passes its self-check, else None."""
        data = bytes(data)
        index = Workload.index_in(data)
        if index is None or index >= self.produced or data != self.w.message(index):
            return None
        return index

    def problem(self, text: str) -> None:
        if len(self.problems) < 5:
            self.problems.append(text)

    def deliver(self, data) -> None:
        data = bytes(data)
        index = self.check(data)
        if index is None:
            self.problem(f"a message that fails its check: {len(data)} bytes, index field "
                         f"{Workload.index_in(data)}, expected >= {self.expected}")
            return
        if index < self.expected:
            self.problem(f"index {index} after {self.expected - 1} (duplicate or out of order)")
            return
        self.gaps += index - self.expected
        self.expected = index + 1
        self.received += 1
        self.bytes += len(data)
        if self.checksum is not None:
            self.checksum.add(data)

    def summary(self) -> str:
        return (f"{self.name}: produced {self.produced} received {self.received} gaps {self.gaps} "
                f"missed_count {self.missed} tail {self.produced - self.expected} ended {self.ended} "
                f"overwritten views {self.overwritten_views} peeked {self.peeked}")


def _maybe_sleep(rng: random.Random, p: float = 0.05, most: float = 0.0005) -> None:
    if rng.random() < p:
        time.sleep(rng.random() * most)


def drive(reader: ringpy.Reader, api: str, account: Account, seed: int, deadline: float) -> None:
    """Reads with one API until the end of the stream (or the deadline), then records
    reader.missed_count and closes the reader."""
    rng = random.Random(seed)
    try:
        if api == "iteration":
            for m in reader:
                account.deliver(m)
                _maybe_sleep(rng)
                if time.monotonic() > deadline:
                    return
            account.ended = True
            return
        if api == "async":
            async def body():
                async for m in reader:
                    account.deliver(m)
                    if rng.random() < 0.05:
                        await asyncio.sleep(rng.random() * 0.0005)
                    if time.monotonic() > deadline:
                        return
                account.ended = True

            asyncio.run(body())
            return
        while time.monotonic() < deadline:
            try:
                if api == "get":
                    account.deliver(reader.get(timeout=5))
                elif api == "slow_get":
                    account.deliver(reader.get(timeout=5))
                    time.sleep(0.002)
                elif api == "try_get":
                    m = reader.try_get()
                    if m is None:
                        time.sleep(0.0001)
                        continue
                    account.deliver(m)
                elif api == "get_many":
                    for m in reader.get_many(rng.randint(1, 64), timeout=1.0):
                        account.deliver(m)
                elif api == "get_view":
                    view = reader.get_view(timeout=5)
                    data = bytes(view)
                    if rng.random() < 0.3:
                        time.sleep(rng.random() * 0.002)  # hold it while the producer runs
                    try:
                        view.release()
                    except OverwrittenError:
                        account.overwritten_views += 1  # discarded: counted as missed by the library
                        continue
                    account.deliver(data)
                elif api == "peek_all":
                    last = account.expected
                    for c in reader.peek_all():
                        account.peeked += 1
                        index = account.check(c)
                        if index is None or index < last:
                            account.problem(f"peek_all copy of {len(c)} bytes, index field "
                                            f"{Workload.index_in(bytes(c))}, expected >= {last}")
                        else:
                            last = index + 1
                    m = reader.try_get()
                    if m is None:
                        time.sleep(0.0002)
                        continue
                    account.deliver(m)
                else:
                    raise AssertionError(api)
            except EndOfStreamError:
                account.ended = True
                return
            except EmptyError:
                continue
            _maybe_sleep(rng)
    finally:
        if not reader.closed:
            account.missed = reader.missed_count
            reader.close()


def wait_for_live_readers(ring: Ring, count: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while sum(r.live for r in ring.readers()) < count:
        assert time.monotonic() < deadline, f"readers did not join: {ring.readers()}"
        time.sleep(0.01)


def start_python_producer(path, count: int, seed: int, max_size: int) -> subprocess.Popen:
    """interop/python/ring_peer.py produce: a ringpy producer process that ends the stream."""
    return subprocess.Popen(python_peer_command("produce", str(path), "--count", str(count), "--seed", str(seed),
                                                "--min-size", "8", "--max-size", str(max_size),
                                                "--timeout-ms", "60000", "--close"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_c_producer(ring_peer: str, env: dict, path, count: int, seed: int, max_size: int) -> subprocess.Popen:
    """build/ring_peer produce: the C producer (libringformat through dlopen), much faster."""
    return subprocess.Popen([ring_peer, "produce", str(path), "--count", str(count), "--seed", str(seed),
                             "--min-size", "8", "--max-size", str(max_size), "--timeout-ms", "60000", "--close"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_peer_reader(path, count: int, seed: int, max_size: int, *extra: str) -> subprocess.Popen:
    """interop/python/ring_peer.py reader: a ringpy reader process, until the end of the stream."""
    return subprocess.Popen(python_peer_command("reader", str(path), "--until-end", "--count", str(count),
                                                "--seed", str(seed), "--min-size", "8", "--max-size", str(max_size),
                                                "--timeout-ms", "60000", *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_readers(ring: Ring, plan: list[tuple[str, ringpy.Reader, str]], produced: int, w: Workload, seed: int,
                producer: subprocess.Popen, seconds: float, checksum: bool = False) -> list[Account]:
    """Runs every (name, reader, api) of plan in a thread until the end of the stream, then
    checks what every reader must have done under either kind and policy."""
    deadline = time.monotonic() + seconds
    accounts = [Account(name, w, produced, checksum=StreamChecksum() if checksum else None) for name, _, _ in plan]
    errors: list = []

    def body(i: int) -> None:
        try:
            drive(plan[i][1], plan[i][2], accounts[i], seed * 100 + i, deadline)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(f"{plan[i][0]}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(len(plan))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()) + 10)
        out, err = producer.communicate(timeout=60)
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.wait()
    assert not any(t.is_alive() for t in threads), "a reader thread hangs: " + "; ".join(a.summary() for a in accounts)
    assert producer.returncode == 0, f"producer failed ({producer.returncode}): {out} {err}"
    assert not errors, errors
    for a in accounts:
        print(a.summary())
        assert not a.problems, f"{a.summary()}: {a.problems}"
        assert a.ended, f"no end of stream: {a.summary()}"
        assert a.expected == produced, f"the last message was not read: {a.summary()}"
    s = ring.stats()
    assert s["writer_closed"] and s["dropped_count"] + s["message_count"] == produced, \
        f"every message was reclaimed or is still in the ring: {s}"
    return accounts


# --- racing: broadcast, lapping, views ------------------------------------------------


def test_broadcast_every_gating_reader_receives_every_message(ring_path):
    """Reject-when-full: a Python producer process and six gating readers, one per read API
    (threads of this process) and a ring_peer.py reader process: each receives every message
    exactly once, in order, byte for byte, then the end of the stream."""
    produced = 20_000 if LONG else 2_000
    seed = 71
    ring = Ring.create(ring_path, 1 << 15, REJECT, readers=8)
    max_size = 6000  # records wrap and pad; small enough for the pure-Python checksums
    w = Workload(seed, 8, max_size)
    apis = ["get", "get_many", "get_view", "peek_all", "iteration", "async"]
    plan = [(f"gating {api}", ring.reader(), api) for api in apis]
    peer = start_peer_reader(ring_path, produced, seed, max_size)
    try:
        wait_for_live_readers(ring, len(plan) + 1)
        producer = start_python_producer(ring_path, produced, seed, max_size)
        accounts = run_readers(ring, plan, produced, w, seed, producer, 900 if LONG else 120, checksum=True)
        line = parse_consumed(finish(peer, 60, "ring_peer.py reader"))
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    checksum, total = expected_checksum(seed, produced, 8, max_size)
    for a in accounts:
        assert a.received == produced and a.gaps == 0 and a.missed == 0, a.summary()
        assert (a.checksum.value, a.bytes) == (checksum, total), a.summary()
        assert a.overwritten_views == 0, "a gating reader's view is never reclaimed"
    assert (line.messages, line.bytes, line.checksum, line.overwritten, line.missed) == \
        (produced, total, checksum, 0, 0), line
    ring.close()


@pytest.mark.parametrize("policy", [REJECT, OVERWRITE], ids=["reject", "overwrite"])
def test_lapping_readers_count_exactly_what_they_missed(policy, ring_path, ring_peer, ring_peer_env):
    """A fast C producer process; lapping readers of every read API, one of them slow, and a
    ring_peer.py lapping reader process: for each, received + gaps == produced and gaps ==
    missed_count; the slow ones were lapped. Under reject-when-full a fast gating reader runs
    alongside and still receives everything (the producer waits only for it)."""
    produced = 300_000 if LONG else 40_000
    seed = 90 + int(policy)
    max_size = 4000
    ring = Ring.create(ring_path, 1 << 16, policy, readers=8)
    w = Workload(seed, 8, max_size)
    apis = ["get", "slow_get", "get_many", "get_view", "try_get", "peek_all"]
    plan = [(f"lapping {api}", ring.reader(gating=False), api) for api in apis]
    if policy == REJECT:
        plan.append(("gating get_many", ring.reader(), "get_many"))
    peer = start_peer_reader(ring_path, produced, seed, max_size, "--lapping")
    try:
        wait_for_live_readers(ring, len(plan) + 1)
        producer = start_c_producer(ring_peer, ring_peer_env, ring_path, produced, seed, max_size)
        accounts = run_readers(ring, plan, produced, w, seed, producer, 900 if LONG else 120)
        line = parse_consumed(finish(peer, 60, "ring_peer.py reader --lapping"))
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    by_name = {a.name: a for a in accounts}
    for a in accounts:
        assert a.received + a.gaps == produced, a.summary()
        assert a.gaps == a.missed, f"gaps seen differ from the library's missed_count: {a.summary()}"
    assert by_name["lapping slow_get"].missed > 0, f"the slow reader was never lapped: {by_name['lapping slow_get'].summary()}"
    if policy == REJECT:
        gating = by_name["gating get_many"]
        assert gating.received == produced and gating.missed == 0, gating.summary()
    assert line.messages + line.missed == produced and line.overwritten == line.missed, line
    assert line.missed > 0, f"the ring_peer.py reader (pure-Python checksum) was never lapped: {line}"
    ring.close()


@pytest.mark.parametrize("policy", [REJECT, OVERWRITE], ids=["reject", "overwrite"])
def test_views_of_a_lapping_reader_under_a_racing_producer(policy, ring_path):
    """Views held while a producer process laps the reader (a Python one: it writes for the
    whole run): some releases raise OverwrittenError; those messages count as missed (gaps ==
    missed_count, received + gaps == produced), and get_many beside it loses nothing it was
    not lapped past."""
    produced = 200_000 if LONG else 20_000
    seed = 95 + int(policy)
    max_size = 2000
    ring = Ring.create(ring_path, 1 << 14, policy, readers=4)
    w = Workload(seed, 8, max_size)
    plan = [("views", ring.reader(gating=False), "get_view"), ("batches", ring.reader(gating=False), "get_many")]
    producer = start_python_producer(ring_path, produced, seed, max_size)
    accounts = run_readers(ring, plan, produced, w, seed, producer, 900 if LONG else 120)
    for a in accounts:
        assert a.received + a.gaps == produced and a.gaps == a.missed, a.summary()
    views = accounts[0]
    assert views.overwritten_views > 0, f"no view was ever reclaimed while held: {views.summary()}"
    ring.close()


def test_peek_all_of_a_lapping_reader_under_a_racing_producer(ring_path, ring_peer, ring_peer_env):
    """A lapping reader peeks all the time while a fast C producer overwrites the ring (and a
    busy process competes for the CPU, as the other tests' processes do): every peek_all
    returns an in-order run of good copies, never CorruptError. (A pass whose copies
    tailPosition passed must move the reader to tailPosition before the next pass; retried
    from the stale cursor it ended, in most runs of this test, in
    CORRUPT(positionsUnstable) after 10,000 passes.)"""
    produced, seed, max_size = 400_000, 97, 4000
    ring = Ring.create(ring_path, 1 << 16, OVERWRITE, readers=2)
    reader = ring.reader(gating=False)
    account = Account("lapping peek_all", Workload(seed, 8, max_size), produced)
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    producer = start_c_producer(ring_peer, ring_peer_env, ring_path, produced, seed, max_size)
    try:
        peeks = 0
        while producer.poll() is None:
            copies = reader.peek_all()
            peeks += 1
            if peeks % 16 == 0:  # checking every copy would leave fewer peeks to race
                last = -1
                for c in copies:
                    index = account.check(c)
                    assert index is not None and index > last, f"peek_all gave a bad copy after {peeks} peeks"
                    last = index
        assert producer.wait() == 0
    finally:
        for p in (burner, producer):
            if p.poll() is None:
                p.kill()
                p.wait()
        ring.close()


# Failed before the fix (9-16 false CorruptError per 400k messages under reject-when-full):
# ring_info walked the records from tailPosition without checking the producer's reclaims
# unless the ring was overwrite-oldest.
@pytest.mark.parametrize("policy", [REJECT, OVERWRITE], ids=["reject", "overwrite"])
def test_stats_and_peek_all_under_a_racing_producer(policy, ring_path, ring_peer, ring_peer_env):
    """stats(), len() and a lapping reader's peek_all while a fast C producer reclaims (a
    busy process competes for the CPU): consistent snapshots, never CorruptError."""
    produced, seed, max_size = 200_000, 98 + int(policy), 4000
    ring = Ring.create(ring_path, 1 << 16, policy, readers=2)
    reader = ring.reader(gating=False)
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    producer = start_c_producer(ring_peer, ring_peer_env, ring_path, produced, seed, max_size)
    try:
        calls = 0
        while producer.poll() is None:
            s = ring.stats()
            assert s["used_bytes"] == (s["producer_position"] - s["consumer_position"]) % (1 << 64) <= 1 << 16, s
            assert 16 * s["message_count"] <= s["used_bytes"], s
            assert len(ring) <= (1 << 16) // 16
            reader.peek_all()
            calls += 1
        assert producer.wait() == 0
        s = ring.stats()
        assert s["dropped_count"] + s["message_count"] == produced, s
    finally:
        for p in (burner, producer):
            if p.poll() is None:
                p.kill()
                p.wait()
        ring.close()


# --- views, deterministic ------------------------------------------------------------------


def test_a_lapped_view_raises_overwritten_and_the_next_read_is_the_oldest(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE, readers=2) as ring:
        w = Workload(5, 8, 200)
        reader = ring.reader(gating=False)
        ring.put(w.message(0))
        view = reader.get_view(timeout=0)
        assert bytes(view) == w.message(0)
        with pytest.raises(BusyError):
            reader.get(timeout=0)  # a view is open on this reader
        i = 1
        while ring.stats()["dropped_count"] < 3:
            ring.put(w.message(i))
            i += 1
        dropped = ring.stats()["dropped_count"]
        with pytest.raises(OverwrittenError):
            view.release()
        assert view.released
        # The oldest message still in the ring is message `dropped`: nothing newer was lost.
        assert reader.get(timeout=0) == w.message(dropped)
        assert reader.missed_count == dropped
        assert reader.get_many(1000) == [w.message(k) for k in range(dropped + 1, i)]
        assert reader.missed_count == dropped


def test_a_gating_readers_view_is_never_reclaimed(ring_path):
    def message(i: int) -> bytes:
        return b"%03d" % i + b"x" * 97  # 100 bytes: 34 records of 120 fill 4080 of 4096 bytes

    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        reader = ring.reader()
        other = ring.reader()
        ring.put(message(0))
        view = reader.get_view(timeout=0)
        assert other.get(timeout=0) == message(0)  # another reader is not held up by the view
        written = 1
        while ring.try_put(message(written)):
            written += 1
        assert written == 34
        assert not ring.try_put(message(written)), "the view's record was reclaimed while held"
        assert bytes(view) == message(0)
        view.release()  # consumed, not overwritten
        assert ring.try_put(message(written)), "the release lets the producer reclaim that record"
        assert reader.get_many(100) == [message(i) for i in range(1, written + 1)]
        assert reader.missed_count == 0


def test_a_cancelled_view_leaves_the_message_for_this_reader(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        reader = ring.reader()
        ring.put(b"kept")
        reader.get_view(timeout=0).cancel()
        assert reader.get(timeout=0) == b"kept"


# --- end of stream ---------------------------------------------------------------------


def test_every_reader_drains_then_gets_end_of_stream(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=4) as ring:
        early = ring.reader()
        lapping = ring.reader(gating=False)
        for i in range(3):
            ring.put(b"m%d" % i)
        ring.close_writer()
        late = ring.reader()  # joins after the end, at the oldest: still drains
        newest = ring.reader(start="newest")  # nothing after the newest: at the end already
        for r in (early, lapping, late):
            assert list(r) == [b"m0", b"m1", b"m2"]
            for _ in range(2):
                with pytest.raises(EndOfStreamError):
                    r.get(timeout=0)
            with pytest.raises(EndOfStreamError):
                r.get_many(10)
            with pytest.raises(EndOfStreamError):
                r.get_view(timeout=0)
        with pytest.raises(EndOfStreamError):
            newest.get()  # no timeout: the end, not a wait
        assert asyncio.run(_collect(newest)) == []


async def _collect(reader) -> list:
    return [m async for m in reader]


def test_a_newest_reader_starts_after_the_newest_message(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        ring.put(b"old")
        r = ring.reader(start="newest")
        assert r.try_get() is None and r.peek_all() == []
        ring.put(b"new")
        assert r.peek_all() == [b"new"]
        assert r.get(timeout=0) == b"new" and r.missed_count == 0


def test_async_reader(ring_path):
    async def main():
        with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
            reader = ring.reader()

            async def produce():
                for i in range(500):
                    await ring.put_async(b"a%d" % i, timeout=10)
                ring.close_writer()

            with pytest.raises(EmptyError):
                await ring.reader(start="newest").get_async(timeout=0.05)
            got, _ = await asyncio.gather(_collect(reader), produce())
            assert got == [b"a%d" % i for i in range(500)]

    asyncio.run(main())


# --- durable names --------------------------------------------------------------------------


HOLD_READER = """
import sys
import ringpy
ring = ringpy.Ring.open(sys.argv[1])
reader = ring.reader(sys.argv[2] or None, gating=sys.argv[3] == "gating", gate_timeout=float(sys.argv[4]))
print("joined", flush=True)
sys.stdin.read()
"""


def hold_reader(path, name: str = "", gating: bool = True, gate_timeout: float = 10.0) -> subprocess.Popen:
    """A process that joins as a reader and holds its slot without reading, until killed."""
    p = subprocess.Popen([sys.executable, "-c", HOLD_READER, str(path), name, "gating" if gating else "lapping",
                          str(gate_timeout)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    if line != "joined\n":
        p.kill()
        raise AssertionError(f"the reader process did not join: {line!r} {p.communicate()}")
    return p


def kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait()


def test_durable_reader_resumes_after_close(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=4) as ring:
        for i in range(10):
            ring.put(b"d%d" % i)
        audit = ring.reader("audit")
        assert [audit.get(timeout=0) for _ in range(3)] == [b"d0", b"d1", b"d2"]
        with pytest.raises(BusyError):
            ring.reader("audit")  # the name is in use by a live reader
        other = ring.reader("other")  # another name is another reader
        info = {r.name: r for r in ring.readers()}
        assert info["audit"].durable and info["audit"].live and info["audit"].gating
        audit.close()
        info = {r.name: r for r in ring.readers()}
        assert info["audit"].durable and not info["audit"].live, info
        assert info["other"].live
        again = ring.reader("audit")
        assert again.get(timeout=0) == b"d3", "a durable reader resumes at its cursor"
        assert again.missed_count == 0
        assert other.get(timeout=0) == b"d0"


def test_durable_lapping_reader_counts_what_was_reclaimed_while_away(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE, readers=2) as ring:
        w = Workload(9, 8, 100)
        with ring.reader("away", gating=False) as r:
            for i in range(5):
                ring.put(w.message(i))
            assert [r.get(timeout=0) for _ in range(2)] == [w.message(0), w.message(1)]
        i = 5
        while ring.stats()["dropped_count"] < 10:
            ring.put(w.message(i))
            i += 1
        oldest = ring.stats()["dropped_count"]
        with ring.reader("away", gating=False) as r:
            assert r.get(timeout=0) == w.message(oldest)
            assert r.missed_count == oldest - 2, "messages 2 .. oldest-1 were reclaimed while it was away"


def test_durable_name_in_use_by_another_process(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        ring.put(b"zero")
        holder = hold_reader(ring_path, "shared", gating=False)
        try:
            with pytest.raises(BusyError):
                ring.reader("shared", gating=False)
            info = [r for r in ring.readers() if r.name == "shared"]
            assert len(info) == 1 and info[0].live and not info[0].gating
        finally:
            kill(holder)
        resumed = ring.reader("shared", gating=False)  # its process died: the name is free again
        assert resumed.get(timeout=0) == b"zero"


def test_durable_reader_of_another_process_left_its_cursor(ring_path):
    """ring_peer.py reader --name reads 40 messages and exits; a reader of that name here
    resumes at message 40."""
    seed, count = 33, 100
    w = Workload(seed, 8, 300)
    with Ring.create(ring_path, 1 << 16, REJECT, readers=2) as ring:
        for i in range(count):
            ring.put(w.message(i))
        out = finish(subprocess.Popen(python_peer_command("reader", str(ring_path), "--count", "40", "--seed",
                                                          str(seed), "--min-size", "8", "--max-size", "300",
                                                          "--name", "batch", "--timeout-ms", "0"),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), 60, "reader")
        line = parse_consumed(out)
        assert (line.messages, line.overwritten, line.missed) == (40, 0, 0), out
        assert out.startswith("consumed 40 messages ") and out.count("\n") == 1, f"only the line on stdout: {out!r}"
        [info] = ring.readers()
        assert info.name == "batch" and info.durable and not info.live
        with ring.reader("batch") as r:
            assert r.get_many(1000) == [w.message(i) for i in range(40, count)]


def test_a_closed_durable_gating_reader_holds_the_producer_for_its_gate_timeout(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        r = ring.reader("slowpoke", gate_timeout=0.5)
        while ring.try_put(b"y" * 200):
            pass
        r.close()  # not live any more; it still gates for 0.5 s once the producer finds it so
        start = time.monotonic()
        ring.put(b"y" * 200, timeout=10)
        elapsed = time.monotonic() - start
        assert 0.3 <= elapsed < 2.5, f"the put waited {elapsed:.3f} s for a 0.5 s gate timeout"


def test_a_durable_gating_reader_passed_while_away_counts_what_it_missed(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        w = Workload(12, 8, 100)
        with ring.reader("away", gate_timeout=0) as r:
            for i in range(4):
                ring.put(w.message(i))
            assert r.get(timeout=0) == w.message(0)
        # Not live, no gate timeout: the producer reclaims past its cursor when it needs room.
        i = 4
        while ring.stats()["dropped_count"] < 20:
            ring.put(w.message(i), timeout=5)
            i += 1
        oldest = ring.stats()["dropped_count"]
        with ring.reader("away") as r:
            assert r.get(timeout=0) == w.message(oldest)
            assert r.missed_count == oldest - 1, "messages 1 .. oldest-1 were reclaimed while it was away"
            assert r.get_many(1000) == [w.message(k) for k in range(oldest + 1, i)]


# --- dead readers --------------------------------------------------------------------------


@pytest.mark.parametrize("durable", [False, True], ids=["anonymous", "durable"])
def test_a_killed_gating_reader_releases_the_producer(durable, ring_path):
    """A gating reader process SIGKILLed while it holds the producer back: a put waiting for
    room finishes within 2 s (anonymous: at once; durable with gate_timeout 0.3 s: after it)."""
    with Ring.create(ring_path, 4096, REJECT, readers=1) as ring:
        holder = hold_reader(ring_path, "dead" if durable else "", gating=True, gate_timeout=0.3)
        try:
            filled = 0
            while ring.try_put(b"z" * 100):
                filled += 1
            assert filled > 0
            assert not ring.try_put(b"z" * 100), "the gating reader holds the producer back"
            done = threading.Event()
            box: dict = {}

            def put():
                try:
                    ring.put(b"after", timeout=10)
                    box["t"] = time.monotonic()
                except BaseException as e:  # noqa: BLE001
                    box["error"] = e
                done.set()

            t = threading.Thread(target=put, daemon=True)
            t.start()
            assert not done.wait(0.3), "the put finished while the reader was alive"
        finally:
            killed = time.monotonic()
            kill(holder)
        assert done.wait(5), "the put still waits 5 s after the gating reader was killed"
        assert "error" not in box, box
        elapsed = box["t"] - killed
        assert elapsed < 2.0, f"the producer waited {elapsed:.3f} s after the reader died"
        [info] = ring.readers()
        assert not info.live and info.durable == durable
        # Its slot is taken again by the next reader (an anonymous dead reader's at once;
        # a durable one's by its name).
        with ring.reader("dead" if durable else None) as r:
            assert r.get(timeout=0) == b"z" * 100 or durable


# --- errors ---------------------------------------------------------------------------------


def test_reader_errors(ring_path, tmp_path):
    with Ring.create(tmp_path / "one.ring", 4096) as plain:
        assert plain.reader_slots == 0 and plain.readers() == []
        with pytest.raises(ValueError, match="reader table"):
            plain.reader()
    with Ring.create(tmp_path / "over.ring", 4096, OVERWRITE, readers=2) as over:
        with pytest.raises(ValueError, match="gating"):
            over.reader()
        over.reader(gating=False).close()
    with Ring.create(ring_path, 4096, REJECT, readers=16) as ring:
        assert ring.reader_slots == 16 and ring.stats()["reader_slots"] == 16
        with pytest.raises(ValueError, match="reader table"):
            ring.get(timeout=0)  # no consumer role on a ring with readers
        with pytest.raises(ValueError):
            ring.try_get()
        for bad in ("x" * 64, "é" * 32, ""):
            with pytest.raises(ValueError):
                ring.reader(bad)
        with pytest.raises(ValueError, match="NUL"):
            ring.reader("a\0b")
        with pytest.raises(TypeError):
            ring.reader(b"bytes")
        with pytest.raises(ValueError):
            ring.reader(start="middle")
        with pytest.raises(ValueError):
            ring.reader(gate_timeout=-1)
        with pytest.raises(TypeError):
            ring.reader(gate_timeout="1")
        with pytest.raises(TypeError):
            ring.reader("n", True)  # gating and the rest are keyword-only
        ring.reader("x" * 63).close()  # 63 bytes is the longest name; its durable slot stays
        ring.reader("é" * 31).close()
        readers = [ring.reader() for _ in range(14)]
        with pytest.raises(BusyError):
            ring.reader()  # every slot is taken (two by durable readers that are away)
        readers.pop().close()
        readers.append(ring.reader())  # an anonymous reader's slot is free again once it closed
        reader = readers[0]
        for method in ("put", "try_put", "put_many", "close_writer", "put_async", "flush"):
            assert not hasattr(reader, method), f"a Reader has no {method}"
        with pytest.raises(TypeError):
            ringpy.Reader()
        for r in readers:
            r.close()
        r.close()  # idempotent
        with pytest.raises(ClosedError):
            r.get(timeout=0)
        with pytest.raises(ClosedError):
            _ = r.missed_count
    with pytest.raises(ClosedError):
        ring.reader()


def test_busy_reader_error_names_the_reader_table(ring_path):
    # Failed before the fix: RingError.busy(.reader) said "the producer role is held".
    with Ring.create(ring_path, 4096, REJECT, readers=1) as ring:
        first = ring.reader()  # kept: a dropped Reader gives its slot back
        with pytest.raises(BusyError) as e:
            ring.reader()
        assert "producer" not in str(e.value) and "reader" in str(e.value), str(e.value)
        first.close()


def test_create_with_readers(tmp_path):
    small = tmp_path / "small.ring"
    with Ring.create(small, 4096, readers=16) as ring:
        assert ring.stats()["version"] == (1, 1)
    assert os.path.getsize(small) == 4096 + 4096  # 16 slots fit a 4 KiB header
    big = tmp_path / "big.ring"
    with Ring.create(big, 4096, readers=17) as ring:
        assert ring.reader_slots == 17
    assert os.path.getsize(big) == 8192 + 4096
    with Ring.create(tmp_path / "max.ring", 4096, readers=496) as ring:
        assert ring.reader_slots == 496
    with pytest.raises(ValueError):
        Ring.create(tmp_path / "too-many.ring", 4096, readers=497)
    with pytest.raises(ValueError):
        Ring.create(tmp_path / "negative.ring", 4096, readers=-1)
    with pytest.raises(TypeError):
        Ring.create(tmp_path / "str.ring", 4096, readers="4")
    with Ring.create(tmp_path / "pos.ring", 4096, readers=2, initial_position=(1 << 32) - 80) as ring:
        reader = ring.reader()
        for i in range(4):
            ring.put(b"%d" % i * 20)  # records of 40 bytes: two before 2**32, two after
        assert ring.stats()["producer_position"] == (1 << 32) - 80 + 4 * 40
        assert reader.get_many(10) == [b"%d" % i * 20 for i in range(4)]
        assert ring.readers()[0].cursor == (1 << 32) - 80 + 4 * 40
    with Ring.create(tmp_path / "v10.ring", 4096, readers=0) as ring:
        assert ring.reader_slots == 0 and ring.stats()["version"] == (1, 0)
    # exist_ok: another reader-slot count is another geometry.
    with Ring.create(small, 4096, readers=16, exist_ok=True) as ring:
        assert ring.reader_slots == 16
    for other in (8, 0):
        with pytest.raises(ValueError, match="reader slots"):
            Ring.create(small, 4096, readers=other, exist_ok=True)
    with Ring.create(small, 4096, readers=8, exist_ok=True, any_geometry=True) as ring:
        assert ring.reader_slots == 16
    with Ring.open(small) as ring:
        assert ring.reader_slots == 16 and "reader_slots=16" in repr(ring)


def test_stats_and_len_of_a_ring_with_readers(ring_path):
    """consumer_position is tailPosition there: readers do not move it, reclaiming does."""
    with Ring.create(ring_path, 4096, OVERWRITE, readers=2) as ring:
        r = ring.reader(gating=False)
        for i in range(5):
            ring.put(b"%d" % i * 10)
        assert r.get_many(5) == [b"%d" % i * 10 for i in range(5)]
        s = ring.stats()
        assert s["consumer_position"] == 0 and s["message_count"] == 5 and len(ring) == 5
        assert s["used_bytes"] == s["producer_position"]
        i = 5
        while ring.stats()["dropped_count"] == 0:
            ring.put(b"%d" % i * 10)
            i += 1
        s = ring.stats()
        assert s["consumer_position"] > 0 and len(ring) == s["message_count"] == i - s["dropped_count"]
        assert s["used_bytes"] == s["producer_position"] - s["consumer_position"]
        [info] = ring.readers()
        assert info.cursor == 5 * 32 and info.lag_bytes == s["producer_position"] - info.cursor
        assert info.missed_count == 0 and info.live and not info.gating and info.name is None and info.slot == 0


# --- the handle ----------------------------------------------------------------------------------


def test_a_reader_keeps_its_ring_alive_and_outlives_ring_close(ring_path):
    ring = Ring.create(ring_path, 4096, REJECT, readers=2)
    reader = ring.reader()
    assert reader.ring is ring
    for i in range(3):
        ring.put(b"k%d" % i)
    del ring
    gc.collect()
    assert reader.get(timeout=0) == b"k0"
    reader.ring.close()  # the Ring's handle goes; the reader is a handle of its own
    assert reader.peek_all() == [b"k1", b"k2"]
    assert reader.get_many(10) == [b"k1", b"k2"]
    assert reader.try_get() is None
    with reader:
        pass
    assert reader.closed


def test_a_dropped_reader_frees_its_slot(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=1) as ring:
        r = ring.reader()
        with pytest.raises(BusyError):
            ring.reader()
        del r
        gc.collect()
        ring.reader().close()


def test_one_reader_shared_by_threads_delivers_each_message_once(ring_path):
    count = 3000
    with Ring.create(ring_path, 1 << 16, REJECT, readers=2) as ring:
        reader = ring.reader()
        got: list = []
        lock = threading.Lock()

        def take():
            while True:
                try:
                    m = reader.get(timeout=10)
                except EndOfStreamError:
                    return
                with lock:
                    got.append(int(m))

        threads = [threading.Thread(target=take) for _ in range(3)]
        for t in threads:
            t.start()
        for i in range(count):
            ring.put(b"%d" % i)
        ring.close_writer()
        for t in threads:
            run_with_deadline(t.join, 30, "a reader thread")
        assert sorted(got) == list(range(count))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_inherited_reader_raises_forked_error_in_the_child(ring_path):
    from test_fork import in_child

    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        reader = ring.reader()
        ring.put(b"parent's")

        def child():
            for call in (lambda: reader.get(timeout=0), reader.try_get, reader.peek_all,
                         lambda: reader.missed_count, lambda: ring.reader(), ring.readers):
                try:
                    call()
                except ForkedError:
                    continue
                raise AssertionError(f"{call} did not raise ForkedError in the child")
            reader.close()  # only forgets the handle: the slot stays the parent's

        in_child(child)
        assert reader.get(timeout=0) == b"parent's"
        assert [r.live for r in ring.readers()] == [True]


def test_leave_gives_a_durable_name_up(ring_path):
    with Ring.create(ring_path, 4096, REJECT, readers=2) as ring:
        ring.put(b"one")
        r = ring.reader("audit")
        assert r.get() == b"one"
        r.close()
        assert [i.name for i in ring.readers()] == ["audit"]      # close keeps the name
        back = ring.reader("audit")
        back.leave()
        assert ring.readers() == [] and back.closed               # leave gives it up
        with pytest.raises(ClosedError):
            back.get()
        fresh = ring.reader("audit")                               # starts afresh, at the oldest
        assert fresh.get() == b"one" and fresh.missed_count == 0
