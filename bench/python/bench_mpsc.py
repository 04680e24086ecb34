#!/usr/bin/env python3
"""Several producers into one consumer (MPSC, issue #15): aggregate messages/s of ringpy
(one ring with producer slots) beside faster-fifo, multiprocessing.Queue and pyzmq
PUSH/PULL over ipc://, with the same producer counts in the same run.

N producer processes (N = 1, 2, 4) and one consumer process (multiprocessing "spawn": no
fork after a zmq context exists), messages of 64 B and 1 KiB:

  ringpy       Ring.create(path, capacity, producers=N) in the parent; each producer
               Ring.open(path), the consumer Ring.open(path)
                 single: put / get (blocking)
                 batch:  put_many / get_many (batches of --batch, at most 256 KiB each)
               If Ring.create has no producers= yet (TypeError), N = 1 runs on a plain
               1.0 ring (Ring.create(path, capacity)) and N > 1 is reported unavailable.
  faster-fifo  one faster_fifo.Queue   single: put / get   batch: put_many / get_many
  mp.Queue     one multiprocessing.Queue   single: put / get
  pyzmq        PUSH (each producer connects) / PULL (the consumer binds), ipc:// in a
               temporary directory   single: send / recv

The calls and loops are those of bench_throughput.py (the same payload pool, batch sizes,
ring capacity and timed loops), so N = 1 is comparable with its figures. Message j of
producer p carries p in bytes 0..3 and j mod pool in bytes 4..11; every side builds its
payloads before the clock starts. Each producer puts one warm-up message, then all
processes meet at a barrier (the start signal); the clock runs from the earliest
producer's first send after it to the consumer receiving the last message
(CLOCK_MONOTONIC, comparable across processes):

    aggregate messages/s = N * COUNT / (t_last_received - t_start)

The consumer counts messages and bytes and must get exactly N * COUNT messages of SIZE
bytes, then none more once every producer is done (fails loudly otherwise); it checks the
producer id of one message in 1024 (single) or the first of each batch (batch). Producers
keep their ring, queue or socket open until the consumer has counted everything (PUSH
sockets closed early can lose their last messages, linger or not). Batch calls carry a
timeout, so a lost message fails the run with the count received; single-message calls
block as in bench_throughput.py and a lost message fails the run at --timeout.

Each figure is the median of --runs runs, with min and max. Output: a table while it runs,
then the results as one JSON line on stdout (the last line; also written to --json).

    .venv-bench/bin/python bench/python/bench_mpsc.py [--runs 3] [--quick]
        [--producers 1,2,4] [--sizes 64,1024] [--transports ringpy,faster-fifo,mp.Queue,pyzmq]
        [--modes single,batch] [--count N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from benchlib import CTX, TMP_PREFIX, BenchError  # noqa: E402

SIZES = (64, 1024)
PRODUCERS = (1, 2, 4)
#: Messages per run, all producers together (each sends COUNT = total // N): those of
#: bench_throughput.py, so that one run takes about 0.5-2 s on a 2-core machine.
TOTALS = {
    "ringpy": {64: 1_000_000, 1024: 300_000, 65536: 20_000},
    "faster-fifo": {64: 50_000, 1024: 30_000, 65536: 10_000},
    "mp.Queue": {64: 50_000, 1024: 30_000, 65536: 10_000},
    "pyzmq": {64: 250_000, 1024: 100_000, 65536: 20_000},
}
QUICK_SCALE = 0.05
RING_CAPACITY = 8 << 20  # ringpy and faster-fifo, as bench_throughput.py
POOL_BYTES = 32 << 20  # per producer
SAMPLE_MASK = 1023
SYNC_TIMEOUT = 60.0
#: A batch call that waits this long for the next message fails the run (messages lost).
STALL_TIMEOUT = 20.0
#: After the last message and every producer done: how long the consumer waits for an extra one.
EXTRA_WAIT = 0.2
BATCH_BYTES = 256 << 10
HEADER = 12  # producer id (4 bytes) and index in the pool (8 bytes)

# (transport, mode, peer package or None, calls)
CASES = [
    ("ringpy", "single", "ringpy", "Ring.put / Ring.get"),
    ("ringpy", "batch", "ringpy", "Ring.put_many / Ring.get_many"),
    ("faster-fifo", "single", "faster-fifo", "Queue.put / Queue.get"),
    ("faster-fifo", "batch", "faster-fifo", "Queue.put_many / Queue.get_many(max_messages_to_get=BATCH)"),
    ("mp.Queue", "single", None, "multiprocessing.Queue.put / get"),
    ("pyzmq", "single", "pyzmq", "PUSH.send / PULL.recv over ipc://"),
]
ALIASES = {"mpqueue": "mp.Queue", "mp-queue": "mp.Queue", "multiprocessing": "mp.Queue", "zmq": "pyzmq",
           "faster_fifo": "faster-fifo"}

now = time.monotonic_ns


# ---------------------------------------------------------------------------------------
# Workload


def pool_size(size: int, count: int) -> int:
    return max(16, min(count, 65536, POOL_BYTES // size))


def build_messages(cfg: dict, producer: int) -> list:
    """One producer's messages (or batches of them), built before the clock starts."""
    size, count, k = cfg["size"], cfg["count"], cfg["pool"]
    head = producer.to_bytes(4, "little")
    filler = b"\xab" * (size - HEADER)
    pool = [head + j.to_bytes(8, "little") + filler for j in range(k)]
    msgs = [pool[i % k] for i in range(count)]
    if cfg["mode"] == "batch":
        b = cfg["batch"]
        return [msgs[i : i + b] for i in range(0, count, b)]
    return msgs


def warm_message(cfg: dict, producer: int) -> bytes:
    return producer.to_bytes(4, "little") + b"\xff" * (cfg["size"] - 4)


def put_each(put, data) -> None:
    """Producer loop: put(m) for each message (or batch) m of data, in order."""
    for m in data:
        put(m)


def count_each(cfg, get) -> tuple:
    """Consumer loop of the single mode (bench_throughput.py's): the run's total of
    messages from get(), counted, their bytes summed, the producer id of one in
    SAMPLE_MASK + 1 checked. Returns (t1, n, total bytes, bad)."""
    N, P, mask = cfg["total"], cfg["producers"], SAMPLE_MASK
    n = total = bad = 0
    while n < N:
        m = get()
        total += len(m)
        if not n & mask and int.from_bytes(m[:4], "little") >= P:
            bad += 1
        n += 1
    return now(), n, total, bad


def count_batches(cfg, get_many, empty) -> tuple:
    """Consumer loop of the batch mode: get_many() (a bound call with its arguments) until
    the run's total; empty(ms) True means nothing came within STALL_TIMEOUT."""
    N, P = cfg["total"], cfg["producers"]
    n = total = bad = 0
    while n < N:
        ms = get_many()
        if empty(ms):
            raise BenchError(f"received {n} of {N} messages, then nothing for {STALL_TIMEOUT:.0f} s")
        total += sum(map(len, ms))
        if int.from_bytes(ms[0][:4], "little") >= P:
            bad += 1
        n += len(ms)
    return now(), n, total, bad


def wait_producers(sent, n: int) -> None:
    """Waits until the n producers have all returned from their last send."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    while sent.value < n:
        if time.monotonic() > deadline:
            raise BenchError(f"only {sent.value} of {n} producers finished sending")
        time.sleep(0.001)


def producer_sent(sent) -> None:
    with sent.get_lock():
        sent.value += 1


def counted(t1, n, total, bad, extra: str | None) -> dict:
    return {"t1": t1, "n": n, "bytes": total, "bad": bad, "extra": extra}


# ---------------------------------------------------------------------------------------
# ringpy: one ring with producer slots


def ringpy_create(path: str, producers: int):
    """Ring.create(path, RING_CAPACITY, producers=N); if that keyword does not exist yet
    (TypeError), a plain 1.0 ring for N = 1. Returns (ring, shared: bool)."""
    import ringpy

    try:
        return ringpy.Ring.create(path, RING_CAPACITY, replace=True, producers=producers), True
    except TypeError as e:
        if producers != 1:
            raise BenchError(f"Ring.create(..., producers={producers}): {type(e).__name__}: {e}") from None
        return ringpy.Ring.create(path, RING_CAPACITY, replace=True), False


def shared_producer_api() -> tuple[bool, str | None]:
    """(available, reason): does Ring.create take producers= (tried on a scratch ring)?"""
    import ringpy

    path = f"/dev/shm/{TMP_PREFIX}-probe.ring"
    try:
        ringpy.Ring.create(path, 1 << 16, replace=True, producers=2).close()
        return True, None
    except TypeError as e:
        return False, f"Ring.create(..., producers=N) is not in this ringpy ({type(e).__name__}: {e})"
    except Exception as e:  # noqa: BLE001 - the keyword exists but a ring with it cannot be made
        return False, f"Ring.create(..., producers=2) failed: {type(e).__name__}: {e}"
    finally:
        benchlib.remove_quietly(path)


def ringpy_prepare(cfg):
    path = f"/dev/shm/{TMP_PREFIX}-{cfg['run_id']}-mpsc.ring"
    ring, shared = ringpy_create(path, cfg["producers"])
    ring.close()
    if shared != cfg["shared"]:
        benchlib.remove_quietly(path)
        raise BenchError(f"producers= is {'' if shared else 'un'}available now but was not at the start")
    return path


def ringpy_producer(cfg, me, barrier, sent, done):
    import ringpy

    data = build_messages(cfg, me)
    ring = ringpy.Ring.open(cfg["endpoint"])
    ring.put(warm_message(cfg, me), timeout=SYNC_TIMEOUT)  # takes this producer's slot
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    put_each(ring.put if cfg["mode"] == "single" else ring.put_many, data)
    producer_sent(sent)
    done.wait(SYNC_TIMEOUT)  # the consumer has counted everything
    ring.close()
    return {"t0": t0}


def ringpy_consumer(cfg, barrier, sent, done):
    import ringpy

    ring = ringpy.Ring.open(cfg["endpoint"])
    for _ in range(cfg["producers"]):
        ring.get(timeout=SYNC_TIMEOUT)
    barrier.wait(SYNC_TIMEOUT)
    if cfg["mode"] == "single":
        t1, n, total, bad = count_each(cfg, ring.get)
    else:
        get_many, B = ring.get_many, cfg["batch"]
        t1, n, total, bad = count_batches(cfg, lambda: get_many(B, STALL_TIMEOUT), lambda ms: not ms)
    wait_producers(sent, cfg["producers"])
    try:
        m = ring.get(timeout=EXTRA_WAIT)
        extra = f"an extra message of {len(m)} bytes"
    except (ringpy.EmptyError, ringpy.EndOfStreamError):
        extra = None
    done.set()
    ring.close()
    return counted(t1, n, total, bad, extra)


# ---------------------------------------------------------------------------------------
# multiprocessing.Queue and faster-fifo: made by the parent, handed to every child.


def mpqueue_prepare(cfg):
    return CTX.Queue()


def fasterfifo_prepare(cfg):
    import faster_fifo

    # put_many needs room for the whole batch at once, or it waits forever.
    return faster_fifo.Queue(max_size_bytes=max(RING_CAPACITY, 2 * cfg["batch"] * (cfg["size"] + 64)))


def queue_producer(cfg, me, barrier, sent, done):
    data = build_messages(cfg, me)
    q = cfg["endpoint"]
    q.put(warm_message(cfg, me))
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    if cfg["mode"] == "single":
        put_each(q.put, data)
    else:
        put_many = q.put_many
        for b in data:
            put_many(b, timeout=SYNC_TIMEOUT)
    producer_sent(sent)
    done.wait(SYNC_TIMEOUT)
    if hasattr(q, "join_thread"):
        q.close()
        q.join_thread()
    return {"t0": t0}


def queue_consumer(cfg, barrier, sent, done):
    q = cfg["endpoint"]
    for _ in range(cfg["producers"]):
        q.get(timeout=SYNC_TIMEOUT)
    barrier.wait(SYNC_TIMEOUT)
    if cfg["mode"] == "single":
        t1, n, total, bad = count_each(cfg, q.get)
    else:
        get_many, B = q.get_many, cfg["batch"]

        def batch():
            try:
                return get_many(timeout=STALL_TIMEOUT, max_messages_to_get=B)
            except queue.Empty:
                return None

        t1, n, total, bad = count_batches(cfg, batch, lambda ms: ms is None)
    wait_producers(sent, cfg["producers"])
    try:
        m = q.get(timeout=EXTRA_WAIT)
        extra = f"an extra message of {len(m)} bytes"
    except queue.Empty:
        extra = None
    done.set()
    return counted(t1, n, total, bad, extra)


# ---------------------------------------------------------------------------------------
# pyzmq PUSH/PULL over ipc://: the consumer binds, the producers connect.


def zmq_prepare(cfg):
    """A temporary directory holding the run's ipc:// socket."""
    return tempfile.mkdtemp(prefix=f"{TMP_PREFIX}-{cfg['run_id']}-")


def zmq_cleanup(directory):
    shutil.rmtree(directory, ignore_errors=True)


def zmq_address(cfg) -> str:
    return f"ipc://{cfg['endpoint']}/mpsc.zmq"


def zmq_producer(cfg, me, barrier, sent, done):
    import zmq

    data = build_messages(cfg, me)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(zmq_address(cfg))
    sock.send(warm_message(cfg, me))
    barrier.wait(SYNC_TIMEOUT)
    t0 = now()
    put_each(sock.send, data)
    producer_sent(sent)
    done.wait(SYNC_TIMEOUT)  # closing before the consumer has everything can lose messages
    sock.close(linger=1000)
    ctx.term()
    return {"t0": t0}


def zmq_consumer(cfg, barrier, sent, done):
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.bind(zmq_address(cfg))
    for _ in range(cfg["producers"]):
        if not sock.poll(SYNC_TIMEOUT * 1000):
            raise TimeoutError("no warm-up message")
        sock.recv()
    barrier.wait(SYNC_TIMEOUT)
    t1, n, total, bad = count_each(cfg, sock.recv)
    wait_producers(sent, cfg["producers"])
    extra = f"an extra message of {len(sock.recv())} bytes" if sock.poll(EXTRA_WAIT * 1000) else None
    done.set()
    sock.close(linger=0)
    ctx.term()
    return counted(t1, n, total, bad, extra)


# ---------------------------------------------------------------------------------------

IMPLS = {
    # transport: (prepare, cleanup, producer, consumer)
    "ringpy": (ringpy_prepare, benchlib.remove_quietly, ringpy_producer, ringpy_consumer),
    "faster-fifo": (fasterfifo_prepare, None, queue_producer, queue_consumer),
    "mp.Queue": (mpqueue_prepare, None, queue_producer, queue_consumer),
    "pyzmq": (zmq_prepare, zmq_cleanup, zmq_producer, zmq_consumer),
}


def one_run(cfg: dict, timeout: float) -> float:
    """Runs the N producers and the consumer once; returns the seconds from the start
    signal to the last message received."""
    prepare, cleanup, producer, consumer = IMPLS[cfg["impl"]]
    n = cfg["producers"]
    barrier, sent, done = CTX.Barrier(n + 1), CTX.Value("i", 0), CTX.Event()
    sides = [("consumer", consumer, (barrier, sent, done))]
    sides += [(f"producer-{p}", producer, (p, barrier, sent, done)) for p in range(n)]
    try:
        res = benchlib.run_peers(cfg, prepare, cleanup, sides, timeout)
    except BenchError as e:
        if "timed out" in str(e):
            raise BenchError(f"{e} (the consumer did not get all {cfg['total']} messages: lost?)") from None
        raise
    out = res["consumer"]
    t0 = min(res[f"producer-{p}"]["t0"] for p in range(n))
    problems = []
    if out["n"] != cfg["total"]:
        problems.append(f"received {out['n']} of {cfg['total']} messages")
    if out["bytes"] != cfg["total"] * cfg["size"]:
        problems.append(f"received {out['bytes']} bytes, expected {cfg['total'] * cfg['size']}")
    if out["bad"]:
        problems.append(f"{out['bad']} sampled messages with a wrong producer id")
    if out["extra"]:
        problems.append(f"{out['extra']} after the last")
    if problems:
        raise BenchError("; ".join(problems))
    elapsed = (out["t1"] - t0) / 1e9
    if elapsed <= 0:
        raise BenchError(f"non-positive elapsed time {elapsed}")
    return elapsed


def batch_for(size: int, batch: int) -> int:
    """Messages per batch: --batch, at most BATCH_BYTES of payload (as bench_throughput.py)."""
    return max(1, min(batch, BATCH_BYTES // size))


def fmt_rate(x: float) -> str:
    return f"{x / 1e6:.3f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def parse_list(ap, text: str, kind, allowed, what: str) -> list:
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        v = kind(ALIASES.get(item.lower(), item)) if kind is str else kind(item)
        if v not in allowed:
            ap.error(f"{what} {item!r}: choose among {', '.join(map(str, allowed))}")
        values.append(v)
    if not values:
        ap.error(f"no {what}")
    return values


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median, min, max); default 3")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: 1 run, {QUICK_SCALE:g}x the messages (unless --runs / --count)")
    ap.add_argument("--producers", default=",".join(map(str, PRODUCERS)), help="producer counts (default 1,2,4)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="message sizes in bytes (default 64,1024)")
    ap.add_argument("--transports", default=",".join(IMPLS), help=f"default {','.join(IMPLS)}")
    ap.add_argument("--modes", default="single,batch", help="single, batch or both (default both)")
    ap.add_argument("--count", type=int, help="messages per producer (default: the transport's total / N)")
    ap.add_argument("--batch", type=int, default=256, help="messages per batch of the batch modes (default 256)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is killed")
    ap.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    args = ap.parse_args(argv)
    runs_given = any(a == "--runs" or a.startswith("--runs=") for a in (argv if argv is not None else sys.argv[1:]))
    runs = 1 if args.quick and not runs_given else args.runs
    scale = QUICK_SCALE if args.quick else 1.0

    producer_counts = parse_list(ap, args.producers, int, range(1, 65), "producer count")
    sizes = parse_list(ap, args.sizes, int, range(16, (1 << 20) + 1), "size")
    transports = parse_list(ap, args.transports, str, tuple(IMPLS), "transport")
    modes = parse_list(ap, args.modes, str, ("single", "batch"), "mode")
    cases = [c for c in CASES if c[0] in transports and c[1] in modes]
    if not cases:
        ap.error("no case: no transport among those selected has one of the modes selected")

    env = benchlib.environment()
    settings = {"runs": runs, "quick": args.quick, "producers": producer_counts, "sizes": sizes,
                "transports": transports, "modes": modes, "count_per_producer": args.count,
                "batch": args.batch, "ring_capacity": RING_CAPACITY, "timeout_s": args.timeout,
                "processes": "N producers + 1 consumer, multiprocessing spawn",
                "rate": "N * COUNT / (last message received - start signal)"}
    benchlib.print_environment(env, f"runs={runs}{' (quick)' if args.quick else ''}")
    shared, shared_reason = False, None
    if "ringpy" in transports and env["peers"]["ringpy"]["available"]:
        shared, shared_reason = shared_producer_api()
        if shared:
            print("  ringpy: shared-producer API present: Ring.create(path, capacity, producers=N)")
        else:
            print(f"  ringpy: shared-producer API unavailable ({shared_reason}): N = 1 runs on a plain "
                  "1.0 ring (Ring.create(path, capacity)), N > 1 is skipped")
    env["ringpy_shared_producers"] = {"available": shared, "reason": shared_reason}
    print("  calls: " + "; ".join(f"{i} {m}: {calls}" for i, m, _, calls in cases))

    records = []
    for size in sizes:
        print(f"\n== {size} B messages ==")
        print(f"{'transport':12s} {'mode':7s} {'N':>2s} {'per prod':>9s} {'agg msgs/s':>11s} {'min':>9s} "
              f"{'max':>9s} {'MB/s':>8s} {'s/run':>6s}")
        for impl, mode, peer, calls in cases:
            for n in producer_counts:
                count = args.count or max(1000, int(TOTALS[impl].get(size, TOTALS[impl][1024]) * scale)) // n
                total = count * n
                label = f"{impl:12s} {mode:7s} {n:2d}"
                rec = {"impl": impl, "mode": mode, "producers": n, "size": size, "count": count, "total": total,
                       "runs": 0, "available": True, "calls": calls}
                if impl == "ringpy":
                    rec["ring"] = f"Ring.create(producers={n})" if shared else "1.0 ring (no producers=)"
                    rec["shared_producers"] = shared
                cfg = {"impl": impl, "mode": mode, "size": size, "count": count, "total": total, "producers": n,
                       "pool": pool_size(size, count), "batch": batch_for(size, args.batch), "shared": shared}
                if impl == "ringpy" and n > 1 and not shared and env["peers"]["ringpy"]["available"]:
                    rec.update(available=False, reason=f"shared-producer API unavailable: {shared_reason}")
                    print(f"{label} unavailable: {rec['reason']}")
                    records.append(rec)
                    continue
                seconds = benchlib.measure(rec, label, env, peer, runs, one_run, cfg, args.timeout)
                rates = [total / s for s in seconds]
                if rates:
                    rec["runs"] = len(rates)
                    rec["msgs_per_s"] = benchlib.summarize(rates)
                    rec["mb_per_s"] = benchlib.summarize([r * size / 1e6 for r in rates])
                    rec["msgs_per_s_each_run"] = rates
                    rec["seconds_each_run"] = seconds
                    s = rec["msgs_per_s"]
                    print(f"{label} {count:9d} {fmt_rate(s['median']):>11s} {fmt_rate(s['min']):>9s} "
                          f"{fmt_rate(s['max']):>9s} {rec['mb_per_s']['median']:8.1f} "
                          f"{statistics.median(seconds):6.2f}", flush=True)
                records.append(rec)
                if args.json:
                    benchlib.write_json(args.json, {"benchmark": "mpsc", "settings": settings,
                                                    "environment": env, "records": records})

    payload = {"benchmark": "mpsc", "settings": settings, "environment": env, "records": records}
    if args.json:
        benchlib.write_json(args.json, payload)
        print(f"\nwrote {args.json}")
    print(json.dumps(payload, separators=(",", ":")), flush=True)
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
