#!/usr/bin/env python3
"""Typed rings (issue #16): ringpy.ItemRing of float64 beside the NumPy ring buffers of
mm-toolbox 0.2.1 and numpy_ringbuffer, in the same run.

Cases (float64 items, overwrite-oldest rings, all in this process but the last):

  insert       one item per call, items/s: a pre-built list of Python floats, each
               inserted with one call into a ring of INSERT_CAPACITY items.
  insert_many  batches of 10,000 items, items/s, into a ring of BATCH_CAPACITY items.
  unwrapped    oldest to newest of a full ring of N items (N = 1e3, 1e4, 1e5, 1e6; every
               implementation gets as many items as our ring holds for N, which may round
               N up), seconds per call, the call repeated for at least UNWRAP_MIN_TIME. The
               ring is filled with N + N/3 items first, so that its oldest item is not in
               slot 0 (a ring whose oldest item is in slot 0 can hand out a slice of its
               array without copying; a ring that has wrapped cannot, unless
               double-mapped). "view": two calls return the same memory (no copy).
  stream       cross-process float64 streaming, GB/s (10**9 bytes/s): a producer process
               inserts batches, a consumer process reads them, through
                 ringpy         ItemRing over a file in /dev/shm (reject-when-full):
                                insert_many / consume_view (in place, no copy out)
                 ringpy-bytes   Ring over a file in /dev/shm, the same bytes as records of
                                --record-bytes: put_many / get_many
               beside memcpy: numpy.copyto of a 64 MiB float64 array, repeated, in this
               process, in the same run (the bandwidth baseline).

The calls of each implementation (mm-toolbox 0.2.1 has no NumericRingBuffer: that class
came later; its float rings are RingBufferSingleDimFloat, a numba jitclass of float64, and
RingBufferMultiDim, NumPy in Python, any dtype):

  ringpy                     ItemRing.anonymous(float64, n, policy=OVERWRITE_OLDEST)
                             (--backing file: ItemRing.create in /dev/shm): insert,
                             insert_many, unwrapped()
  mm-toolbox/SingleDimFloat  RingBufferSingleDimFloat(n): append, append in a loop (no
                             batch insert), as_array()
  mm-toolbox/MultiDim        RingBufferMultiDim(n, numpy.float64): append, append in a
                             loop (no batch insert), as_array()
  numpy_ringbuffer           RingBuffer(n, dtype=numpy.float64): append, extend,
                             numpy.asarray(ring) (its __array__, which copies)

The peers have no cross-process ring: their stream records say so. A peer's "append in a
loop" iterates over a pre-built list of Python floats (its best case). Each numba method is
called once before any clock starts (its compilation is not timed).

Every case checks its data arrived: insert and insert_many compare the ring's contents
(oldest to newest) with the values inserted last; unwrapped compares one whole result with
the values inserted, and the length and ends of the last result of each run; the stream
consumer checks the first and last item of every batch it receives against its place in
the stream (item s is s mod POOL_BATCHES * batch), the exact sum of all items and their
count, and that the stream then ends (EndOfStreamError). The data are deterministic (no
random numbers).

Each figure is the median of --runs runs, with min and max. Output: a table while it
runs, then the results as one JSON line on stdout (the last line; also written to --json).
If ringpy has no ItemRing yet, its typed figures are reported unavailable and the rest
(peers, the byte-record stream, memcpy) still run.

    .venv-bench/bin/python bench/python/bench_typed.py [--runs 3] [--quick]
        [--cases insert,insert_many,unwrapped,stream] [--impls ringpy,numpy_ringbuffer,...]
        [--sizes 1e3,1e6] [--backing anonymous|file] [--stream-bytes B] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from benchlib import CTX, TMP_PREFIX, BenchError  # noqa: E402

# The typed-ring peers, in benchlib's table so that environment() and measure() know them.
benchlib.PEERS.setdefault("numpy", ("numpy", "numpy"))
benchlib.PEERS.setdefault("mm-toolbox", ("mm-toolbox", "mm_toolbox"))
benchlib.PEERS.setdefault("numpy_ringbuffer", ("numpy_ringbuffer", "numpy_ringbuffer"))

CASES = ("insert", "insert_many", "unwrapped", "stream")
#: implementation: (package of benchlib.PEERS, calls of insert; insert_many; unwrapped)
IMPLS = {
    "ringpy": ("ringpy", "ItemRing.insert; ItemRing.insert_many; ItemRing.unwrapped()"),
    "mm-toolbox/SingleDimFloat": ("mm-toolbox", "RingBufferSingleDimFloat.append; append in a loop "
                                  "(no batch insert); as_array()"),
    "mm-toolbox/MultiDim": ("mm-toolbox", "RingBufferMultiDim.append; append in a loop (no batch insert); "
                            "as_array()"),
    "numpy_ringbuffer": ("numpy_ringbuffer", "RingBuffer.append; RingBuffer.extend; numpy.asarray(ring)"),
}
PEER_IMPLS = tuple(i for i in IMPLS if i != "ringpy")
STREAM_IMPLS = ("ringpy", "ringpy-bytes", "memcpy")

INSERT_CAPACITY = 1 << 16
BATCH = 10_000
BATCH_CAPACITY = 1 << 20
UNWRAP_SIZES = (1_000, 10_000, 100_000, 1_000_000)
#: Items inserted one per call in a run, by implementation (about 0.5-2 s each).
INSERT_COUNTS = {"ringpy": 2_000_000, "mm-toolbox/SingleDimFloat": 500_000, "mm-toolbox/MultiDim": 300_000,
                 "numpy_ringbuffer": 500_000}
#: Batches of BATCH items in a run, by implementation (the peers without a batch insert
#: append each item).
BATCH_COUNTS = {"ringpy": 1_000, "mm-toolbox/SingleDimFloat": 30, "mm-toolbox/MultiDim": 20,
                "numpy_ringbuffer": 500}
#: Each run of unwrapped repeats the call for at least this long (seconds).
UNWRAP_MIN_TIME = 0.2
#: The stream: total bytes of a run, items per insert_many / consume_many, ring capacity.
STREAM_BYTES = 2 << 30
STREAM_BATCH = 32_768  # 256 KiB
STREAM_CAPACITY = 1 << 21  # items: 16 MiB
#: Distinct batches the producer cycles through; item s of the stream is s mod POOL_ITEMS.
POOL_BATCHES = 8
RECORD_BYTES = 65_536
MEMCPY_BYTES = 64 << 20
#: A consume that waits this long for the next items fails the run (items lost).
STALL_TIMEOUT = 20.0
SYNC_TIMEOUT = 60.0
QUICK_SCALE = 0.02
#: Issue #16's targets.
TARGET_INSERT = 2.0  # one item per call, against the fastest peer
TARGET_UNWRAP = 100.0  # unwrapped() of 1 M items, against the fastest peer
TARGET_STREAM = 0.8  # cross-process typed streaming, against memcpy

now = time.monotonic_ns


# ---------------------------------------------------------------------------------------
# The rings


def item_ring_missing() -> str | None:
    """Why ringpy's typed ring cannot be measured, or None if it can."""
    try:
        import ringpy
    except Exception as e:  # noqa: BLE001
        return f"import ringpy failed: {type(e).__name__}: {e}"
    if not hasattr(ringpy, "ItemRing"):
        return (f"ringpy {getattr(ringpy, '__version__', '?')} has no ItemRing (the typed rings of issue #16 "
                "are not in this build)")
    return None


class Made:
    """A ring under test and how to close it (ours: close, then remove its file if any)."""

    def __init__(self, ring, close=None, backing: str | None = None):
        self.ring, self._close, self.backing = ring, close, backing

    def close(self) -> None:
        if self._close is not None:
            self._close()


def ringpy_backing(backing: str) -> str:
    """What ringpy's in-process rings are made on: "anonymous" (ItemRing.anonymous) if asked
    and there, else a file in /dev/shm (ItemRing.create)."""
    import ringpy

    if backing == "anonymous" and hasattr(ringpy.ItemRing, "anonymous"):
        return "anonymous"
    return "file in /dev/shm" + ("" if backing == "file" else " (no ItemRing.anonymous)")


def make_ring(impl: str, capacity: int, backing: str = "anonymous") -> Made:
    """An empty overwrite-oldest float64 ring of capacity items (ours may round it up)."""
    import numpy as np

    if impl == "ringpy":
        import ringpy

        policy = ringpy.Policy.OVERWRITE_OLDEST
        if ringpy_backing(backing) == "anonymous":
            ring = ringpy.ItemRing.anonymous(np.float64, capacity, policy=policy)
            return Made(ring, ring.close, "anonymous")
        path = f"/dev/shm/{TMP_PREFIX}-{next(benchlib.RUN_IDS)}-typed.ring"
        benchlib.remove_quietly(path)
        ring = ringpy.ItemRing.create(path, np.float64, capacity, policy=policy)

        def close():
            ring.close()
            benchlib.remove_quietly(path)

        return Made(ring, close, ringpy_backing(backing))
    if impl == "mm-toolbox/SingleDimFloat":
        from mm_toolbox.ringbuffer import RingBufferSingleDimFloat

        return Made(RingBufferSingleDimFloat(capacity))
    if impl == "mm-toolbox/MultiDim":
        from mm_toolbox.ringbuffer import RingBufferMultiDim

        return Made(RingBufferMultiDim(capacity, np.float64))
    if impl == "numpy_ringbuffer":
        from numpy_ringbuffer import RingBuffer

        return Made(RingBuffer(capacity, dtype=np.float64))
    raise ValueError(impl)


def insert_call(impl: str, ring):
    return ring.insert if impl == "ringpy" else ring.append


def insert_many_call(impl: str, ring):
    """The batch insert of impl (its closest call: append of each item, for mm-toolbox)."""
    if impl == "ringpy":
        return ring.insert_many
    if impl == "numpy_ringbuffer":
        return ring.extend
    append = ring.append

    def each(values):
        for x in values:
            append(x)

    return each


def unwrapped_call(impl: str, ring):
    """The call returning oldest..newest as an ndarray."""
    if impl == "ringpy":
        return ring.unwrapped
    if impl == "numpy_ringbuffer":
        import numpy as np

        asarray = np.asarray

        def unwrap():
            return asarray(ring)  # RingBuffer.__array__: numpy.concatenate of its two parts

        return unwrap
    return ring.as_array


def capacity_of(ring) -> int:
    """Items the ring holds when full (numpy_ringbuffer calls it maxlen)."""
    cap = getattr(ring, "capacity", None)
    return int(cap if cap is not None else ring.maxlen)


#: The peers whose batch insert is append in a loop (they take a list of Python floats).
APPEND_LOOP = ("mm-toolbox/SingleDimFloat", "mm-toolbox/MultiDim")


def warm_up(impl: str) -> None:
    """Compiles the numba methods of mm-toolbox's jitclass (several seconds, once) and
    touches every call of impl once."""
    import numpy as np

    made = make_ring(impl, 64)
    try:
        insert_call(impl, made.ring)(1.0)
        batch = np.arange(100, dtype=np.float64)
        insert_many_call(impl, made.ring)(batch.tolist() if impl in APPEND_LOOP else batch)
        unwrapped_call(impl, made.ring)()
    finally:
        made.close()


def check_tail(impl: str, ring, expected) -> None:
    """The ring's contents, oldest to newest, must be expected (a float64 ndarray)."""
    import numpy as np

    got = np.array(unwrapped_call(impl, ring)(), dtype=np.float64, copy=True)
    if got.shape != expected.shape or not np.array_equal(got, expected):
        raise BenchError(f"{impl}: the ring holds {len(got)} items, {got[:3]}...{got[-3:]}; expected {len(expected)}, "
                         f"{expected[:3]}...{expected[-3:]}")


# ---------------------------------------------------------------------------------------
# In-process cases: one run each


def run_insert(cfg: dict) -> float:
    """Items/s of one item per call."""
    import numpy as np

    impl, count, cap = cfg["impl"], cfg["count"], cfg["capacity"]
    values = (np.arange(count, dtype=np.float64) * 0.5).tolist()
    made = make_ring(impl, cap, cfg["backing"])
    try:
        ins = insert_call(impl, made.ring)
        t0 = time.perf_counter_ns()
        for x in values:
            ins(x)
        dt = (time.perf_counter_ns() - t0) / 1e9
        keep = min(count, capacity_of(made.ring))
        check_tail(impl, made.ring, np.arange(count - keep, count, dtype=np.float64) * 0.5)
    finally:
        made.close()
    return count / dt


def run_insert_many(cfg: dict) -> float:
    """Items/s of batches of BATCH items."""
    import numpy as np

    impl, nb, cap = cfg["impl"], cfg["batches"], cfg["capacity"]
    pool = np.arange(POOL_BATCHES * BATCH, dtype=np.float64).reshape(POOL_BATCHES, BATCH)
    batches = [b.tolist() for b in pool] if impl in APPEND_LOOP else list(pool)
    made = make_ring(impl, cap, cfg["backing"])
    try:
        put = insert_many_call(impl, made.ring)
        t0 = time.perf_counter_ns()
        for k in range(nb):
            put(batches[k % POOL_BATCHES])
        dt = (time.perf_counter_ns() - t0) / 1e9
        total = nb * BATCH
        keep = min(total, capacity_of(made.ring))
        check_tail(impl, made.ring, np.arange(total - keep, total, dtype=np.float64) % (POOL_BATCHES * BATCH))
    finally:
        made.close()
    return total / dt


class Filled:
    """A full ring of about n items whose oldest item is not in slot 0 (filled with
    capacity + capacity // 3 items 0, 1, 2...), for the unwrapped case."""

    def __init__(self, impl: str, n: int, backing: str):
        import numpy as np

        self.made = make_ring(impl, n, backing)
        ring = self.made.ring
        self.items = capacity_of(ring)
        total = self.items + self.items // 3
        values = np.arange(total, dtype=np.float64)
        if impl in ("ringpy", "numpy_ringbuffer"):
            # Batches of at most half the ring: numpy_ringbuffer 0.2.2's extend() of more
            # items than the ring holds does nothing when the ring is empty.
            put, step = insert_many_call(impl, ring), max(1, min(BATCH, self.items // 2))
            for i in range(0, total, step):
                put(values[i : i + step])
        else:
            append = ring.append
            for x in values.tolist():
                append(x)
        self.first, self.last = float(total - self.items), float(total - 1)
        self.call = unwrapped_call(impl, ring)
        a, b = self.call(), self.call()
        self.view = bool(np.shares_memory(a, b))  # two copies never share memory
        if len(a) != self.items or not np.array_equal(a, values[total - self.items :]):
            raise BenchError(f"{impl}: unwrapped() of a full ring of {self.items} items gave {len(a)} items, "
                             f"{a[:2]}...{a[-2:]}; expected {values[total - self.items : total - self.items + 2]}...")
        del a, b
        self.double_mapped = bool(getattr(ring, "is_double_mapped", False)) if impl == "ringpy" else None

    def reps_for(self, min_time: float) -> int:
        """Calls per run: doubled until one run of them takes at least min_time."""
        reps = 1
        while True:
            t0 = time.perf_counter()
            self.time(reps)
            if time.perf_counter() - t0 >= min_time or reps >= 1 << 24:
                return reps
            reps *= 2

    def time(self, reps: int) -> float:
        """Seconds per call over reps calls (each result dropped by the next, as a caller
        would); the last one's length and ends are checked after the clock stops (the ring
        does not change, and __init__ compared a whole result)."""
        call = self.call
        a = None
        t0 = time.perf_counter_ns()
        for _ in range(reps):
            a = call()
        dt = (time.perf_counter_ns() - t0) / 1e9
        if len(a) != self.items or a[0] != self.first or a[-1] != self.last:
            raise BenchError(f"unwrapped() gave {len(a)} items {a[0]}..{a[-1]}; expected {self.items} items "
                             f"{self.first}..{self.last}")
        del a
        return dt / reps

    def close(self) -> None:
        self.made.close()


# ---------------------------------------------------------------------------------------
# The stream: a producer process and a consumer process


def expected_sum(total: int, modulus: int) -> int:
    """sum(s mod modulus for s in range(total))."""
    cycles, rest = divmod(total, modulus)
    return cycles * modulus * (modulus - 1) // 2 + rest * (rest - 1) // 2


def stream_pool(cfg: dict):
    import numpy as np

    return np.arange(POOL_BATCHES * cfg["batch"], dtype=np.float64).reshape(POOL_BATCHES, cfg["batch"])


def typed_prepare(cfg):
    import numpy as np
    import ringpy

    path = f"/dev/shm/{TMP_PREFIX}-{cfg['run_id']}-stream.ring"
    benchlib.remove_quietly(path)
    ringpy.ItemRing.create(path, np.float64, cfg["capacity"], policy=ringpy.Policy.REJECT_WHEN_FULL).close()
    return path


def bytes_prepare(cfg):
    import ringpy

    path = f"/dev/shm/{TMP_PREFIX}-{cfg['run_id']}-stream-bytes.ring"
    ringpy.Ring.create(path, cfg["capacity"] * 8, replace=True).close()
    return path


def typed_producer(cfg, barrier):
    import ringpy

    pool = list(stream_pool(cfg))
    ring = ringpy.ItemRing.open(cfg["endpoint"])
    mapped = bool(ring.is_double_mapped)
    put = ring.insert_many
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    for k in range(cfg["batches"]):
        put(pool[k % POOL_BATCHES])
    ring.close_writer()
    ring.close()
    return {"t0": t0, "double_mapped": mapped}


def typed_consumer(cfg, barrier):
    import ringpy

    ring = ringpy.ItemRing.open(cfg["endpoint"])
    mapped = bool(ring.is_double_mapped)
    B, M, N = cfg["batch"], POOL_BATCHES * cfg["batch"], cfg["total"]
    n = total = bad = 0
    t1 = None
    barrier.wait(SYNC_TIMEOUT)
    while True:
        try:
            # In place: the items are read where they lie in the ring, no copy out.
            with ring.consume_view(B, timeout=STALL_TIMEOUT) as a:
                k = len(a)
                ok = k and a[0] == n % M and a[-1] == (n + k - 1) % M
                total += int(a.sum())
        except ringpy.EndOfStreamError:
            break
        except ringpy.EmptyError:
            raise BenchError(f"received {n} of {N} items, then nothing for {STALL_TIMEOUT:.0f} s") from None
        if not k:
            raise BenchError(f"received {n} of {N} items, then nothing for {STALL_TIMEOUT:.0f} s")
        if not ok:
            bad += 1
        n += k
        if n >= N and t1 is None:
            t1 = now()
    a = None  # the last view: close() refuses while a view of the mapping is alive
    ring.close()
    return {"t1": t1, "n": n, "sum": total, "bad": bad, "double_mapped": mapped}


def bytes_producer(cfg, barrier):
    import ringpy

    per = cfg["record"] // 8
    pool = [[b[i : i + per].tobytes() for i in range(0, len(b), per)] for b in stream_pool(cfg)]
    ring = ringpy.Ring.open(cfg["endpoint"])
    put = ring.put_many
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    for k in range(cfg["batches"]):
        put(pool[k % POOL_BATCHES])
    ring.close_writer()
    ring.close()
    return {"t0": t0}


def bytes_consumer(cfg, barrier):
    import numpy as np
    import ringpy

    ring = ringpy.Ring.open(cfg["endpoint"])
    get_many, R, M, N = ring.get_many, cfg["batch"] * 8 // cfg["record"], POOL_BATCHES * cfg["batch"], cfg["total"]
    frombuffer, f8 = np.frombuffer, np.float64
    n = total = bad = 0
    t1 = None
    barrier.wait(SYNC_TIMEOUT)
    while True:
        try:
            ms = get_many(R, STALL_TIMEOUT)
        except ringpy.EndOfStreamError:
            break
        if not ms:
            raise BenchError(f"received {n} of {N} items, then nothing for {STALL_TIMEOUT:.0f} s")
        for m in ms:
            a = frombuffer(m, f8)
            k = len(a)
            if a[0] != n % M or a[-1] != (n + k - 1) % M:
                bad += 1
            total += int(a.sum())
            n += k
        if n >= N and t1 is None:
            t1 = now()
    ring.close()
    return {"t1": t1, "n": n, "sum": total, "bad": bad}


STREAMS = {
    # impl: (prepare, producer, consumer)
    "ringpy": (typed_prepare, typed_producer, typed_consumer),
    "ringpy-bytes": (bytes_prepare, bytes_producer, bytes_consumer),
}


def run_stream(cfg: dict, timeout: float) -> dict:
    """GB/s of one run of the producer and the consumer; checks every item arrived."""
    prepare, producer, consumer = STREAMS[cfg["impl"]]
    barrier = CTX.Barrier(2)
    res = benchlib.run_peers(cfg, prepare, benchlib.remove_quietly,
                             [("consumer", consumer, (barrier,)), ("producer", producer, (barrier,))], timeout)
    out, t0 = res["consumer"], res["producer"]["t0"]
    N, M = cfg["total"], POOL_BATCHES * cfg["batch"]
    problems = []
    if out["n"] != N:
        problems.append(f"received {out['n']} of {N} items")
    if out["bad"]:
        problems.append(f"{out['bad']} batches out of place")
    if out["sum"] != expected_sum(out["n"], M):
        problems.append(f"sum {out['sum']} != {expected_sum(out['n'], M)}")
    if out["t1"] is None:
        problems.append("no time of the last item")
    if problems:
        raise BenchError("; ".join(problems))
    elapsed = (out["t1"] - t0) / 1e9
    if elapsed <= 0:
        raise BenchError(f"non-positive elapsed time {elapsed}")
    return {"gb_per_s": N * 8 / elapsed / 1e9, "seconds": elapsed,
            "double_mapped": out.get("double_mapped", res["producer"].get("double_mapped"))}


def run_memcpy(cfg: dict) -> dict:
    """GB/s of numpy.copyto of a MEMCPY_BYTES float64 array, repeated (bytes copied per s)."""
    import numpy as np

    src = np.arange(MEMCPY_BYTES // 8, dtype=np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # faults the pages in
    reps = cfg["reps"]
    t0 = time.perf_counter_ns()
    for _ in range(reps):
        np.copyto(dst, src)
    dt = (time.perf_counter_ns() - t0) / 1e9
    if dst[-1] != src[-1] or dst[12345] != 12345.0:
        raise BenchError("memcpy: the copy differs")
    return {"gb_per_s": reps * MEMCPY_BYTES / dt / 1e9, "seconds": dt}


# ---------------------------------------------------------------------------------------
# Output


def fmt_rate(x: float) -> str:
    return f"{x / 1e6:.3f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def fmt_time(s: float) -> str:
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} us"
    return f"{s * 1e9:.0f} ns"


def median(rec: dict, key: str) -> float | None:
    return rec[key]["median"] if rec.get("available", True) and key in rec and "error" not in rec else None


def find(records: list[dict], case: str, impl: str, key: str, **match) -> float | None:
    """The median of key in the record of case and impl (and match), or None."""
    for r in records:
        if r.get("case") == case and r.get("impl") == impl and all(r.get(k) == v for k, v in match.items()):
            return median(r, key)
    return None


def targets(records: list[dict]) -> list[tuple[str, float | None, float, str]]:
    """(target, measured ratio or None, goal ratio, the figures compared) of issue #16."""
    def against(ours, peers, ours_text, peer_text, higher_is_better=True):
        peers = [(p, v) for p, v in peers if v]
        if not peers:
            return None, f"{ours_text(ours) if ours else 'ringpy not measured'}; no peer measured"
        p, v = (max if higher_is_better else min)(peers, key=lambda x: x[1])
        if not ours:
            return None, f"ringpy not measured; fastest peer {p} {peer_text(v)}"
        return (ours / v if higher_is_better else v / ours), f"{ours_text(ours)}; fastest peer {p} {peer_text(v)}"

    out = []
    ratio, what = against(find(records, "insert", "ringpy", "items_per_s"),
                          [(p, find(records, "insert", p, "items_per_s")) for p in PEER_IMPLS],
                          lambda v: f"ringpy {fmt_rate(v)}/s", lambda v: f"{fmt_rate(v)}/s")
    out.append(("insert of one float64 >= 2x the fastest peer", ratio, TARGET_INSERT, what))
    big = max(UNWRAP_SIZES)
    ratio, what = against(find(records, "unwrapped", "ringpy", "seconds_per_call", n=big),
                          [(p, find(records, "unwrapped", p, "seconds_per_call", n=big)) for p in PEER_IMPLS],
                          lambda v: f"ringpy {fmt_time(v)}/call", lambda v: f"{fmt_time(v)}/call",
                          higher_is_better=False)
    out.append((f"unwrapped() of {big:,} items >= 100x faster than the fastest peer", ratio, TARGET_UNWRAP, what))
    ours, base = find(records, "stream", "ringpy", "gb_per_s"), find(records, "stream", "memcpy", "gb_per_s")
    what = (f"ringpy {ours:.2f} GB/s" if ours else "ringpy not measured") + \
        (f"; memcpy {base:.2f} GB/s" if base else "; memcpy not measured")
    out.append(("cross-process typed streaming >= 0.8x memcpy", ours / base if ours and base else None,
                TARGET_STREAM, what))
    return out


class Bench:
    """One invocation: its settings, the environment, the records so far and their output."""

    def __init__(self, args, runs: int, scale: float, impls: list[str]):
        self.args, self.runs, self.scale, self.impls = args, runs, scale, impls
        self.env = benchlib.environment()
        ringpy_env = self.env["peers"]["ringpy"]
        self.missing = item_ring_missing() if ringpy_env["available"] else ringpy_env["reason"]
        self.env["ringpy_item_ring"] = {"available": self.missing is None, "reason": self.missing}
        self.records: list[dict] = []
        self.warmed: set[str] = set()

    def add(self, rec: dict) -> dict:
        self.records.append(rec)
        return rec

    def save(self) -> None:
        benchlib.write_records(self.args.json, "typed", self.env, self.records)

    def usable(self, rec: dict, impl: str) -> bool:
        """False (rec says why, and it is printed) if impl cannot run here; warms it up."""
        peer = IMPLS[impl][0] if impl in IMPLS else "ringpy"
        if not self.env["peers"][peer]["available"]:
            rec.update(available=False, reason=self.env["peers"][peer]["reason"])
        elif impl == "ringpy" and self.missing:
            rec.update(available=False, reason=self.missing)
        else:
            return self.warm(impl, rec)
        print(f"{rec['case']:11s} {impl:26s} unavailable: {rec['reason']}")
        return False

    def warm(self, impl: str, rec: dict) -> bool:
        if impl not in IMPLS or impl in self.warmed:
            return True
        try:
            warm_up(impl)
        except Exception as e:  # noqa: BLE001 - the implementation cannot run
            rec["error"] = f"warm-up failed: {type(e).__name__}: {e}"
            print(f"{rec['case']:11s} {impl:26s} FAILED: {rec['error']}")
            return False
        self.warmed.add(impl)
        return True

    def inserts(self, case: str) -> None:
        """insert (one item per call) or insert_many (batches of BATCH): items/s."""
        what = "one float64 per call" if case == "insert" else f"batches of {BATCH:,} float64"
        print(f"\n== {case}: {what} ==")
        print(f"{'implementation':26s} {'items/s':>10s} {'min':>10s} {'max':>10s}  calls")
        for impl in (i for i in IMPLS if i in self.impls):
            calls = IMPLS[impl][1].split("; ")[0 if case == "insert" else 1]
            rec = self.add({"case": case, "impl": impl, "calls": calls, "runs": 0, "available": True})
            if case == "insert":
                rec.update(count=max(1000, int(INSERT_COUNTS[impl] * self.scale)), capacity=INSERT_CAPACITY)
            else:
                rec.update(batches=max(2, int(BATCH_COUNTS[impl] * self.scale)), batch=BATCH, capacity=BATCH_CAPACITY)
            if not self.usable(rec, impl):
                continue
            if impl == "ringpy":
                rec["backing"] = ringpy_backing(self.args.backing)
            cfg = {"impl": impl, "backing": self.args.backing,
                   **{k: rec[k] for k in ("count", "batches", "capacity") if k in rec}}
            rates = benchlib.measure(rec, f"{case:11s} {impl:26s}", self.env, None, self.runs,
                                     run_insert if case == "insert" else run_insert_many, cfg)
            if rates:
                rec.update(runs=len(rates), items_per_s=benchlib.summarize(rates), items_per_s_each_run=rates)
                s = rec["items_per_s"]
                print(f"{impl:26s} {fmt_rate(s['median']):>10s} {fmt_rate(s['min']):>10s} {fmt_rate(s['max']):>10s}"
                      f"  {calls}", flush=True)
            self.save()

    def unwrapped(self, sizes: list[int]) -> None:
        """unwrapped() of a full ring of each size: seconds per call. The peers hold as many
        items as our ring did (its capacity may be rounded up from the size asked)."""
        print("\n== unwrapped(): oldest to newest of a full ring, time per call ==")
        print(f"{'implementation':26s} {'N':>9s} {'items':>9s} {'per call':>10s} {'min':>10s} {'max':>10s} {'view':>5s}")
        min_time = UNWRAP_MIN_TIME * (0.25 if self.args.quick else 1)
        items_of: dict[int, int] = {}
        for impl in (i for i in IMPLS if i in self.impls):
            calls = IMPLS[impl][1].split("; ")[2]
            first = None
            for n in sizes:
                rec = self.add({"case": "unwrapped", "impl": impl, "calls": calls, "n": n, "runs": 0,
                                "available": True})
                if first is None:
                    first = rec
                elif not first["available"]:  # unavailable: said once
                    rec.update(available=False, reason=first["reason"])
                    continue
                if not self.usable(rec, impl):
                    continue
                try:
                    filled = Filled(impl, items_of.get(n, n), self.args.backing)
                except Exception as e:  # noqa: BLE001 - this size fails, the next may not
                    rec["error"] = f"{type(e).__name__}: {e}"
                    print(f"unwrapped   {impl:26s} {n:9,d} FAILED: {rec['error']}")
                    continue
                try:
                    if impl == "ringpy":
                        items_of[n] = filled.items
                        rec.update(double_mapped=filled.double_mapped, backing=filled.made.backing)
                    rec.update(items=filled.items, view=filled.view, calls_per_run=filled.reps_for(min_time))
                    times = benchlib.measure(rec, f"unwrapped   {impl:26s} {n:9,d}", self.env, None, self.runs,
                                             lambda cfg: filled.time(rec["calls_per_run"]), {})
                finally:
                    filled.close()
                if times:
                    s = benchlib.summarize(times)
                    rec.update(runs=len(times), seconds_per_call=s, seconds_each_run=times,
                               ns_per_item=1e9 * s["median"] / filled.items)
                    print(f"{impl:26s} {n:9,d} {filled.items:9,d} {fmt_time(s['median']):>10s} "
                          f"{fmt_time(s['min']):>10s} {fmt_time(s['max']):>10s} {'yes' if filled.view else 'copy':>5s}"
                          + (f"  double-mapped: {filled.double_mapped}" if impl == "ringpy" else ""), flush=True)
                self.save()

    def stream(self) -> None:
        """Cross-process streaming through our typed and byte rings, and memcpy: GB/s."""
        args, batch = self.args, self.args.stream_batch
        total = max(POOL_BATCHES, int(args.stream_bytes * self.scale) // (batch * 8)) * batch
        print(f"\n== stream: float64 from one process to another, {total * 8 / 2**20:,.0f} MiB a run, "
              f"batches of {batch:,} items ==")
        print(f"{'implementation':26s} {'GB/s':>7s} {'min':>7s} {'max':>7s}  calls")
        for impl in (i for i in PEER_IMPLS if i in self.impls):
            self.add({"case": "stream", "impl": impl, "available": False,
                      "reason": "in-process only: no cross-process ring"})
        for impl in (i for i in STREAM_IMPLS if i in self.impls):
            if impl == "memcpy":
                reps = max(2, int(args.stream_bytes * self.scale) // MEMCPY_BYTES)
                rec = self.add({"case": "stream", "impl": impl, "runs": 0, "available": True, "reps": reps,
                                "calls": f"numpy.copyto of {MEMCPY_BYTES >> 20} MiB x {reps}, one process"})
                res = benchlib.measure(rec, f"stream      {impl:26s}", self.env, None, self.runs, run_memcpy,
                                       {"reps": reps})
            else:
                calls = ("ItemRing.insert_many / consume_view (in place)" if impl == "ringpy" else
                         f"Ring.put_many / get_many, records of {args.record_bytes:,} B")
                rec = self.add({"case": "stream", "impl": impl, "calls": calls, "runs": 0, "available": True,
                                "items": total, "bytes": total * 8, "batch": batch, "capacity": STREAM_CAPACITY,
                                "processes": 2})
                if impl == "ringpy-bytes":
                    rec["record_bytes"] = args.record_bytes
                if not self.usable(rec, impl):
                    continue
                cfg = {"impl": impl, "total": total, "batches": total // batch, "batch": batch,
                       "capacity": STREAM_CAPACITY, "record": args.record_bytes}
                res = benchlib.measure(rec, f"stream      {impl:26s}", self.env, None, self.runs, run_stream, cfg,
                                       args.timeout)
            if res:
                rates = [r["gb_per_s"] for r in res]
                rec.update(runs=len(rates), gb_per_s=benchlib.summarize(rates), gb_per_s_each_run=rates,
                           seconds_each_run=[r["seconds"] for r in res])
                if res[0].get("double_mapped") is not None:
                    rec["double_mapped"] = res[0]["double_mapped"]
                s = rec["gb_per_s"]
                print(f"{impl:26s} {s['median']:7.2f} {s['min']:7.2f} {s['max']:7.2f}  {rec['calls']}", flush=True)
            self.save()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median, min, max); default 3")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: 1 run, {QUICK_SCALE:g}x the items (unless --runs is given)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"default {','.join(CASES)}")
    everything = (*IMPLS, *STREAM_IMPLS[1:])
    ap.add_argument("--impls", default=",".join(everything), help=f"default {','.join(everything)}")
    ap.add_argument("--sizes", default=",".join(map(str, UNWRAP_SIZES)), help="items of the unwrapped case")
    ap.add_argument("--backing", choices=("anonymous", "file"), default="anonymous",
                    help="ringpy's in-process rings: ItemRing.anonymous (default) or ItemRing.create in /dev/shm")
    ap.add_argument("--stream-bytes", type=int, default=STREAM_BYTES, help="bytes per stream run (default 2 GiB)")
    ap.add_argument("--stream-batch", type=int, default=STREAM_BATCH, help="items per insert_many of the stream")
    ap.add_argument("--record-bytes", type=int, default=RECORD_BYTES,
                    help="record size of the byte-record stream (default 65536)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before a stream run is killed")
    ap.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    args = ap.parse_args(argv)
    runs_given = any(a == "--runs" or a.startswith("--runs=") for a in (argv if argv is not None else sys.argv[1:]))
    runs = 1 if args.quick and not runs_given else args.runs
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    for c in cases:
        if c not in CASES:
            ap.error(f"case {c!r}: choose among {', '.join(CASES)}")
    for i in impls:
        if i not in everything:
            ap.error(f"implementation {i!r}: choose among {', '.join(everything)}")
    try:
        sizes = [int(float(x)) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--sizes {args.sizes!r}: comma-separated item counts")
    if args.record_bytes % 8 or args.stream_batch * 8 % args.record_bytes:
        ap.error("--record-bytes must be a multiple of 8 and divide --stream-batch * 8")

    bench = Bench(args, runs, QUICK_SCALE if args.quick else 1.0, impls)
    env = bench.env
    settings = {"runs": runs, "quick": args.quick, "cases": cases, "impls": impls, "backing": args.backing,
                "batch": BATCH, "insert_capacity": INSERT_CAPACITY, "batch_capacity": BATCH_CAPACITY,
                "unwrap_sizes": sizes, "unwrap_min_time_s": UNWRAP_MIN_TIME * (0.25 if args.quick else 1),
                "stream_bytes": int(args.stream_bytes * bench.scale), "stream_batch": args.stream_batch,
                "stream_capacity": STREAM_CAPACITY, "record_bytes": args.record_bytes, "memcpy_bytes": MEMCPY_BYTES,
                "gb": "10**9 bytes"}
    mine = ("ringpy", "numpy", "mm-toolbox", "numpy_ringbuffer")
    benchlib.print_environment({**env, "peers": {p: env["peers"][p] for p in mine}},
                               f"runs={runs}{' (quick)' if args.quick else ''}")
    print(f"  ringpy.ItemRing: {'present' if bench.missing is None else 'UNAVAILABLE: ' + bench.missing}")
    if not env["peers"]["numpy"]["available"]:
        print("numpy is needed by every case: nothing measured")
        return 1

    for case in cases:
        if case in ("insert", "insert_many"):
            bench.inserts(case)
        elif case == "unwrapped":
            bench.unwrapped(sizes)
        else:
            bench.stream()

    print("\n== targets (issue #16) ==")
    for name, ratio, goal, what in targets(bench.records):
        state = "not measured" if ratio is None else f"{ratio:.2f}x (target {goal:g}x): {'met' if ratio >= goal else 'MISSED'}"
        print(f"  {name}: {state} ({what})")

    payload = {"benchmark": "typed", "settings": settings, "environment": env, "records": bench.records}
    if args.json:
        benchlib.write_json(args.json, payload)
        print(f"\nwrote {args.json}")
    print(json.dumps(payload, separators=(",", ":")), flush=True)
    return 1 if any("error" in r for r in bench.records) else 0


if __name__ == "__main__":
    sys.exit(main())
