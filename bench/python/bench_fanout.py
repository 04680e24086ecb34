#!/usr/bin/env python3
"""One producer, N subscriber processes: per-subscriber messages/s and one-way latency of
ringpy's readers (format 1.1) beside the publish-subscribe a Python user would pick instead
(iceoryx2, Eclipse Zenoh, pyzmq PUB/SUB over ipc://; see fanout_transports.py).

For 64 B and 64 KiB messages and 1, 2 and 4 subscribers (ringpy also 0: a 1.0 ring and its
single consumer, the baseline), each subscriber its own process (multiprocessing "spawn"):

  saturated  the producer sends COUNT messages as fast as the transport takes them; each
             subscriber's rate is what it received over the time from the producer's first
             send to its own end of the stream (messages/s per subscriber)
  paced      the producer sends one message every --gap-ns (default 100 us, longer than a
             ringpy reader's 50 us spin: the readers sleep between messages); each message
             carries its send time (time.monotonic_ns, CLOCK_MONOTONIC, comparable across
             processes) in bytes 8..15 and each subscriber records now minus that for every
             message: p50/p99 one-way latency (median over the subscribers)

Message i carries i in bytes 0..7. ringpy readers join before the producer starts and the
end is close_writer(). The peers' subscribers may join late (slow joiners): the producer
sends a 1-byte PROBE every millisecond until every subscriber has received one, then the
messages, then a 1-byte END (again every 10 ms until every subscriber has it, for the lossy
ones). pyzmq PUB drops at its HWM and zenoh may drop: what each subscriber received is
counted (delivered), and its rate is that of the delivered messages.

Each figure is the median of --runs runs, with min and max. Peers that are not installed
(see setup_venv.sh) are reported unavailable with the reason.

    .venv-bench/bin/python bench/python/bench_fanout.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import array
import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from benchlib import CTX, BenchError  # noqa: E402
from fanout_transports import END, PROBE, TRANSPORTS  # noqa: E402

SIZES = (64, 65536)
READERS = {"ringpy": (0, 1, 2, 4), "iceoryx2": (1, 2, 4), "zenoh": (1, 2, 4), "pyzmq": (1, 2, 4)}
#: Messages of a saturated run with one subscriber, picked so that a run takes about
#: 0.5-2 s on a 2-core machine; with 2 and 4 subscribers half as many.
COUNTS = {
    "ringpy": {64: 1_000_000, 65536: 100_000},
    "iceoryx2": {64: 200_000, 65536: 80_000},
    "zenoh": {64: 300_000, 65536: 40_000},
    "pyzmq": {64: 500_000, 65536: 100_000},
}
PACED_COUNT = 5_000
SYNC_TIMEOUT = 60.0
now = time.monotonic_ns


def count_for(impl: str, size: int, readers: int, mode: str) -> int:
    if mode == "paced":
        return PACED_COUNT
    return COUNTS[impl][size] // (1 if readers <= 1 else 2)


# ---------------------------------------------------------------------------------------
# The producer


def stream(cfg, send) -> int:
    """Sends cfg["count"] messages, stamped with their index and send time; returns the
    time of the first send."""
    buf = bytearray(b"\xab" * cfg["size"])
    count, gap = cfg["count"], cfg["gap_ns"]
    clock, stamp = now, struct.Struct("<QQ").pack_into
    t0 = clock()
    if gap:
        due = t0
        for i in range(count):
            while clock() < due:
                pass
            due += gap
            stamp(buf, 0, i, clock())
            send(buf)
    else:
        for i in range(count):
            stamp(buf, 0, i, clock())
            send(buf)
    return t0


def until(counter, n: int, action, every: float, what: str) -> None:
    """Calls action() (None: nothing) every `every` seconds until counter reaches n."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    while counter.value < n:
        if time.monotonic() > deadline:
            raise BenchError(f"{counter.value} of {n} subscribers {what} within {SYNC_TIMEOUT:.0f} s")
        if action is not None:
            action()
        time.sleep(every)


def producer_side(cfg, barrier, joined, done):
    """The producer: waits for the subscribers, sends, ends the stream."""
    _, _, _, publisher, _, lossless, _ = TRANSPORTS[cfg["impl"]]
    pub = publisher(cfg)
    n = max(1, cfg["readers"])
    barrier.wait(SYNC_TIMEOUT)
    if pub.markers:
        until(joined, n, pub.probe, 0.001, "joined")
    t0 = stream(cfg, pub.send)
    t_sent = now()
    if pub.markers:
        pub.end()
        until(done, n, None if lossless else pub.end, 0.01, "got END")
    else:
        pub.end()
    pub.close()
    return {"t0": t0, "t_sent": t_sent}


# ---------------------------------------------------------------------------------------
# The subscribers' loops: (end time, messages, last message, delays or None)


def count_to_eos(get, end_error):
    n = 0
    m = None
    try:
        while True:
            m = get()
            n += 1
    except end_error:
        pass
    return now(), n, m, None


def time_to_eos(get, end_error, count):
    delays = array.array("q", bytes(8 * count))
    clock, frm = now, int.from_bytes
    n = 0
    m = None
    try:
        while True:
            m = get()
            delays[n] = clock() - frm(m[8:16], "little")
            n += 1
    except end_error:
        pass
    return now(), n, m, delays


def count_to_end(recv):
    n = 0
    last = None
    while True:
        m = recv()
        if len(m) < 16:
            if m == END:
                break
            continue  # a late PROBE
        last = m
        n += 1
    return now(), n, last, None


def time_to_end(recv, count):
    delays = array.array("q", bytes(8 * count))
    clock, frm = now, int.from_bytes
    n = 0
    last = None
    while True:
        m = recv()
        if len(m) < 16:
            if m == END:
                break
            continue
        delays[n] = clock() - frm(m[8:16], "little")
        last = m
        n += 1
    return now(), n, last, delays


def percentile(sorted_values, q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def reader_side(cfg, barrier, joined, done):
    """One subscriber: joins, receives until the end of the stream, reports."""
    _, _, _, _, subscriber, _, _ = TRANSPORTS[cfg["impl"]]
    sub = subscriber(cfg)
    paced = cfg["gap_ns"] > 0
    barrier.wait(SYNC_TIMEOUT)
    if cfg["impl"] == "ringpy":
        args = (sub.recv, sub.end_error) + ((cfg["count"],) if paced else ())
        t_end, n, last, delays = (time_to_eos if paced else count_to_eos)(*args)
    else:
        while sub.recv() != PROBE:
            pass
        with joined.get_lock():
            joined.value += 1
        t_end, n, last, delays = time_to_end(sub.recv, cfg["count"]) if paced else count_to_end(sub.recv)
        with done.get_lock():
            done.value += 1
    sub.close()
    out = {"n": n, "t_end": t_end, "last": int.from_bytes(last[:8], "little") if last else -1,
           "bad_size": int(last is not None and len(last) != cfg["size"])}
    if delays is not None and n:
        d = sorted(delays[:n])
        out.update(p50_ns=percentile(d, 0.50), p99_ns=percentile(d, 0.99))
    return out


# ---------------------------------------------------------------------------------------
# Runs


def one_run(cfg: dict, timeout: float) -> dict:
    """Runs the producer and the subscribers once; returns this run's per-subscriber figures."""
    _, prepare, cleanup, _, _, lossless, _ = TRANSPORTS[cfg["impl"]]
    n = max(1, cfg["readers"])
    barrier, joined, done = CTX.Barrier(n + 1), CTX.Value("i", 0), CTX.Value("i", 0)
    sides = [("producer", producer_side, (barrier, joined, done))]
    sides += [(f"reader-{k}", reader_side, (barrier, joined, done)) for k in range(n)]
    res = benchlib.run_peers(cfg, prepare, cleanup, sides, timeout)
    t0 = res["producer"]["t0"]
    readers = [res[f"reader-{k}"] for k in range(n)]
    count = cfg["count"]
    for r in readers:
        if r["bad_size"] or r["n"] > count or (lossless and (r["n"] != count or r["last"] != count - 1)):
            raise BenchError(f"a subscriber got {r['n']} of {count} messages, the last #{r['last']}")
    rates = sorted(r["n"] / ((r["t_end"] - t0) / 1e9) for r in readers)
    out = {"per_reader_min": rates[0], "per_reader_median": rates[len(rates) // 2],
           "delivered_min": min(r["n"] for r in readers) / count}
    if all("p50_ns" in r for r in readers):
        for key in ("p50_ns", "p99_ns"):
            out[key] = sorted(r[key] for r in readers)[len(readers) // 2]
    return out


def fmt_rate(r: float) -> str:
    return f"{r / 1e6:.2f} M" if r >= 1e5 else f"{r / 1e3:.1f} k"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median, min, max); default 3")
    ap.add_argument("--json", metavar="PATH", help="write the records as JSON")
    ap.add_argument("--impls", help="comma-separated implementations (default: all)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated sizes (default 64,65536)")
    ap.add_argument("--readers", help="comma-separated subscriber counts (default: 0,1,2,4 for ringpy, 1,2,4 others)")
    ap.add_argument("--modes", default="saturated,paced", help="saturated and/or paced (default both)")
    ap.add_argument("--gap-ns", type=int, default=100_000, help="the paced producer's gap (default 100000)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is killed")
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",")]
    wanted_readers = {int(r) for r in args.readers.split(",")} if args.readers else None
    modes = args.modes.split(",")
    cases = [(impl, mode, size, n) for impl in READERS for mode in modes for size in sizes for n in READERS[impl]
             if wanted_readers is None or n in wanted_readers]
    cases = benchlib.select_cases(ap, args.impls, cases)

    env = benchlib.environment()
    benchlib.print_environment(env, f"runs={args.runs}, paced gap {args.gap_ns} ns, {os.cpu_count()} CPUs")
    print("\nper-subscriber messages/s: median of runs [min-max]; paced: one-way p50/p99 us")

    records = []
    for impl, mode, size, n in cases:
        peer, _, _, _, _, lossless, wait = TRANSPORTS[impl]
        count = count_for(impl, size, n, mode)
        rec = {"impl": "ringpy" if impl == "ringpy" else impl, "mode": mode, "readers": n, "size": size,
               "count": count, "processes": max(1, n) + 1, "runs": 0, "available": True,
               "lossless": lossless, "readers_wait": wait}
        if mode == "paced":
            rec["gap_ns"] = args.gap_ns
        cfg = {"impl": impl, "size": size, "readers": n, "count": count,
               "gap_ns": args.gap_ns if mode == "paced" else 0}
        label = f"{impl:9s} {mode:9s} {size:6d} B {n} readers"
        per_run = benchlib.measure(rec, label, env, peer, args.runs, one_run, cfg, args.timeout)
        if per_run:
            rec["runs"] = len(per_run)
            rec["per_reader_msgs_per_s"] = benchlib.summarize([r["per_reader_median"] for r in per_run])
            rec["per_reader_msgs_per_s_min"] = benchlib.summarize([r["per_reader_min"] for r in per_run])
            rec["delivered_min"] = min(r["delivered_min"] for r in per_run)
            if "p50_ns" in per_run[0]:
                rec["one_way_ns"] = {k[:3]: benchlib.summarize([r[k] for r in per_run]) for k in ("p50_ns", "p99_ns")}
            rec["each_run"] = per_run
            m = rec["per_reader_msgs_per_s"]
            line = f"{label}  {fmt_rate(m['median'])}/s [{fmt_rate(m['min'])}-{fmt_rate(m['max'])}]"
            if rec["delivered_min"] < 1:
                line += f"  delivered >= {rec['delivered_min']:.1%}"
            if "one_way_ns" in rec:
                o = rec["one_way_ns"]
                line += f"  p50 {o['p50']['median'] / 1000:.1f} us  p99 {o['p99']['median'] / 1000:.1f} us"
            print(line, flush=True)
        records.append(rec)
        benchlib.write_records(args.json, "fanout", env, records)
    return benchlib.finish(args.json, "fanout", env, records)


if __name__ == "__main__":
    sys.exit(main())
