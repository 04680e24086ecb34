#!/usr/bin/env python3
"""Wake-up latency of an asyncio consumer (issue #17): how long after a producer in another
process sends a message an idle asyncio consumer has it, for ringpy's get_async beside
pyzmq's asyncio socket and an asyncio Unix stream socket, in the same run; and the
throughput of a plain put/get pair with and without a doorbell registered.

Wake-up (case "wake"): a producer process sends --count messages of 64 B, each carrying
time.monotonic_ns() at the send, with --gap-us between them (longer than any spin, so the
consumer's event loop is asleep each time). The consumer process runs one asyncio loop
that awaits K endpoints at once (one task each, K = --rings, default 1, 12 and 200); each
message goes to one endpoint picked at random (the same seeded order for every
transport). The consumer records monotonic_ns() - send_ns right after the await returns:
the kernel's wake-up, the event loop's turn and the transport's own Python code.

  ringpy        K rings (Ring.create in the parent, Ring.open in each side);
                producer Ring.put, consumer `await ring.get_async()`
  pyzmq         K PULL sockets of zmq.asyncio (the consumer binds ipc:// in a temporary
                directory), K PUSH sockets in the producer (sync zmq)
  asyncio-unix  one asyncio.start_unix_server, K connections of the producer (plain
                sockets, sendall of a 4-byte length prefix and the message);
                consumer `await reader.readexactly(4)` then the message
  asyncio-fifo  the floor of any fd-based asyncio consumer: K FIFOs, the producer
                os.write, the consumer os.read once loop.add_reader has fired

Before the timed messages the producer sends one warm-up message to each endpoint and
waits until the consumer has them all (connections made, roles taken). The producer
keeps its endpoints open until the consumer is done (PUSH sockets closed early can lose
their last messages); the consumer stops after --count messages, or when the producer is
done and nothing came for DRAIN_S seconds, and reports how many it got (the table shows
received/sent). Each process creates its own zmq context (multiprocessing "spawn").

Idle doorbell (case "throughput"): one producer process puts --ab-count messages of 64 B
(bench_throughput.py's ringpy single loop: Ring.put / Ring.get), the consumer gets them;
"none": nobody registered a doorbell; "registered": the consumer called ring.fileno() (its
doorbell exists, nobody awaits it). The two alternate run by run (--ab-runs each), so a
disturbance of the machine costs both alike. Expected: equal.

Figures: median over --runs runs of each run's p50, p99 and max, with min and max over
runs. Output: a table while it runs; the records in --json (as the other benchmarks).

    .venv-bench/bin/python bench/python/bench_wake.py [--runs 3] [--quick] [--count 2000]
        [--gap-us 1000] [--rings 1,12,200] [--transports ringpy,pyzmq,asyncio-unix,asyncio-fifo]
        [--ab-runs 5] [--ab-count N] [--json out.json]
"""

from __future__ import annotations

import argparse
import array
import asyncio
import os
import random
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_latency  # noqa: E402 - percentile
import bench_throughput  # noqa: E402 - the put/get loops of the idle-doorbell case
import benchlib  # noqa: E402
from benchlib import CTX, TMP_PREFIX, BenchError  # noqa: E402

SIZE = 64
#: A message: sequence number (-1: warm-up) and send time, padded to SIZE bytes.
STAMP = struct.Struct(f"<qq{SIZE - 16}x")
COUNT = 2000
QUICK_COUNT = 300
GAP_US = 1000
RINGS = (1, 12, 200)
SYNC_TIMEOUT = 60.0
#: The consumer gives up this long after the producer's last send if messages are missing.
#: Long, because get_async through executor threads can take seconds with 200 rings.
DRAIN_S = 15.0
#: How often the consumer's loop looks at the producer's state (its only timer).
WATCH_S = 0.25
AB_RUNS = 5
QUICK_SCALE = 0.05

# (transport, peer package or None, calls)
CASES = [
    ("ringpy", "ringpy", "Ring.put / await Ring.get_async()"),
    ("pyzmq", "pyzmq", "PUSH.send / await zmq.asyncio PULL.recv() over ipc://"),
    ("asyncio-unix", None, "socket.sendall / await StreamReader.readexactly, 4-byte length prefix"),
    ("asyncio-fifo", None, "os.write / loop.add_reader, then os.read (the floor: no transport code)"),
]

now = time.monotonic_ns


def ring_capacity(k: int) -> int:
    """Each of k rings holds a whole run's messages if the consumer never reads."""
    return max(1 << 16, (4 << 20) // k)


# ---------------------------------------------------------------------------------------
# Endpoints, made in the parent: {"dir": a temporary directory, "paths": one per endpoint}


def ringpy_prepare(cfg):
    import ringpy

    d = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}-{cfg['run_id']}-", dir="/dev/shm")
    paths = [os.path.join(d, f"{i}.ring") for i in range(cfg["rings"])]
    for p in paths:
        ringpy.Ring.create(p, ring_capacity(cfg["rings"]), ringpy.Policy.REJECT_WHEN_FULL).close()
    return {"dir": d, "paths": paths}


def zmq_prepare(cfg):
    d = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}-{cfg['run_id']}-")
    return {"dir": d, "paths": [f"ipc://{d}/{i}.ipc" for i in range(cfg["rings"])]}


def unix_prepare(cfg):
    d = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}-{cfg['run_id']}-")
    return {"dir": d, "paths": [os.path.join(d, "wake.sock")]}


def fifo_prepare(cfg):
    d = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}-{cfg['run_id']}-")
    paths = [os.path.join(d, f"{i}.fifo") for i in range(cfg["rings"])]
    for p in paths:
        os.mkfifo(p, 0o600)
    return {"dir": d, "paths": paths}


def remove_dir(endpoint) -> None:
    shutil.rmtree(endpoint["dir"], ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The consumer's loop, shared by the transports


async def collect(cfg, sync, receivers) -> dict:
    """Awaits every coroutine function of receivers at once, one task each, until
    cfg["count"] timed messages have come (or the producer is done and none came for
    DRAIN_S s). Sets sync's warm event once each receiver has had its warm-up message.
    Returns the delays (receive - send, ns, as array("q") bytes), the count and the
    number of duplicated sequence numbers."""
    _, warm, sent, _ = sync
    total = cfg["count"]
    delays = array.array("q")
    seen = bytearray(total)
    state = {"warm": 0, "dup": 0, "last": now()}
    finished = asyncio.Event()

    async def drain(recv):
        unpack, append = STAMP.unpack_from, delays.append
        while True:
            m = await recv()
            t = now()
            seq, sent_ns = unpack(m)
            state["last"] = t
            if seq < 0:
                state["warm"] += 1
                if state["warm"] == len(receivers):
                    warm.set()
                continue
            append(t - sent_ns)
            if seen[seq]:
                state["dup"] += 1
            seen[seq] = 1
            if len(delays) == total:
                finished.set()

    tasks = [asyncio.create_task(drain(r)) for r in receivers]
    waiter = asyncio.create_task(finished.wait())
    deadline = time.monotonic() + SYNC_TIMEOUT + total * cfg["gap_us"] * 3e-6
    try:
        while not finished.is_set():
            await asyncio.wait([waiter, *tasks], timeout=WATCH_S, return_when=asyncio.FIRST_COMPLETED)
            failed = next((t for t in tasks if t.done()), None)
            if failed is not None:
                failed.result()  # raises what ended it
                raise BenchError("a receiving task returned")
            if sent.is_set() and now() - state["last"] > DRAIN_S * 1e9 or time.monotonic() > deadline:
                break
    finally:
        for t in (waiter, *tasks):
            t.cancel()
        await asyncio.gather(waiter, *tasks, return_exceptions=True)
    return {"delays": delays.tobytes(), "count": len(delays), "dup": state["dup"], "warm": state["warm"]}


# ---------------------------------------------------------------------------------------
# Consumers (one asyncio loop each) and producers (plain blocking sends)


def ringpy_consumer(cfg, sync):
    """K rings' get_async awaited at once."""
    import ringpy

    rings = [ringpy.Ring.open(p) for p in cfg["endpoint"]["paths"]]
    try:
        async def run():
            sync[0].set()
            return await collect(cfg, sync, [r.get_async for r in rings])

        return asyncio.run(run())
    finally:  # after asyncio.run, which has waited for the executor's threads
        for r in rings:
            r.close()


def ringpy_producer(cfg, sync):
    import ringpy

    rings = [ringpy.Ring.open(p) for p in cfg["endpoint"]["paths"]]
    try:
        return produce(cfg, sync, [r.put for r in rings])
    finally:
        for r in rings:
            r.close()


def zmq_consumer(cfg, sync):
    """K zmq.asyncio PULL sockets' recv awaited at once."""

    async def run():
        import zmq
        import zmq.asyncio

        ctx = zmq.asyncio.Context()
        socks = []
        try:
            for addr in cfg["endpoint"]["paths"]:
                s = ctx.socket(zmq.PULL)
                s.bind(addr)
                socks.append(s)
            sync[0].set()
            return await collect(cfg, sync, [s.recv for s in socks])
        finally:
            for s in socks:
                s.close(linger=0)
            ctx.term()

    return asyncio.run(run())


def zmq_producer(cfg, sync):
    import zmq

    ctx = zmq.Context()
    socks = []
    try:
        for addr in cfg["endpoint"]["paths"]:
            s = ctx.socket(zmq.PUSH)
            s.connect(addr)
            socks.append(s)
        return produce(cfg, sync, [s.send for s in socks])
    finally:
        for s in socks:
            s.close(linger=0)
        ctx.term()


def framed(reader):
    """A coroutine function returning the next length-prefixed message of reader."""
    readexactly = reader.readexactly

    async def recv():
        n = int.from_bytes(await readexactly(4), "little")
        return await readexactly(n)

    return recv


def unix_consumer(cfg, sync):
    """One asyncio Unix server; its K accepted connections read at once."""

    async def run():
        accepted = asyncio.Queue()
        server = await asyncio.start_unix_server(lambda r, w: accepted.put_nowait((r, w)),
                                                 cfg["endpoint"]["paths"][0], backlog=cfg["rings"])
        conns = []
        try:
            sync[0].set()
            for _ in range(cfg["rings"]):
                conns.append(await asyncio.wait_for(accepted.get(), SYNC_TIMEOUT))
            return await collect(cfg, sync, [framed(r) for r, _ in conns])
        finally:
            for _, w in conns:
                w.close()
            server.close()

    return asyncio.run(run())


def unix_producer(cfg, sync):
    socks = []
    prefix = SIZE.to_bytes(4, "little")
    try:
        for _ in range(cfg["rings"]):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(cfg["endpoint"]["paths"][0])
            socks.append(s)
        return produce(cfg, sync, [lambda m, send=s.sendall: send(prefix + m) for s in socks])
    finally:
        for s in socks:
            s.close()


def readable(loop, fd):
    """A coroutine function returning the next record of the non-blocking fd (records of
    SIZE bytes, each written whole: SIZE < PIPE_BUF), awaiting loop.add_reader when empty."""
    read = os.read

    async def recv():
        while True:
            try:
                return read(fd, SIZE)
            except BlockingIOError:
                pass
            ready = loop.create_future()
            loop.add_reader(fd, ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_reader(fd)

    return recv


def fifo_consumer(cfg, sync):
    """K FIFOs, each read once add_reader fires. O_RDWR (Linux): reads of an empty FIFO
    give EAGAIN, not end of file, before the producer opens it."""
    fds = [os.open(p, os.O_RDWR | os.O_NONBLOCK) for p in cfg["endpoint"]["paths"]]
    try:
        async def run():
            loop = asyncio.get_running_loop()
            sync[0].set()
            return await collect(cfg, sync, [readable(loop, fd) for fd in fds])

        return asyncio.run(run())
    finally:
        for fd in fds:
            os.close(fd)


def fifo_producer(cfg, sync):
    fds = [os.open(p, os.O_WRONLY) for p in cfg["endpoint"]["paths"]]
    try:
        return produce(cfg, sync, [lambda m, fd=fd: os.write(fd, m) for fd in fds])
    finally:
        for fd in fds:
            os.close(fd)


def produce(cfg, sync, senders) -> dict:
    """The producer's part, whatever the transport: a warm-up message to each of senders,
    then cfg["count"] stamped messages, each to a random one, --gap-us apart; keeps the
    endpoints open (returns) only once the consumer is done."""
    _, warm, sent, done = sync
    for send in senders:
        send(STAMP.pack(-1, 0))
    if not warm.wait(SYNC_TIMEOUT):
        raise BenchError("the warm-up messages did not all arrive")
    order = random.Random(cfg["seed"]).choices(range(len(senders)), k=cfg["count"])
    gap, pack, sleep = cfg["gap_us"] / 1e6, STAMP.pack, time.sleep
    for i, k in enumerate(order):
        sleep(gap)
        senders[k](pack(i, now()))
    sent.set()
    done.wait(DRAIN_S + SYNC_TIMEOUT)
    return {"sent": len(order)}


IMPLS = {
    # transport: (prepare, consumer, producer)
    "ringpy": (ringpy_prepare, ringpy_consumer, ringpy_producer),
    "pyzmq": (zmq_prepare, zmq_consumer, zmq_producer),
    "asyncio-unix": (unix_prepare, unix_consumer, unix_producer),
    "asyncio-fifo": (fifo_prepare, fifo_consumer, fifo_producer),
}


def consumer_side(cfg, sync):
    """The consumer process: the transport's consumer, then the done signal (also after a
    failure, so the producer does not wait for it)."""
    try:
        return IMPLS[cfg["impl"]][1](cfg, sync)
    finally:
        sync[3].set()


def producer_side(cfg, sync):
    """The producer process: once the consumer is ready, the transport's producer."""
    if not sync[0].wait(SYNC_TIMEOUT):
        raise BenchError("the consumer was not ready")
    return IMPLS[cfg["impl"]][2](cfg, sync)


def wake_run(cfg: dict, timeout: float) -> dict:
    """One producer/consumer pair; returns p50, p99, max and mean of the delays (ns) and
    the count received."""
    prepare = IMPLS[cfg["impl"]][0]
    sync = (CTX.Event(), CTX.Event(), CTX.Event(), CTX.Event())  # ready, warm, sent, done
    res = benchlib.run_peers(cfg, prepare, remove_dir,
                             [("consumer", consumer_side, (sync,)), ("producer", producer_side, (sync,))], timeout)
    out = res["consumer"]
    if out["dup"]:
        raise BenchError(f"{out['dup']} messages arrived twice")
    delays = array.array("q")
    delays.frombytes(out["delays"])
    if not delays:
        raise BenchError("no timed message arrived")
    ordered = sorted(delays)
    return {"p50": bench_latency.percentile(ordered, 0.50), "p99": bench_latency.percentile(ordered, 0.99),
            "max": ordered[-1], "mean": statistics.fmean(ordered), "received": len(ordered),
            "sent": res["producer"]["sent"]}


# ---------------------------------------------------------------------------------------
# Idle doorbell: put/get throughput with and without ring.fileno()


def ab_consumer(cfg, barrier, done):
    """bench_throughput.py's ringpy single consumer, with the doorbell registered first
    (ring.fileno()) when cfg["doorbell"]."""
    import ringpy

    ring = ringpy.Ring.open(cfg["endpoint"])
    ring.get(timeout=SYNC_TIMEOUT)  # the warm-up message: the consumer role is taken
    if cfg["doorbell"]:
        ring.fileno()
    barrier.wait(SYNC_TIMEOUT)
    t1, n, total, bad, m = bench_throughput.count_each(cfg, ring.get)
    done.set()
    ring.close()
    return bench_throughput.result(cfg, t1, n, total, bad, m)


def ab_run(cfg: dict, timeout: float) -> float:
    """One put/get pair; returns messages/s from the producer's first put to the last get."""
    sync = (CTX.Barrier(2), CTX.Event())
    res = benchlib.run_peers(cfg, bench_throughput.ringpy_prepare, benchlib.remove_quietly,
                             [("consumer", ab_consumer, sync), ("producer", bench_throughput.ringpy_producer, sync)],
                             timeout)
    out = res["consumer"]
    if out["n"] != cfg["count"] or out["bad"]:
        raise BenchError(f"received {out['n']} of {cfg['count']} messages, {out['bad']} wrong")
    return cfg["count"] * 1e9 / (out["t1"] - res["producer"]["t0"])


def idle_doorbell(env: dict, runs: int, count: int, timeout: float) -> list[dict]:
    """The two records of the idle-doorbell case, their runs interleaved."""
    recs = {v: {"case": "throughput", "impl": "ringpy", "doorbell": v, "size": SIZE, "count": count, "runs": 0,
                "available": True,
                "calls": "Ring.put / Ring.get" + (", consumer ring.fileno() first" if v == "registered" else "")}
            for v in ("none", "registered")}
    if not env["peers"]["ringpy"]["available"]:
        for r in recs.values():
            r.update(available=False, reason=env["peers"]["ringpy"]["reason"])
        return list(recs.values())
    import ringpy

    if not hasattr(ringpy.Ring, "fileno"):
        recs["registered"].update(available=False, reason="this ringpy has no Ring.fileno() (no doorbell)")
    rates = {v: [] for v in recs}
    cfg = {"impl": "ringpy", "mode": "single", "size": SIZE, "count": count,
           "pool": bench_throughput.pool_size(SIZE, count)}
    for _ in range(runs):
        for v, rec in recs.items():
            if not rec["available"] or "error" in rec:
                continue
            try:
                rates[v].append(ab_run(dict(cfg, run_id=next(benchlib.RUN_IDS), doorbell=v == "registered"), timeout))
            except BenchError as e:
                rec["error"] = str(e)
                print(f"idle doorbell {v} FAILED: {str(e)[:2000]}")
    for v, rec in recs.items():
        if rates[v]:
            rec.update(runs=len(rates[v]), msgs_per_s=benchlib.summarize(rates[v]), msgs_per_s_each_run=rates[v])
            s = rec["msgs_per_s"]
            print(f"ringpy 64 B put/get, doorbell {v:10s} {bench_throughput.fmt_rate(s['median']):>9s} msgs/s "
                  f"[{bench_throughput.fmt_rate(s['min'])}-{bench_throughput.fmt_rate(s['max'])}]")
        elif rec["available"] and "error" not in rec:
            rec.update(available=False, reason="not run")
        if not rec["available"]:
            print(f"ringpy 64 B put/get, doorbell {v:10s} unavailable: {rec['reason']}")
    return list(recs.values())


# ---------------------------------------------------------------------------------------


def fmt_us(ns: float) -> str:
    return f"{ns / 1000:.1f}" if ns < 1e7 else f"{ns / 1000:,.0f}"


def main(argv=None) -> int:
    """Runs every case and prints (and with --json writes) the results; 1 if one failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median, min, max); default 3")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} messages and {QUICK_SCALE}x the A/B count")
    ap.add_argument("--count", type=int, help=f"timed messages per run (default {COUNT})")
    ap.add_argument("--gap-us", type=int, default=GAP_US, help=f"pause before each message (default {GAP_US})")
    ap.add_argument("--rings", default=",".join(map(str, RINGS)), help="endpoints awaited at once (default 1,12,200)")
    ap.add_argument("--transports", help="comma-separated transports (default: all)")
    ap.add_argument("--ab-runs", type=int, help=f"runs of each idle-doorbell variant (default {AB_RUNS}, 0: none)")
    ap.add_argument("--ab-count", type=int, help="messages per idle-doorbell run (default bench_throughput's)")
    ap.add_argument("--seed", type=int, default=17, help="of the order of the endpoints")
    ap.add_argument("--json", metavar="PATH", help="write the records as JSON")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds before a run is killed")
    args = ap.parse_args(argv)

    count = args.count or (QUICK_COUNT if args.quick else COUNT)
    rings = [int(k) for k in args.rings.split(",")]
    cases = benchlib.select_cases(ap, args.transports, CASES)
    env = benchlib.environment()
    benchlib.print_environment(env, f"runs={args.runs}, {count} messages of {SIZE} B, {args.gap_us} us apart")

    records = []
    print("\nwake-up latency of an asyncio consumer (send to await returning), us: median of runs [min-max]")
    print(f"{'transport':13s} {'K':>4s} {'p50':>22s} {'p99':>22s} {'max':>22s} {'received':>10s}")
    for k in rings:
        for impl, peer, calls in cases:
            rec = {"case": "wake", "impl": impl, "rings": k, "size": SIZE, "count": count, "gap_us": args.gap_us,
                   "runs": 0, "available": True, "calls": calls, "unit": "ns"}
            cfg = {"impl": impl, "rings": k, "count": count, "gap_us": args.gap_us, "seed": args.seed}
            per_run = benchlib.measure(rec, f"{impl:13s} {k:4d}", env, peer, args.runs, wake_run, cfg, args.timeout)
            if per_run:
                rec["runs"] = len(per_run)
                rec["wake_ns"] = {q: benchlib.summarize([r[q] for r in per_run]) for q in ("p50", "p99", "max", "mean")}
                rec["received"] = min(r["received"] for r in per_run)
                rec["each_run"] = per_run
                cells = [f"{fmt_us(rec['wake_ns'][q]['median'])} [{fmt_us(rec['wake_ns'][q]['min'])}-"
                         f"{fmt_us(rec['wake_ns'][q]['max'])}]" for q in ("p50", "p99", "max")]
                print(f"{impl:13s} {k:4d} " + " ".join(f"{c:>22s}" for c in cells) + f" {rec['received']:>5d}/{count}")
            records.append(rec)
            benchlib.write_records(args.json, "wake", env, records)

    ab_runs = AB_RUNS if args.ab_runs is None else args.ab_runs
    if ab_runs and any(c[0] == "ringpy" for c in cases):
        ab_count = args.ab_count or bench_throughput.count_for("ringpy", SIZE, QUICK_SCALE if args.quick else 1.0)
        print(f"\nidle doorbell: {ab_count} messages of {SIZE} B put/get, {ab_runs} runs each, interleaved")
        records += idle_doorbell(env, ab_runs, ab_count, args.timeout)
    return benchlib.finish(args.json, "wake", env, records)


if __name__ == "__main__":
    sys.exit(main())
