"""Several producers of one ring (format 1.1, SPEC.md §18) through ringpy: Ring.create(producers=N),
Ring.producer_slots, Ring.producers() / ProducerInfo, and the usual write APIs on a shared ring.

Every message is self-checking: bytes 0..7 carry its index, ``producer << 32 | i`` (little
endian), the bytes after them are a function of the index, and the last 4 bytes are the CRC-32
of the rest. A reader checks each message it is given against its index (so a torn, mixed or
misplaced message fails), and keeps, per producer, the next index it expects:

- a consumer or gating reader gets every message exactly once, whole, and each producer's
  messages in that producer's order: received == produced;
- a lapping reader gets each producer's messages in order, with gaps, and received +
  missed_count == produced.

The producers are processes of the 'spawn' start method, each opening the ring itself, each
writing through another API (put, put_many, try_put, put_async: ringpy has no zero-copy write,
and put_async waits for room with a reservation that it gives back, which on a shared ring
is a claim cancelled by its own producer).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field

import pytest

import ringpy
from ringpy import BusyError, EmptyError, EndOfStreamError, Policy, ProducerInfo, Ring

LONG = os.environ.get("RING_RACE_LONG", "") not in ("", "0")
PRODUCERS = 4
COUNT = 100_000 if LONG else 20_000
APIS = ("put", "put_many", "try_put", "put_async")
REJECT = Policy.REJECT_WHEN_FULL
OVERWRITE = Policy.OVERWRITE_OLDEST


# --- self-checking messages ------------------------------------------------------------------


def message(index: int) -> bytes:
    """The message of index ``producer << 32 | i``: the index, 0 to 199 bytes derived from it,
    and the CRC-32 of both."""
    n = ((index * 2654435761) >> 7) % 200
    word = ((index * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little")
    head = index.to_bytes(8, "little") + (word * (n // 8 + 1))[:n]
    return head + zlib.crc32(head).to_bytes(4, "little")


def index_of(data) -> int | None:
    """The index of a message that passes its self-check, else None."""
    data = bytes(data)
    if len(data) < 12 or zlib.crc32(data[:-4]) != int.from_bytes(data[-4:], "little"):
        return None
    index = int.from_bytes(data[:8], "little")
    return index if data == message(index) else None


@dataclass
class Tally:
    """What one consumer or reader received, checked message by message."""

    name: str
    producers: int
    count: int
    #: A gating reader or consumer: every message, no gaps.
    complete: bool = True
    received: int = 0
    #: Messages that follow one of another producer: how interleaved the stream was.
    switches: int = 0
    last: int = -1
    ended: bool = False
    next: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.next = [0] * self.producers

    def problem(self, text: str) -> None:
        if len(self.problems) < 8:
            self.problems.append(text)

    def take(self, data) -> None:
        index = index_of(data)
        if index is None:
            self.problem(f"message {self.received}: {len(data)} bytes that fail their check (torn or mixed)")
            return
        p, i = index >> 32, index & 0xFFFF_FFFF
        if p >= self.producers or i >= self.count:
            self.problem(f"message {self.received}: index {p}:{i} was never produced")
            return
        if i < self.next[p] or (self.complete and i != self.next[p]):
            self.problem(f"message {self.received}: producer {p}'s message {i} where {self.next[p]} was next")
        self.next[p] = i + 1
        self.received += 1
        self.switches += p != self.last
        self.last = p

    def summary(self) -> str:
        return (f"{self.name}: received {self.received} of {self.producers * self.count}, next {self.next}, "
                f"ended {self.ended}, problems {self.problems}")


def drain(source, tally: Tally, deadline: float, api: str = "get_many", pause_every: int = 0) -> None:
    """Reads from a Ring or Reader until the end of the stream (or the deadline)."""
    rng = random.Random(tally.name)
    while time.monotonic() < deadline:
        try:
            if api == "get_many":
                batch = source.get_many(256, timeout=1.0)
            else:
                try:
                    batch = [source.get(timeout=1.0)]
                except EmptyError:
                    batch = []
        except EndOfStreamError:
            tally.ended = True
            return
        for m in batch:
            tally.take(m)
            if pause_every and tally.received % pause_every == 0:
                time.sleep(rng.uniform(0.005, 0.02))  # a slow reader: lapped meanwhile


# --- producer processes ('spawn') ---------------------------------------------------------


def _produce(path: str, p: int, count: int, api: str, barrier, result) -> None:
    """A producer process: opens the ring, takes a slot, waits for the others, writes
    messages p:0 .. p:count-1 through api, checks its slot's counts, ends its stream."""
    import ringpy as rp

    try:
        with rp.Ring.open(path) as ring:
            ring.put(message(p << 32))  # takes the slot before the start
            barrier.wait(60)
            if api == "put":
                for i in range(1, count):
                    ring.put(message(p << 32 | i), timeout=60)
            elif api == "put_many":
                rng = random.Random(p)
                i = 1
                while i < count:
                    n = min(count - i, rng.randint(1, 100))
                    written = ring.put_many([message(p << 32 | k) for k in range(i, i + n)], timeout=60)
                    assert written == n, (written, n)
                    i += n
            elif api == "try_put":
                for i in range(1, count):
                    m = message(p << 32 | i)
                    while not ring.try_put(m):
                        time.sleep(0)
            elif api == "put_async":
                async def run() -> None:
                    for i in range(1, count):
                        await ring.put_async(message(p << 32 | i), timeout=60)
                asyncio.run(run())
            else:
                raise ValueError(api)
            # Some live slot (its own) committed exactly its messages: each slot of this new
            # ring has one holder, and a slot's counts are the slot's.
            mine = [info for info in ring.producers() if info.live and info.committed_count == count]
            ring.close_writer()
        result.put((p, "ok", count, [tuple(info) for info in mine]))
    except BaseException as e:  # noqa: BLE001 - reported to the test
        result.put((p, "error", f"{type(e).__name__}: {e}", []))


def run_producers(path, count: int, apis=APIS):
    """Starts one spawn producer process per api, each with its own slot; returns
    (processes, barrier, result queue). The caller waits on the barrier (its last party)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(apis) + 1)
    result = ctx.Queue()
    procs = [ctx.Process(target=_produce, args=(str(path), p, count, api, barrier, result), daemon=True)
             for p, api in enumerate(apis)]
    for proc in procs:
        proc.start()
    return procs, barrier, result


def finish_producers(procs, result, count: int) -> list:
    """Collects every producer's outcome and checks it wrote its count."""
    outcomes = []
    try:
        for _ in procs:
            outcomes.append(result.get(timeout=120))
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
                proc.join()
    bad = [o for o in outcomes if o[1] != "ok"]
    assert not bad, f"producers failed: {bad}"
    assert sorted(o[0] for o in outcomes) == list(range(len(procs)))
    assert all(proc.exitcode == 0 for proc in procs), [proc.exitcode for proc in procs]
    for p, _, produced, mine in outcomes:
        assert produced == count
        assert mine, f"producer {p} did not find its own slot with {count} committed in Ring.producers()"
    return outcomes


# --- (a) four producers, one consumer -------------------------------------------------------


def test_four_producer_processes_one_consumer(ring_path):
    """4 spawn producers (put, put_many, try_put, put_async) x COUNT messages into a 64 KiB
    ring, one consumer: every message once, whole, in each producer's order, and the stream
    ends only after the last producer's close_writer()."""
    with Ring.create(ring_path, 1 << 16, producers=PRODUCERS) as ring:
        assert ring.producer_slots == PRODUCERS
        procs, barrier, result = run_producers(ring_path, COUNT)
        tally = Tally("consumer", PRODUCERS, COUNT)
        start = time.monotonic()
        try:
            barrier.wait(120)
            drain(ring, tally, start + 300)
        finally:
            outcomes = finish_producers(procs, result, COUNT)
        elapsed = time.monotonic() - start
        print(f"{PRODUCERS} producers x {COUNT}: {tally.received} messages in {elapsed:.2f} s, "
              f"{tally.switches} producer switches; slots before close_writer: {[o[3] for o in outcomes]}")
        assert not tally.problems, tally.summary()
        assert tally.ended, tally.summary()
        assert tally.received == PRODUCERS * COUNT == sum(o[2] for o in outcomes), tally.summary()
        assert tally.next == [COUNT] * PRODUCERS, tally.summary()
        assert tally.switches > 100, f"the producers hardly overlapped: {tally.summary()}, {tally.switches} switches"
        s = ring.stats()
        assert s["writer_closed"] and s["message_count"] == 0 and s["producer_slots"] == PRODUCERS, s


# --- (b) four producers, a gating and a lapping reader -------------------------------------


def test_four_producer_processes_two_readers(ring_path):
    """The same with a ring that has 2 readers: the gating one gets everything, the lapping one
    (slow) gets each producer's messages in order and received + missed_count == produced."""
    produced = PRODUCERS * COUNT
    with Ring.create(ring_path, 1 << 16, readers=2, producers=PRODUCERS) as ring:
        assert (ring.reader_slots, ring.producer_slots) == (2, PRODUCERS)
        gating, lapping = ring.reader(), ring.reader(gating=False)
        tallies = [Tally("gating", PRODUCERS, COUNT), Tally("lapping", PRODUCERS, COUNT, complete=False)]
        errors: list = []
        procs, barrier, result = run_producers(ring_path, COUNT)
        start = time.monotonic()

        def body(reader, tally, api, pause_every):
            try:
                drain(reader, tally, start + 300, api, pause_every)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(f"{tally.name}: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=body, args=(gating, tallies[0], "get_many", 0), daemon=True),
                   threading.Thread(target=body, args=(lapping, tallies[1], "get", 500), daemon=True)]
        try:
            for t in threads:
                t.start()
            barrier.wait(120)
            for t in threads:
                t.join(310)
        finally:
            finish_producers(procs, result, COUNT)
        assert not any(t.is_alive() for t in threads), [t.summary() for t in tallies]
        assert not errors, errors
        missed = lapping.missed_count
        elapsed = time.monotonic() - start
        print(f"{PRODUCERS} producers x {COUNT} to 2 readers in {elapsed:.2f} s: gating {tallies[0].received}, "
              f"lapping {tallies[1].received} + missed {missed}")
        for t in tallies:
            assert not t.problems, t.summary()
            assert t.ended, t.summary()
        assert tallies[0].received == produced and tallies[0].next == [COUNT] * PRODUCERS, tallies[0].summary()
        assert gating.missed_count == 0
        assert tallies[1].received + missed == produced, (tallies[1].summary(), missed)
        assert missed > 0, "the slow lapping reader was never lapped: the test did not test lapping"
        # (Its per-producer `next` may stop short of COUNT: a producer that finished early had its
        # last messages reclaimed by the others' later ones while the slow reader was lapped.)
        gating.close()
        lapping.close()


# --- (c) slots and arguments ------------------------------------------------------------------


def test_a_fifth_producer_on_four_slots_is_busy(ring_path):
    with Ring.create(ring_path, 1 << 14, producers=4) as ring:
        assert ring.producers() == []
        writers = [Ring.open(ring_path) for _ in range(4)]
        try:
            for k, w in enumerate(writers):
                w.put(message(k << 32))
            fifth = Ring.open(ring_path)
            with pytest.raises(BusyError, match="producer"):
                fifth.put(b"fifth")
            with pytest.raises(BusyError):
                fifth.try_put(b"fifth")
            with pytest.raises(BusyError):
                fifth.put_many([b"fifth"])
            infos = ring.producers()
            assert len(infos) == 4 and all(isinstance(i, ProducerInfo) for i in infos), infos
            assert sorted(i.slot for i in infos) == [0, 1, 2, 3]
            assert all(i.live and not i.held and i.claim_start is None for i in infos), infos
            assert sorted(i.committed_count for i in infos) == [1, 1, 1, 1]
            assert all(i.cancelled_count == 0 for i in infos), infos
            # A slot given up (close) is taken by the next producer.
            writers[2].close()
            assert len(ring.producers()) == 3
            fifth.put(message(4 << 32))
            assert len(ring.producers()) == 4
            got = sorted(index_of(m) for m in ring.get_many(10))
            assert got == sorted(k << 32 for k in range(5))
            fifth.close()
        finally:
            for w in writers:
                w.close()
        assert ring.producers() == []


def test_create_with_producers(tmp_path):
    path = tmp_path / "p.ring"
    with Ring.create(path, 4096, producers=16) as ring:
        assert ring.producer_slots == 16 and ring.reader_slots == 0
        s = ring.stats()
        assert s["version"] == (1, 1) and s["producer_slots"] == 16, s
        assert "producer_slots=16" in repr(ring)
        ring.put(b"one")
        assert ring.get() == b"one"
    with Ring.open(path) as ring:
        assert ring.producer_slots == 16
    for bad in (17, 1000, 1 << 40, -1):
        with pytest.raises(ValueError):
            Ring.create(tmp_path / f"bad{bad}.ring", 4096, producers=bad)
    with pytest.raises(TypeError):
        Ring.create(tmp_path / "str.ring", 4096, producers="4")
    for n in (1, 4, 16):
        with pytest.raises(ValueError):
            Ring.create(tmp_path / f"ow{n}.ring", 4096, OVERWRITE, producers=n)
        with pytest.raises(ValueError):
            Ring.create(tmp_path / f"owr{n}.ring", 4096, OVERWRITE, readers=2, producers=n)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("bad", "ow", "str"))], "a failed create left a file"
    # exist_ok: another producer-slot count is another geometry.
    with Ring.create(path, 4096, producers=16, exist_ok=True) as ring:
        assert ring.producer_slots == 16
    for other in (4, 0):
        with pytest.raises(ValueError):
            Ring.create(path, 4096, producers=other, exist_ok=True)
    with Ring.create(path, 4096, producers=2, exist_ok=True, any_geometry=True) as ring:
        assert ring.producer_slots == 16
    # Readers and producers together; and neither (1.0) has no producer table.
    with Ring.create(tmp_path / "both.ring", 4096, readers=3, producers=2) as ring:
        assert (ring.reader_slots, ring.producer_slots) == (3, 2)
        assert ring.stats()["version"] == (1, 1)
    with Ring.create(tmp_path / "v10.ring", 4096, producers=0) as ring:
        assert ring.producer_slots == 0 and ring.producers() == [] and ring.stats()["version"] == (1, 0)
        assert "producer_slots" not in repr(ring)
    # initial_position on a ring with producers (positions past 2**32).
    with Ring.create(tmp_path / "pos.ring", 4096, producers=2, initial_position=(1 << 32) - 96) as ring:
        w = Ring.open(tmp_path / "pos.ring")
        for k in range(8):
            (ring if k % 2 else w).put(message(k % 2 << 32 | k // 2))
        assert ring.stats()["producer_position"] > 1 << 32
        got = [index_of(m) for m in ring.get_many(10)]
        assert sorted(got) == sorted(k % 2 << 32 | k // 2 for k in range(8)), got
        w.close()


def test_single_producer_ring_keeps_its_single_producer_role(ring_path):
    """Without a producer table a second writer is BusyError at once, as before."""
    with Ring.create(ring_path, 4096) as ring, Ring.open(ring_path) as other:
        ring.put(b"a")
        with pytest.raises(BusyError):
            other.put(b"b")
        assert ring.producers() == [] and ring.producer_slots == 0


# --- (d) end of stream ------------------------------------------------------------------------


def test_the_stream_ends_after_the_last_producers_close_writer(ring_path):
    with Ring.create(ring_path, 1 << 14, producers=2) as ring:
        a, b = Ring.open(ring_path), Ring.open(ring_path)
        try:
            a.put(message(0 << 32 | 0))
            b.put(message(1 << 32 | 0))
            a.close_writer()
            assert not ring.stats()["writer_closed"], "b is still writing"
            assert sorted(index_of(m) for m in ring.get_many(10)) == [0, 1 << 32]
            with pytest.raises(EmptyError):
                ring.get(timeout=0.2)  # not EndOfStreamError: b has not ended
            b.put(message(1 << 32 | 1))
            assert index_of(ring.get(timeout=1)) == 1 << 32 | 1
            b.put(message(1 << 32 | 2))
            b.close_writer()
            assert ring.stats()["writer_closed"]
            assert index_of(ring.get(timeout=1)) == 1 << 32 | 2, "drained before the end"
            with pytest.raises(EndOfStreamError):
                ring.get(timeout=1)
            with pytest.raises(EndOfStreamError):
                ring.get_many(10)
        finally:
            a.close()
            b.close()


def test_a_producer_that_only_closes_leaves_the_stream_open(ring_path):
    with Ring.create(ring_path, 1 << 14, producers=2) as ring:
        a, b = Ring.open(ring_path), Ring.open(ring_path)
        a.put(b"a")
        b.put(b"b")
        a.close_writer()
        b.close()  # the last producer leaves without close_writer: the stream stays open
        assert ring.get_many(10) == [b"a", b"b"]
        assert not ring.stats()["writer_closed"]
        with pytest.raises(EmptyError):
            ring.get(timeout=0.1)
        # A new producer joins, writes and ends the stream.
        with Ring.open(ring_path) as c:
            c.put(b"c")
            c.close_writer()
        assert ring.get(timeout=1) == b"c"
        with pytest.raises(EndOfStreamError):
            ring.get(timeout=1)


def test_end_of_stream_across_producer_processes(ring_path):
    """Two spawn producers: the consumer reads both streams whole, whichever ends first."""
    with Ring.create(ring_path, 1 << 14, producers=2) as ring:
        procs, barrier, result = run_producers(ring_path, 3000, apis=("put", "put_many"))
        tally = Tally("consumer", 2, 3000)
        try:
            barrier.wait(120)
            drain(ring, tally, time.monotonic() + 120)
        finally:
            finish_producers(procs, result, 3000)
        assert not tally.problems and tally.ended and tally.next == [3000, 3000], tally.summary()


# --- (e) a killed (and a stopped) producer ---------------------------------------------------

CHILD = r"""
import json, sys, ringpy
ring = ringpy.Ring.open(sys.argv[1])
ring.put(bytes.fromhex(sys.argv[2]), timeout=30)  # SIGSTOPs itself inside (RINGFORMAT_TEST_STOP_AT)
print(json.dumps([list(i) for i in ring.producers()]), flush=True)
ring.close()
"""


def start_stopping_child(path, data: bytes, step: str = "written") -> subprocess.Popen:
    env = dict(os.environ, RINGFORMAT_TEST_STOP_AT=step)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), data.hex()], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail(f"the child exited ({child.returncode}) instead of stopping at {step!r}: {out} {err}")
        if proc_state(child.pid) == "T":
            return child
        time.sleep(0.005)
    child.kill()
    pytest.fail(f"the child did not stop at {step!r} within 30 s")


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def read_until(ring, tally: Tally, want: int, deadline: float) -> None:
    while tally.received < want and time.monotonic() < deadline:
        try:
            tally.take(ring.get(timeout=max(0.0, deadline - time.monotonic())))
        except EmptyError:
            break


@pytest.mark.parametrize("step", ["claimed", "stamped", "written", "committed"])
def test_a_killed_producer_costs_the_others_nothing(step, ring_path):
    """Producer 1 stops itself at `step` of a shared write (with its claim at the front), is
    SIGKILLed; producer 0's messages written before and after reach the consumer within 1 s
    of the kill, whole; producer 1's message only if it had committed it."""
    with Ring.create(ring_path, 1 << 16, producers=2) as ring, Ring.open(ring_path) as writer:
        tally = Tally("consumer", 2, 1000)
        for i in range(10):
            writer.put(message(i))
        read_until(ring, tally, 10, time.monotonic() + 5)
        assert tally.received == 10 and not tally.problems, tally.summary()
        child = start_stopping_child(ring_path, message(1 << 32), step)
        try:
            infos = ring.producers()
            assert any(i.live and i.claim_start is not None for i in infos), f"no claim in progress: {infos}"
            for i in range(10, 30):
                writer.put(message(i), timeout=5)  # claimed behind the stopped claim
        finally:
            child.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            child.communicate()
        read_until(ring, tally, 30 + (step == "committed"), killed + 1.0)
        elapsed = time.monotonic() - killed
        print(f"stopped at {step}, killed: {tally.received - 10} messages {elapsed * 1000:.0f} ms after the kill")
        assert not tally.problems, tally.summary()
        assert tally.next[0] == 30, f"producer 0's messages not all read within 1 s of the kill: {tally.summary()}"
        assert tally.next[1] == (1 if step == "committed" else 0), tally.summary()
        assert elapsed < 1.0
        # The ring goes on: the dead slot is free for the next producer, and nothing more comes.
        after = tally.next[1]  # producer 1's next message: its first one unless it was committed
        with Ring.open(ring_path) as third:
            third.put(message(1 << 32 | after))
            writer.put(message(30))
            read_until(ring, tally, tally.received + 2, time.monotonic() + 1)
        assert not tally.problems and tally.next == [31, after + 1], tally.summary()
        with pytest.raises(EmptyError):
            ring.get(timeout=0.05)
        assert not [i for i in ring.producers() if i.claim_start is not None], ring.producers()


def test_a_stopped_producer_is_passed_after_the_claim_timeout_and_writes_again(ring_path):
    """Producer 1 stops itself with its records written, uncommitted: the consumer gets producer
    0's later messages after the claim timeout (1 s, SPEC.md §18.7), and once producer 1 resumes
    its message arrives exactly once, whole (its cancelled claim is written again)."""
    with Ring.create(ring_path, 1 << 16, producers=2) as ring, Ring.open(ring_path) as writer:
        tally = Tally("consumer", 2, 1000)
        child = start_stopping_child(ring_path, message(1 << 32), "written")
        try:
            stopped = time.monotonic()
            for i in range(20):
                writer.put(message(i), timeout=5)
            read_until(ring, tally, 20, stopped + 5)
            waited = time.monotonic() - stopped
            assert not tally.problems and tally.next == [20, 0], tally.summary()
            assert 0.9 < waited < 3.0, f"passed the stopped claim after {waited:.3f} s"
            held = [i for i in ring.producers() if i.held]
            assert len(held) == 1 and held[0].live and held[0].claim_start is not None, ring.producers()
            os.kill(child.pid, signal.SIGCONT)
            out, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        assert child.returncode == 0, err
        read_until(ring, tally, 21, time.monotonic() + 2)
        assert not tally.problems and tally.next == [20, 1], tally.summary()
        with pytest.raises(EmptyError):
            ring.get(timeout=0.05)
        mine = [ProducerInfo(*i) for i in json.loads(out)]
        assert any(i.cancelled_count == 1 and i.committed_count == 1 for i in mine), mine
        print(f"stopped producer passed after {waited * 1000:.0f} ms; its own slot after resuming: {mine}")


# --- producers killed at random instructions, mid-stream ---------------------------------------

KILLER_CHILD = r"""
import mmap, struct, sys, time, ringpy
from test_producers import message
ring = ringpy.Ring.open(sys.argv[1])
p = int(sys.argv[2])
with open(sys.argv[3], "r+b") as f:
    done = mmap.mmap(f.fileno(), 8)  # 1 + the last i whose put returned (survives SIGKILL)
deadline = time.monotonic() + 5
while True:  # a slot a killed producer left may be busy for a moment while its claim is settled
    try:
        ring.put(message(p << 32), timeout=10)
        break
    except ringpy.BusyError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.001)
done[:8] = struct.pack("<Q", 1)
print("ready", flush=True)
i = 1
while True:
    ring.put(message(p << 32 | i), timeout=10)
    i += 1
    done[:8] = struct.pack("<Q", i)
"""


def _survive(path: str, p: int, api: str, stop, result) -> None:
    """A producer process that writes until `stop` is set, then ends its part of the stream."""
    import ringpy as rp

    try:
        with rp.Ring.open(path) as ring:
            i = 0
            while not stop.is_set():
                if api == "put_many":
                    ring.put_many([message(p << 32 | k) for k in range(i, i + 16)], timeout=30)
                    i += 16
                else:
                    ring.put(message(p << 32 | i), timeout=30)
                    i += 1
                if i % 512 < (16 if api == "put_many" else 1):
                    time.sleep(0.002)  # leave the consumer and the killed producers some room
            ring.close_writer()
        result.put((p, "ok", i))
    except BaseException as e:  # noqa: BLE001 - reported to the test
        result.put((p, "error", f"{type(e).__name__}: {e}"))


def test_producers_killed_at_random_lose_nothing_of_the_others(ring_path):
    """Two spawn producers write while producer processes are started and SIGKILLed at random
    moments (at any instruction of a write) one after another, reusing the dead ones' slots:
    the consumer gets every message of the survivors, and of each killed producer exactly a
    prefix (every message whose put returned, and the one in flight if it was committed), whole
    and in order, never waiting 1 s for a dead claim."""
    kills = 40 if LONG else 12
    first_killed = 3
    with Ring.create(ring_path, 1 << 15, producers=4) as ring, Ring.open(ring_path) as closer:
        closer.put(message(2 << 32))  # producer 2 holds a slot until the end: it ends the stream
        tally = Tally("consumer", first_killed + kills, 1 << 31)
        arrivals: list = []
        errors: list = []

        def consume():
            try:
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    try:
                        batch = ring.get_many(256, timeout=1.0)
                    except EndOfStreamError:
                        tally.ended = True
                        return
                    now = time.monotonic()
                    for m in batch:
                        tally.take(m)
                    if batch:
                        arrivals.append(now)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(f"consumer: {type(e).__name__}: {e}")

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        ctx = multiprocessing.get_context("spawn")
        stop, result = ctx.Event(), ctx.Queue()
        survivors = [ctx.Process(target=_survive, args=(str(ring_path), p, api, stop, result), daemon=True)
                     for p, api in ((0, "put"), (1, "put_many"))]
        for proc in survivors:
            proc.start()
        # Both survivors write before the first kill (else, while they start, a killed
        # producer would be the only writer and the consumer would wait for the next one).
        started = time.monotonic()
        while min(tally.next[:2]) == 0:
            assert time.monotonic() - started < 60, f"the survivors did not start: {tally.summary()}"
            time.sleep(0.01)
        rng = random.Random(1234)
        window = [0.0, 0.0]  # while producers are killed
        returned = {}  # killed producer -> how many of its puts returned
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__)] + sys.path))
        try:
            for k in range(kills):
                p = first_killed + k
                counter = ring_path.parent / f"returned-{p}"
                counter.write_bytes(bytes(8))
                child = subprocess.Popen([sys.executable, "-c", KILLER_CHILD, str(ring_path), str(p), str(counter)],
                                         env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                line = child.stdout.readline()
                if line != "ready\n":
                    child.kill()
                    out, err = child.communicate()
                    pytest.fail(f"killed producer {p} did not start: {line!r} {out} {err}")
                window[0] = window[0] or time.monotonic()
                time.sleep(rng.uniform(0.0, 0.05))
                child.send_signal(signal.SIGKILL)
                child.communicate()
                returned[p] = int.from_bytes(counter.read_bytes(), "little")
            window[1] = time.monotonic()
        finally:
            stop.set()
            outcomes = [result.get(timeout=60) for _ in survivors]
            for proc in survivors:
                proc.join(30)
        assert all(o[1] == "ok" for o in outcomes), outcomes
        closer.close_writer()
        reader.join(60)
        assert not reader.is_alive() and not errors, (errors, tally.summary())
        assert not tally.problems, tally.summary()
        assert tally.ended, tally.summary()
        produced = dict((o[0], o[2]) for o in outcomes)
        assert tally.next[:3] == [produced[0], produced[1], 1], tally.summary()
        killed = tally.next[first_killed:]
        lost = {p: (returned[p], tally.next[p]) for p in returned if not returned[p] <= tally.next[p] <= returned[p] + 1}
        assert not lost, f"killed producers' messages lost or invented (puts returned, delivered): {lost}"
        during = [t for t in arrivals if window[0] <= t <= window[1]]
        gaps = [b - a for a, b in zip(during, during[1:])]
        assert len(during) > 100, f"only {len(during)} batches arrived while producers were killed"
        print(f"{kills} producers killed; survivors wrote {produced}; killed ones' prefixes {killed}; "
              f"{tally.received} messages, longest wait between batches {max(gaps) * 1000:.0f} ms; "
              f"slots now {ring.producers()}")
        assert max(gaps) < 1.0, "the consumer waited 1 s or more: a dead producer's claim held the front"
        assert not [i for i in ring.producers() if i.claim_start is not None or i.held], ring.producers()
