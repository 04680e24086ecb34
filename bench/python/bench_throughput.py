#!/usr/bin/env python3
"""Throughput of ringpy against the IPC a Python user would pick instead.

One producer process and one consumer process (multiprocessing, "spawn"), for messages
of 64 B, 1 KiB and 64 KiB:

  ringpy        single: put/get (blocking)   spin: try_put/try_get loops
                batch: put_many/get_many (batches of --batch, at most 256 KiB each)
  tachyon-ipc   single: Bus.send / `for msg in bus`
                batch: TachyonBus.acquire_tx+commit, one flush per batch / drain_batch
  membridge     spin: SpscRingBuffer.push/pop loops (it has no blocking call)
  mp.Queue      single: multiprocessing.Queue put/get
  faster-fifo   single: put/get   batch: put_many/get_many
  pyzmq         single: PUSH/PULL over ipc:// (end marker + the producer waits for the
                consumer before closing, so no message is lost at close)
  os.pipe       single: length-prefixed records through a pipe (a FIFO in /tmp, so the
                two spawned processes can open it; pipe buffer raised to 1 MiB)
  harness       the same producer and consumer loops over a list in one process, no IPC:
                the ceiling of this Python harness.

Payloads are built before the clock starts (a pool of distinct bytes objects whose first
8 bytes carry their index; message i is pool[i % pool_size]). The clock starts in the
producer after both sides have exchanged one warm-up message and met at a barrier, and
stops in the consumer after the last message (CLOCK_MONOTONIC, comparable across
processes). The consumer counts messages and bytes and checks the sequence number of
one message in 1024 (single) or the first of each batch (batch), and of the last one.

Each figure is the median of --runs runs, with min and max. MB/s is 10**6 bytes/s of
payload. Peers that are not installed (see setup_venv.sh) are reported as unavailable.

    .venv-bench/bin/python bench/python/bench_throughput.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from benchlib import CTX, TMP_PREFIX, BenchError  # noqa: E402

SIZES = (64, 1024, 65536)
#: Messages per run, by implementation and size: the same for every implementation of a
#: speed class, picked so that one run takes about 0.5-2 s on a 2-core machine.
COUNTS = {
    "harness": {64: 1_000_000, 1024: 1_000_000, 65536: 1_000_000},  # no copy: size-independent
    "ringpy": {64: 1_000_000, 1024: 300_000, 65536: 20_000},
    "membridge": {64: 1_000_000, 1024: 300_000, 65536: 20_000},
    "tachyon-ipc": {64: 250_000, 1024: 100_000, 65536: 20_000},
    "pyzmq": {64: 250_000, 1024: 100_000, 65536: 20_000},
    "os.pipe": {64: 250_000, 1024: 100_000, 65536: 20_000},
    "faster-fifo": {64: 50_000, 1024: 30_000, 65536: 10_000},
    "mp.Queue": {64: 50_000, 1024: 30_000, 65536: 10_000},
}
RING_CAPACITY = 8 << 20  # ringpy, tachyon-ipc, membridge, faster-fifo
PIPE_SIZE = 1 << 20  # the default /proc/sys/fs/pipe-max-size
POOL_BYTES = 32 << 20
SAMPLE_MASK = 1023
SYNC_TIMEOUT = 60.0
BATCH_BYTES = 256 << 10  # payload per batch at most (see batch_for)

# (impl, mode, peer package or None)
CASES = [
    ("harness", "single", None),
    ("harness", "batch", None),
    ("ringpy", "single", "ringpy"),
    ("ringpy", "spin", "ringpy"),
    ("ringpy", "batch", "ringpy"),
    ("tachyon-ipc", "single", "tachyon-ipc"),
    ("tachyon-ipc", "batch", "tachyon-ipc"),
    ("membridge", "spin", "membridge"),
    ("faster-fifo", "single", "faster-fifo"),
    ("faster-fifo", "batch", "faster-fifo"),
    ("mp.Queue", "single", None),
    ("pyzmq", "single", "pyzmq"),
    ("os.pipe", "single", None),
]


def now() -> int:
    return time.monotonic_ns()


# ---------------------------------------------------------------------------------------
# Workload


def pool_size(size: int, count: int) -> int:
    return max(16, min(count, 65536, POOL_BYTES // size))


def build_messages(cfg: dict) -> list:
    """The producer's messages (or batches of them), built before the clock starts."""
    size, count = cfg["size"], cfg["count"]
    k = cfg["pool"]
    filler = b"\xab" * (size - 8)
    pool = [j.to_bytes(8, "little") + filler for j in range(k)]
    msgs = [pool[i % k] for i in range(count)]
    if cfg["mode"] == "batch":
        b = cfg["batch"]
        return [msgs[i : i + b] for i in range(0, count, b)]
    return msgs


def warm_message(cfg: dict) -> bytes:
    return b"\xff" * cfg["size"]


def seq(m) -> int:
    return int.from_bytes(m[:8], "little")


def result(cfg, t1, n, total, bad, last, **extra) -> dict:
    if n and seq(last) != (n - 1) % cfg["pool"]:
        bad += 1
    return {"t1": t1, "n": n, "bytes": total, "bad": bad, **extra}


# ---------------------------------------------------------------------------------------
# The timed loops that several implementations share. Each takes the transport's bound
# method and calls it directly, as the implementations' own loops do: sharing a loop adds
# one call per run, none per message. Each helper is called once per process with no loop
# run before it in its function, so CPython specializes its bytecode (or not) exactly as
# it did the same loop in the caller. The batch consumers, whose calls differ in their
# arguments, and the harness (see harness_main) keep their own loops.


def put_each(put, data) -> None:
    """Producer loop of the single mode (and of ringpy's batch mode): put(m) for each
    message (or batch) m of data, in order."""
    for m in data:
        put(m)


def put_spinning(try_put, data) -> None:
    """Producer loop of the spin mode: try_put(m) until it accepts m, for each message."""
    for m in data:
        while not try_put(m):
            pass


def count_each(cfg, get) -> tuple:
    """Consumer loop of the single mode: cfg["count"] messages from get() (which waits for
    the next one), counted, their bytes summed, one in SAMPLE_MASK + 1 checked. Stops the
    clock after the last; returns (t1, n, total, bad, last message), result()'s arguments."""
    N, K, mask = cfg["count"], cfg["pool"], SAMPLE_MASK
    n = total = bad = 0
    m = None
    while n < N:
        m = get()
        total += len(m)
        if not n & mask and int.from_bytes(m[:8], "little") != n % K:
            bad += 1
        n += 1
    return now(), n, total, bad, m


def count_spinning(cfg, try_get) -> tuple:
    """Consumer loop of the spin mode: as count_each, with try_get() called again until it
    returns a message instead of None."""
    N, K, mask = cfg["count"], cfg["pool"], SAMPLE_MASK
    n = total = bad = 0
    m = None
    while n < N:
        m = try_get()
        if m is None:
            continue
        total += len(m)
        if not n & mask and int.from_bytes(m[:8], "little") != n % K:
            bad += 1
        n += 1
    return now(), n, total, bad, m


# ---------------------------------------------------------------------------------------
# harness: the producer and consumer loops over a list, in one process


def harness_main(cfg):
    """The producer's then the consumer's loop over a list, timed in one process."""
    # Its own copies of the loops of put_each, count_each and the batch consumers, on
    # purpose: CPython 3.11 specializes a function's bytecode after 8 calls or backward
    # jumps (turns of a `for` loop, `continue`; not those of a `while` loop), so here the
    # consumer loop runs specialized, after the producer's loop, as the harness has always
    # measured it; count_each, called once per process, is not (nor were the IPC
    # consumers' loops).
    data = build_messages(cfg)
    N, K, mask = cfg["count"], cfg["pool"], SAMPLE_MASK
    n = total = bad = 0
    m = None
    t0 = now()
    out = []
    put = out.append
    if cfg["mode"] == "single":
        for m in data:
            put(m)
        get = iter(out).__next__
        while n < N:
            m = get()
            total += len(m)
            if not n & mask and int.from_bytes(m[:8], "little") != n % K:
                bad += 1
            n += 1
    else:
        for b in data:
            put(b)
        get_many = iter(out).__next__
        ms = [None]
        while n < N:
            ms = get_many()
            if not ms:
                continue
            total += sum(map(len, ms))
            if int.from_bytes(ms[0][:8], "little") != n % K:
                bad += 1
            n += len(ms)
        m = ms[-1]
    t1 = now()
    return {"t0": t0, **result(cfg, t1, n, total, bad, m)}


# ---------------------------------------------------------------------------------------
# ringpy


def ringpy_prepare(cfg):
    import ringpy

    path = f"/dev/shm/{TMP_PREFIX}-{cfg['run_id']}.ring"
    ringpy.Ring.create(path, RING_CAPACITY, replace=True).close()
    return path


def ringpy_producer(cfg, barrier, done):
    """Puts the messages to the ring (put, try_put or put_many by mode), then ends the stream."""
    import ringpy

    data = build_messages(cfg)
    ring = ringpy.Ring.open(cfg["endpoint"])
    ring.put(warm_message(cfg), timeout=SYNC_TIMEOUT)
    barrier.wait(SYNC_TIMEOUT)
    mode = cfg["mode"]
    t0 = now()
    if mode == "single":
        put_each(ring.put, data)
    elif mode == "spin":
        put_spinning(ring.try_put, data)
    else:
        put_each(ring.put_many, data)
    ring.close_writer()
    done.wait(SYNC_TIMEOUT)
    ring.close()
    return {"t0": t0}


def ringpy_consumer(cfg, barrier, done):
    """Reads the messages (get, try_get or get_many by mode), then checks the stream ends there."""
    import ringpy

    ring = ringpy.Ring.open(cfg["endpoint"])
    ring.get(timeout=SYNC_TIMEOUT)
    barrier.wait(SYNC_TIMEOUT)
    mode = cfg["mode"]
    if mode == "single":
        t1, n, total, bad, m = count_each(cfg, ring.get)
    elif mode == "spin":
        t1, n, total, bad, m = count_spinning(cfg, ring.try_get)
    else:
        N, K = cfg["count"], cfg["pool"]
        n = total = bad = 0
        get_many, B = ring.get_many, cfg["batch"]
        ms = [None]
        while n < N:
            ms = get_many(B, SYNC_TIMEOUT)
            if not ms:
                continue
            total += sum(map(len, ms))
            if int.from_bytes(ms[0][:8], "little") != n % K:
                bad += 1
            n += len(ms)
        m = ms[-1]
        t1 = now()
    # The stream must end exactly here.
    try:
        extra = ring.get(timeout=10.0)
        bad += 1
        end = f"unexpected extra message of {len(extra)} bytes"
    except ringpy.EndOfStreamError:
        end = "EndOfStreamError"
    done.set()
    ring.close()
    return result(cfg, t1, n, total, bad, m, end=end)


# ---------------------------------------------------------------------------------------
# tachyon-ipc: the consumer listens (creates the arena), the producer connects.


def tachyon_prepare(cfg):
    """The path of the run's Unix socket (removed with benchlib.remove_quietly)."""
    return benchlib.tmp_path(cfg, ".sock")


def tachyon_producer(cfg, barrier, done):
    """Sends the messages on the Bus (single), or writes them in place with one flush per batch."""
    import tachyon

    data = build_messages(cfg)
    bus = benchlib.tachyon_connect(cfg["endpoint"], SYNC_TIMEOUT)
    TachyonError, PeerDeadError = tachyon.TachyonError, tachyon.PeerDeadError
    bus.send(warm_message(cfg))
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    if cfg["mode"] == "single":
        send = bus.send
        for m in data:
            while True:
                try:
                    send(m)
                    break
                except PeerDeadError:
                    raise
                except TachyonError:  # "bus closed or full": retry
                    pass
    else:
        raw = bus._bus  # the TachyonBus that Bus wraps (exported as tachyon.TachyonBus)
        acquire_tx, flush = raw.acquire_tx, raw.flush
        for b in data:
            for m in b:
                size = len(m)
                while True:
                    try:
                        tx = acquire_tx(size)
                        break
                    except PeerDeadError:
                        raise
                    except TachyonError:  # full: publish what is committed, retry
                        flush()
                with tx:
                    with memoryview(tx) as mv:
                        mv[:size] = m
                    tx.actual_size = size
            flush()
    done.wait(SYNC_TIMEOUT)
    bus._bus.destroy()
    return {"t0": t0}


def tachyon_consumer(cfg, barrier, done):
    import tachyon

    bus = tachyon.Bus.listen(cfg["endpoint"], RING_CAPACITY)  # blocks until connected
    it = iter(bus)
    next(it)
    barrier.wait(SYNC_TIMEOUT)
    N, K, mask = cfg["count"], cfg["pool"], SAMPLE_MASK
    n = total = bad = 0
    m = None
    if cfg["mode"] == "single":
        get = it.__next__
        while n < N:
            m = get().data
            total += len(m)
            if not n & mask and int.from_bytes(m[:8], "little") != n % K:
                bad += 1
            n += 1
    else:
        drain_batch, B = bus.drain_batch, cfg["batch"]
        ms = [None]
        while n < N:
            with drain_batch(B) as batch:
                ms = [bytes(v) for v in batch]
            total += sum(map(len, ms))
            if int.from_bytes(ms[0][:8], "little") != n % K:
                bad += 1
            n += len(ms)
        m = ms[-1]
    t1 = now()
    done.set()
    bus._bus.destroy()
    return result(cfg, t1, n, total, bad, m)


# ---------------------------------------------------------------------------------------
# membridge: SpscRingBuffer in a POSIX shm segment; push/pop never block, so both spin.


def membridge_prepare(cfg):
    """The name of the run's shm segment, its ring created (removed with
    benchlib.membridge_remove)."""
    return benchlib.membridge_create(f"/{TMP_PREFIX}-{cfg['run_id']}", RING_CAPACITY)


def membridge_producer(cfg, barrier, done):
    """Pushes the messages, spinning while the ring is full."""
    import membridge

    data = build_messages(cfg)
    ring = membridge.SharedMemory.open(cfg["endpoint"]).spsc()
    push = ring.push
    while not push(warm_message(cfg)):
        pass
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    put_spinning(push, data)
    done.wait(SYNC_TIMEOUT)
    return {"t0": t0}


def membridge_consumer(cfg, barrier, done):
    """Pops the messages, spinning while the ring is empty."""
    import membridge

    ring = membridge.SharedMemory.open(cfg["endpoint"]).spsc()
    pop = ring.pop
    deadline = time.monotonic() + SYNC_TIMEOUT
    while pop() is None:
        if time.monotonic() > deadline:
            raise TimeoutError("no warm-up message")
    barrier.wait(SYNC_TIMEOUT)
    t1, n, total, bad, m = count_spinning(cfg, pop)
    done.set()
    return result(cfg, t1, n, total, bad, m)


# ---------------------------------------------------------------------------------------
# multiprocessing.Queue and faster-fifo: the queue object is created by the parent and
# handed to both children.


def mpqueue_prepare(cfg):
    return CTX.Queue()


def fasterfifo_prepare(cfg):
    import faster_fifo

    # put_many needs room for the whole batch at once, or it waits forever.
    return faster_fifo.Queue(max_size_bytes=max(RING_CAPACITY, 2 * cfg["batch"] * (cfg["size"] + 64)))


def queue_producer(cfg, barrier, done):
    """Puts the messages to the queue (put, or put_many by batch)."""
    data = build_messages(cfg)
    q = cfg["endpoint"]
    q.put(warm_message(cfg))
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    if cfg["mode"] == "single":
        put_each(q.put, data)
    else:
        put_many = q.put_many
        for b in data:
            put_many(b, timeout=SYNC_TIMEOUT)
    done.wait(SYNC_TIMEOUT)
    if hasattr(q, "join_thread"):
        q.close()
        q.join_thread()
    return {"t0": t0}


def queue_consumer(cfg, barrier, done):
    """Gets the messages from the queue (get, or get_many by batch)."""
    q = cfg["endpoint"]
    q.get(timeout=SYNC_TIMEOUT)
    barrier.wait(SYNC_TIMEOUT)
    if cfg["mode"] == "single":
        t1, n, total, bad, m = count_each(cfg, q.get)
    else:
        N, K = cfg["count"], cfg["pool"]
        n = total = bad = 0
        get_many, B = q.get_many, cfg["batch"]
        ms = [None]
        while n < N:
            ms = get_many(timeout=SYNC_TIMEOUT, max_messages_to_get=B)
            if not ms:
                continue
            total += sum(map(len, ms))
            if int.from_bytes(ms[0][:8], "little") != n % K:
                bad += 1
            n += len(ms)
        m = ms[-1]
        t1 = now()
    done.set()
    return result(cfg, t1, n, total, bad, m)


# ---------------------------------------------------------------------------------------
# pyzmq PUSH/PULL over ipc://. No fork after a context exists: children are spawned.


def zmq_prepare(cfg):
    """The path of the run's ipc:// socket (removed with benchlib.remove_quietly)."""
    return benchlib.tmp_path(cfg, ".zmq")


def zmq_producer(cfg, barrier, done):
    """Sends the messages then the end marker, and waits for the consumer before closing."""
    import zmq

    data = build_messages(cfg)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(f"ipc://{cfg['endpoint']}")
    sock.send(warm_message(cfg))
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    put_each(sock.send, data)
    sock.send(b"")  # end marker
    done.wait(SYNC_TIMEOUT)  # closing before the consumer has everything can lose messages
    sock.close(linger=1000)
    ctx.term()
    return {"t0": t0}


def zmq_consumer(cfg, barrier, done):
    """Receives the messages, then checks the next one is the end marker."""
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.bind(f"ipc://{cfg['endpoint']}")
    if not sock.poll(SYNC_TIMEOUT * 1000):
        raise TimeoutError("no warm-up message")
    sock.recv()
    barrier.wait(SYNC_TIMEOUT)
    t1, n, total, bad, m = count_each(cfg, sock.recv)
    if not sock.poll(10_000):
        raise TimeoutError("no end marker")
    marker = sock.recv()
    if marker:
        bad += 1
    done.set()
    sock.close(linger=0)
    ctx.term()
    return result(cfg, t1, n, total, bad, m, end="marker" if not marker else "extra message")


# ---------------------------------------------------------------------------------------
# os.pipe baseline: 4-byte little-endian length, then the payload.


def pipe_prepare(cfg):
    """The path of the run's FIFO, created (removed with benchlib.remove_quietly)."""
    path = benchlib.tmp_path(cfg, ".fifo")
    os.mkfifo(path, 0o600)
    return path


def pipe_producer(cfg, barrier, done):
    import fcntl

    data = build_messages(cfg)
    fd = os.open(cfg["endpoint"], os.O_WRONLY)  # waits for the reader to open
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass
    pack = struct.Struct("<I").pack
    writev = os.writev

    def write_all(m):
        buf = memoryview(pack(len(m)) + m)
        while buf:
            buf = buf[os.write(fd, buf) :]

    write_all(warm_message(cfg))
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    for m in data:
        if writev(fd, (pack(len(m)), m)) != len(m) + 4:  # blocking pipes write it all
            raise OSError("short write on a blocking pipe")
    done.wait(SYNC_TIMEOUT)
    os.close(fd)
    return {"t0": t0}


def pipe_consumer(cfg, barrier, done):
    f = open(cfg["endpoint"], "rb", buffering=1 << 16)
    read = f.read
    unpack = struct.Struct("<I").unpack
    (length,) = unpack(read(4))
    read(length)
    barrier.wait(SYNC_TIMEOUT)
    N, K, mask = cfg["count"], cfg["pool"], SAMPLE_MASK
    n = total = bad = 0
    m = None
    while n < N:
        (length,) = unpack(read(4))
        m = read(length)
        total += len(m)
        if not n & mask and int.from_bytes(m[:8], "little") != n % K:
            bad += 1
        n += 1
    t1 = now()
    done.set()
    f.close()
    return result(cfg, t1, n, total, bad, m)


# ---------------------------------------------------------------------------------------

IMPLS = {
    # impl: (prepare, cleanup, producer, consumer)
    "ringpy": (ringpy_prepare, benchlib.remove_quietly, ringpy_producer, ringpy_consumer),
    "tachyon-ipc": (tachyon_prepare, benchlib.remove_quietly, tachyon_producer, tachyon_consumer),
    "membridge": (membridge_prepare, benchlib.membridge_remove, membridge_producer, membridge_consumer),
    "mp.Queue": (mpqueue_prepare, None, queue_producer, queue_consumer),
    "faster-fifo": (fasterfifo_prepare, None, queue_producer, queue_consumer),
    "pyzmq": (zmq_prepare, benchlib.remove_quietly, zmq_producer, zmq_consumer),
    "os.pipe": (pipe_prepare, benchlib.remove_quietly, pipe_producer, pipe_consumer),
}


def count_for(impl: str, size: int, scale: float) -> int:
    return max(1000, int(COUNTS[impl][size] * scale))


def one_run(cfg: dict, timeout: float, pin: bool = False) -> float:
    """Runs one producer/consumer pair; returns the seconds from the first send to the
    last receive."""
    impl = cfg["impl"]
    if impl == "harness":
        cpus = benchlib.pin_cpus(1) if pin else None
        res = benchlib.run_processes([("harness", harness_main, (cfg,))], timeout, cpus)["harness"]
        t0, out = res["t0"], res
    else:
        prepare, cleanup, producer, consumer = IMPLS[impl]
        sync = (CTX.Barrier(2), CTX.Event())  # (barrier, done)
        res = benchlib.run_peers(cfg, prepare, cleanup, [("consumer", consumer, sync), ("producer", producer, sync)],
                                 timeout, pin)
        t0, out = res["producer"]["t0"], res["consumer"]
    problems = []
    if out["n"] != cfg["count"]:
        problems.append(f"received {out['n']} of {cfg['count']} messages")
    if out["bytes"] != cfg["count"] * cfg["size"]:
        problems.append(f"received {out['bytes']} bytes, expected {cfg['count'] * cfg['size']}")
    if out["bad"]:
        problems.append(f"{out['bad']} sampled sequence numbers wrong or extra messages ({out.get('end')})")
    if problems:
        raise BenchError("; ".join(problems))
    elapsed = (out["t1"] - t0) / 1e9
    if elapsed <= 0:
        raise BenchError(f"non-positive elapsed time {elapsed}")
    return elapsed


def batch_for(size: int, batch: int) -> int:
    """Messages per batch: --batch, but at most BATCH_BYTES of payload. A consumer frees
    room only after a whole batch, so batches of a large part of the ring stop the
    producer instead of overlapping with it (256 messages of 64 KiB would be 16 MiB,
    twice the ring)."""
    return max(1, min(batch, BATCH_BYTES // size))


def fmt_rate(x: float) -> str:
    return f"{x / 1e6:.3f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def main(argv=None) -> int:
    """Runs every case and prints (and with --json writes) the results; 1 if one failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median, min, max); default 3")
    ap.add_argument("--json", metavar="PATH", help="write the records as JSON")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="message sizes in bytes (>= 8)")
    ap.add_argument("--impls", help="comma-separated implementations to run (default: all)")
    ap.add_argument("--batch", type=int, default=256, help="batch size of the batch modes (default 256)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every message count (default 1)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is killed")
    ap.add_argument("--pin", action="store_true", help="pin the two processes to two distinct CPUs")
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",")]
    for s in sizes:
        if s not in SIZES:
            ap.error(f"size {s}: choose among {SIZES}")
    cases = benchlib.select_cases(ap, args.impls, CASES)

    env = benchlib.environment()
    benchlib.print_environment(env, f"runs={args.runs}")

    records = []
    for size in sizes:
        print(f"\n== {size} B messages ==")
        print(f"{'impl':12s} {'mode':7s} {'count':>9s} {'msgs/s median':>14s} {'min':>9s} {'max':>9s} {'MB/s median':>12s} {'s/run':>6s}")
        for impl, mode, peer in cases:
            count = count_for(impl, size, args.scale)
            rec = {"impl": impl, "mode": mode, "size": size, "count": count, "runs": 0, "available": True}
            cfg = {
                "impl": impl, "mode": mode, "size": size, "count": count,
                "pool": pool_size(size, count), "batch": batch_for(size, args.batch),
            }
            seconds = benchlib.measure(rec, f"{impl:12s} {mode:7s}", env, peer, args.runs,
                                       one_run, cfg, args.timeout, args.pin)
            rates = [count / s for s in seconds]
            if rates:
                rec["runs"] = len(rates)
                rec["msgs_per_s"] = benchlib.summarize(rates)
                rec["mb_per_s"] = benchlib.summarize([r * size / 1e6 for r in rates])
                rec["msgs_per_s_each_run"] = rates
                rec["seconds_each_run"] = seconds
                s = rec["msgs_per_s"]
                print(
                    f"{impl:12s} {mode:7s} {count:9d} {fmt_rate(s['median']):>14s} {fmt_rate(s['min']):>9s} "
                    f"{fmt_rate(s['max']):>9s} {rec['mb_per_s']['median']:12.1f} {statistics.median(seconds):6.2f}"
                )
            records.append(rec)
            benchlib.write_records(args.json, "throughput", env, records)  # keep what has been measured so far

    return benchlib.finish(args.json, "throughput", env, records)


if __name__ == "__main__":
    sys.exit(main())
