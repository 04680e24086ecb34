#!/usr/bin/env python3
"""One-way latency between two processes for 64 B messages: ping-pong round trip / 2.

A client process sends a message, a server process echoes it back, and the client times
each round trip with time.perf_counter_ns; after --warmup round trips it keeps
--iters of them and reports p50, p99 and p99.9 (and mean and max) of round trip / 2.

  ringpy-spin   two rings (ping, pong); readers spin on try_get, writers put
  ringpy-block  the same with blocking readers: get(timeout=...)
  mp.Pipe       multiprocessing.Pipe() (duplex), send_bytes/recv_bytes
  pyzmq         PAIR sockets over ipc://
  tachyon-ipc   two Buses (one per direction): Bus.send / next(iter(bus)) (it spins
                10000 times, then sleeps on a futex)
  membridge     two SpscRingBuffers, both readers spinning on pop (it has no blocking call)

Each figure is the median over --runs runs (each run a fresh pair of processes), with
min and max. Peers that are not installed (see setup_venv.sh) are reported unavailable.

    .venv-bench/bin/python bench/python/bench_latency.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import array
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from benchlib import CTX, TMP_PREFIX, BenchError  # noqa: E402

SIZE = 64
POOL = 1024
RING_CAPACITY = 1 << 20
SYNC_TIMEOUT = 60.0
GET_TIMEOUT = 10.0

# (impl, peer package or None)
CASES = [
    ("ringpy-spin", "ringpy"),
    ("ringpy-block", "ringpy"),
    ("mp.Pipe", None),
    ("pyzmq", "pyzmq"),
    ("tachyon-ipc", "tachyon-ipc"),
    ("membridge", "membridge"),
]


def messages() -> list[bytes]:
    filler = b"\xab" * (SIZE - 8)
    return [j.to_bytes(8, "little") + filler for j in range(POOL)]


def client_loop(cfg, send, recv) -> dict:
    """The timed ping-pong; send(m) and recv() -> bytes are the transport."""
    pool = messages()
    total = cfg["warmup"] + cfg["iters"]
    rtts = array.array("q", bytes(8 * total))
    clock = time.perf_counter_ns
    bad = 0
    for i in range(total):
        m = pool[i % POOL]
        t = clock()
        send(m)
        r = recv()
        rtts[i] = clock() - t
        if r[:8] != m[:8] or len(r) != SIZE:
            bad += 1
    return {"rtts": rtts[cfg["warmup"] :].tobytes(), "bad": bad}


def server_loop(cfg, send, recv) -> dict:
    """The echo side of the ping-pong: send(recv()) for each round trip."""
    for _ in range(cfg["warmup"] + cfg["iters"]):
        send(recv())
    return {}


def ping_pong(cfg, barrier, role, send, recv) -> dict:
    """This side's loop (client_loop or server_loop, by role) over the transport send and
    recv, once both sides are ready. A side that closes its transport afterwards meets the
    other at the barrier again first (the client has then read the last reply)."""
    barrier.wait(SYNC_TIMEOUT)
    loop = client_loop if role == "client" else server_loop
    return loop(cfg, send, recv)


# ---------------------------------------------------------------------------------------
# ringpy


def ringpy_prepare(cfg):
    """The paths of the run's two rings (ping, pong), created (removed with remove_all)."""
    import ringpy

    paths = [f"/dev/shm/{TMP_PREFIX}-{cfg['run_id']}-{d}.ring" for d in ("ping", "pong")]
    for p in paths:
        ringpy.Ring.create(p, RING_CAPACITY, replace=True).close()
    return paths


def remove_all(paths):
    """Removes each of paths that is there."""
    for p in paths:
        benchlib.remove_quietly(p)


def ringpy_side(cfg, barrier, role):
    """A client or server (role) over two rings: it puts to one and reads the other."""
    import ringpy

    ping, pong = (ringpy.Ring.open(p) for p in cfg["endpoint"])
    out, inp = (ping, pong) if role == "client" else (pong, ping)
    if cfg["impl"] == "ringpy-spin":
        try_get = inp.try_get

        def recv():
            while True:
                m = try_get()
                if m is not None:
                    return m
    else:
        get = inp.get

        def recv():
            return get(GET_TIMEOUT)

    res = ping_pong(cfg, barrier, role, out.put, recv)
    barrier.wait(SYNC_TIMEOUT)  # the client has read the last reply: the rings may go
    ping.close()
    pong.close()
    return res


# ---------------------------------------------------------------------------------------
# multiprocessing.Pipe


def pipe_prepare(cfg):
    """A duplex pipe: (the client's end, the server's end)."""
    return CTX.Pipe(duplex=True)


def pipe_side(cfg, barrier, role):
    """A client or server (role) over its end of the pipe."""
    conn = cfg["endpoint"][0 if role == "client" else 1]
    return ping_pong(cfg, barrier, role, conn.send_bytes, conn.recv_bytes)


# ---------------------------------------------------------------------------------------
# pyzmq PAIR over ipc://


def zmq_prepare(cfg):
    """The path of the run's ipc:// socket (removed with benchlib.remove_quietly)."""
    return benchlib.tmp_path(cfg, ".zmq")


def zmq_side(cfg, barrier, role):
    """A client or server (role) over a PAIR socket; the server binds."""
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.RCVTIMEO, int(GET_TIMEOUT * 1000))
    if role == "server":
        sock.bind(f"ipc://{cfg['endpoint']}")
    else:
        sock.connect(f"ipc://{cfg['endpoint']}")
    res = ping_pong(cfg, barrier, role, sock.send, sock.recv)
    barrier.wait(SYNC_TIMEOUT)
    sock.close(linger=0)
    ctx.term()
    return res


# ---------------------------------------------------------------------------------------
# tachyon-ipc: a Bus is one direction; listen() blocks until the other side connects.


def tachyon_prepare(cfg):
    """The paths of the run's two Unix sockets (ping, pong; removed with remove_all)."""
    return [benchlib.tmp_path(cfg, f"-{d}.sock") for d in ("ping", "pong")]


def tachyon_side(cfg, barrier, role):
    """A client or server (role) over two Buses: it listens on one, connects to the other."""
    import tachyon

    ping_path, pong_path = cfg["endpoint"]
    if role == "server":
        inp = tachyon.Bus.listen(ping_path, RING_CAPACITY)
        out = benchlib.tachyon_connect(pong_path, SYNC_TIMEOUT)
    else:
        out = benchlib.tachyon_connect(ping_path, SYNC_TIMEOUT)
        inp = tachyon.Bus.listen(pong_path, RING_CAPACITY)
    it = iter(inp)

    def recv():
        return next(it).data

    res = ping_pong(cfg, barrier, role, out.send, recv)
    barrier.wait(SYNC_TIMEOUT)
    out._bus.destroy()
    inp._bus.destroy()
    return res


# ---------------------------------------------------------------------------------------
# membridge: two SPSC rings in POSIX shm; push/pop never block, so both sides spin.


def membridge_prepare(cfg):
    """The names of the run's two shm segments (ping, pong), their rings created (removed
    with benchlib.membridge_remove)."""
    names = [f"/{TMP_PREFIX}-{cfg['run_id']}-{d}" for d in ("ping", "pong")]
    return benchlib.membridge_create(names, RING_CAPACITY)


def membridge_side(cfg, barrier, role):
    """A client or server (role) over two SPSC rings: it pushes to one and pops the other."""
    import membridge

    ping, pong = (membridge.SharedMemory.open(n).spsc() for n in cfg["endpoint"])
    out, inp = (ping, pong) if role == "client" else (pong, ping)
    pop, push = inp.pop, out.push

    def recv():
        while True:
            m = pop()
            if m is not None:
                return m

    def send(m):
        while not push(m):
            pass

    return ping_pong(cfg, barrier, role, send, recv)


# ---------------------------------------------------------------------------------------

IMPLS = {
    # impl: (prepare, cleanup, side), side(cfg, barrier, role) being the client or server
    "ringpy-spin": (ringpy_prepare, remove_all, ringpy_side),
    "ringpy-block": (ringpy_prepare, remove_all, ringpy_side),
    "mp.Pipe": (pipe_prepare, None, pipe_side),
    "pyzmq": (zmq_prepare, benchlib.remove_quietly, zmq_side),
    "tachyon-ipc": (tachyon_prepare, remove_all, tachyon_side),
    "membridge": (membridge_prepare, benchlib.membridge_remove, membridge_side),
}

QUANTILES = (("p50", 0.50), ("p99", 0.99), ("p99.9", 0.999))


def percentile(sorted_values, q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def one_run(cfg: dict, timeout: float, pin: bool = False) -> dict:
    """Runs one server/client pair; returns the statistics of the one-way latencies (ns)."""
    prepare, cleanup, side = IMPLS[cfg["impl"]]
    barrier = CTX.Barrier(2)
    res = benchlib.run_peers(
        cfg, prepare, cleanup, [("server", side, (barrier, "server")), ("client", side, (barrier, "client"))],
        timeout, pin,
    )
    out = res["client"]
    if out["bad"]:
        raise BenchError(f"{out['bad']} replies did not match their request")
    rtts = array.array("q")
    rtts.frombytes(out["rtts"])
    one_way = sorted(v / 2 for v in rtts)
    if len(one_way) != cfg["iters"]:
        raise BenchError(f"{len(one_way)} samples, expected {cfg['iters']}")
    stats = {name: percentile(one_way, q) for name, q in QUANTILES}
    stats["mean"] = statistics.fmean(one_way)
    stats["min"] = one_way[0]
    stats["max"] = one_way[-1]
    return stats


def fmt_ns(x: float) -> str:
    return f"{x / 1000:.2f}" if x < 1e7 else f"{x / 1000:.0f}"


def main(argv=None) -> int:
    """Runs every case and prints (and with --json writes) the results; 1 if one failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per implementation (median, min, max); default 3")
    ap.add_argument("--iters", type=int, default=20_000, help="timed round trips per run (default 20000)")
    ap.add_argument("--warmup", type=int, default=2_000, help="round trips before timing (default 2000)")
    ap.add_argument("--json", metavar="PATH", help="write the records as JSON")
    ap.add_argument("--impls", help="comma-separated implementations to run (default: all)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is killed")
    ap.add_argument("--pin", action="store_true", help="pin the two processes to two distinct CPUs")
    args = ap.parse_args(argv)

    cases = benchlib.select_cases(ap, args.impls, CASES)

    env = benchlib.environment()
    benchlib.print_environment(
        env, f"runs={args.runs}, {args.iters} round trips after {args.warmup} warm-up, {SIZE} B messages"
    )
    print("\none-way latency (round trip / 2), microseconds: median of runs [min-max]")
    print(f"{'impl':13s} {'p50':>22s} {'p99':>22s} {'p99.9':>22s} {'mean':>8s} {'max':>9s}")

    records = []
    for impl, peer in cases:
        rec = {"impl": impl, "size": SIZE, "iters": args.iters, "warmup": args.warmup, "runs": 0,
               "available": True, "unit": "ns"}
        cfg = {"impl": impl, "iters": args.iters, "warmup": args.warmup}
        per_run = benchlib.measure(rec, f"{impl:13s}", env, peer, args.runs, one_run, cfg, args.timeout, args.pin)
        if per_run:
            rec["runs"] = len(per_run)
            rec["one_way_ns"] = {
                key: benchlib.summarize([r[key] for r in per_run])
                for key in ("p50", "p99", "p99.9", "mean", "min", "max")
            }
            rec["each_run"] = per_run
            o = rec["one_way_ns"]

            def cell(key):
                s = o[key]
                return f"{fmt_ns(s['median'])} [{fmt_ns(s['min'])}-{fmt_ns(s['max'])}]"

            print(f"{impl:13s} {cell('p50'):>22s} {cell('p99'):>22s} {cell('p99.9'):>22s} "
                  f"{fmt_ns(o['mean']['median']):>8s} {fmt_ns(o['max']['median']):>9s}")
        records.append(rec)
        benchlib.write_records(args.json, "latency", env, records)  # keep what has been measured so far

    return benchlib.finish(args.json, "latency", env, records)


if __name__ == "__main__":
    sys.exit(main())
