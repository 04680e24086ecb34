"""fanout_table.py - the several-readers figures of run_all.py (issue #14): the Swift
(ring-bench fanout) and C (ring_bench fanout) commands, their records, and the "Several
readers" table of results.md with the targets of issue #14. The Python figures (ringpy and
its publish-subscribe peers) come from bench/python/bench_fanout.py.

A record: impl, mode ("saturated": as fast as the readers allow, for messages/s; "paced":
one message every GAP_NS, for one-way latency), readers (0: a 1.0 ring and its single
consumer), size, processes, per_reader_msgs_per_s (the median reader of each run,
summarized over the runs), p50_us and p99_us (paced), readers_wait, lossless,
delivered_min (the smallest fraction of the messages a subscriber received).
"""

from __future__ import annotations

import statistics

SIZES = (64, 65536)
READERS = (0, 1, 2, 4)
#: Messages of a saturated Swift or C run with 0 or 1 reader (about 0.3-1.5 s on 2 cores;
#: with 2 and 4 readers a quarter or half as many) and of a paced one.
COUNTS = {64: 4_000_000, 65536: 100_000}
PACED_COUNT = 5_000
#: The paced producer's gap: longer than a reader's 50 us spin, so readers sleep on the
#: futex between messages and each message wakes them.
GAP_NS = 100_000
OURS_WAIT = "spin <= 50 us, then futex sleep"
OURS = ("swift", "c", "ringpy")
PEERS = ("iceoryx2", "zenoh", "pyzmq")


def commands(ring_bench: str, c_bench: str, lib: str) -> list[list[str]]:
    """Every Swift and C fanout command: saturated and paced, each size, each reader count."""
    out = []
    for size in SIZES:
        for n in READERS:
            saturated = COUNTS[size] // (4 if n > 1 and size == 64 else 2 if n > 1 else 1)
            for count, gap in ((saturated, 0), (PACED_COUNT, GAP_NS)):
                out.append([ring_bench, "fanout", "--readers", str(n), "--size", str(size), "--count", str(count)]
                           + (["--gap-ns", str(gap)] if gap else []))
                out.append([c_bench, lib, "fanout", str(n), str(size), str(count)] + ([str(gap)] if gap else []))
    return out


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def record(runs: list[dict]) -> dict:
    """The record of one Swift or C command from its runs (ring-bench's JSON objects)."""
    r = runs[0]
    rec = {k: r[k] for k in ("impl", "mode", "readers", "size", "count", "processes")}
    rec.update(runs=len(runs), available=True, lossless=True, readers_wait=OURS_WAIT, delivered_min=1.0,
               per_reader_msgs_per_s=summarize([x["per_reader_msgs_per_s_median"] for x in runs]),
               per_reader_msgs_per_s_min=summarize([x["per_reader_msgs_per_s_min"] for x in runs]))
    if r["mode"] == "paced":
        rec.update(gap_ns=GAP_NS, p50_us=summarize([x["p50_us"] for x in runs]),
                   p99_us=summarize([x["p99_us"] for x in runs]))
    return rec


def from_python(records: list[dict]) -> list[dict]:
    """bench_fanout.py's records with their latencies in microseconds, as the others'."""
    out = []
    for r in records:
        r = dict(r)
        ns = r.pop("one_way_ns", None)
        r.pop("each_run", None)
        if ns:
            for key in ("p50", "p99"):
                r[f"{key}_us"] = {k: v / 1000 for k, v in ns[key].items()}
        out.append(r)
    return out


# ---------------------------------------------------------------------------------------
# The table


def find(fanout: list[dict], impl: str, mode: str, readers: int, size: int) -> dict | None:
    for r in fanout:
        if (r.get("impl"), r.get("mode"), r.get("readers"), r.get("size")) == (impl, mode, readers, size):
            return r
    return None


def rate(fanout, impl, readers, size) -> float | None:
    r = find(fanout, impl, "saturated", readers, size)
    return r["per_reader_msgs_per_s"]["median"] if r and "per_reader_msgs_per_s" in r else None


def p50(fanout, impl, readers, size) -> float | None:
    r = find(fanout, impl, "paced", readers, size)
    return r["p50_us"]["median"] if r and "p50_us" in r else None


def baseline_readers(impl: str) -> int:
    """What a figure's ratio is to: our single consumer (0), a peer's one subscriber (1)."""
    return 0 if impl in OURS else 1


def fmt(v: float) -> str:
    return f"{v / 1e6:.2f} M" if v >= 1e5 else f"{v / 1e3:.1f} k"


def size_name(size: int) -> str:
    return "64 KiB" if size == 65536 else f"{size} B"


def rows(fanout: list[dict]) -> list[str]:
    lines = ["| implementation | readers | size | processes | per-reader msgs/s | ratio to single consumer | "
             f"one-way p50 / p99 us (paced, {GAP_NS // 1000} us gap) | readers wait |",
             "|---|---|---|---|---|---|---|---|"]
    for impl in OURS + PEERS:
        for size in SIZES:
            for n in READERS:
                sat, paced = find(fanout, impl, "saturated", n, size), find(fanout, impl, "paced", n, size)
                if sat is None and paced is None:
                    continue
                rec = sat or paced
                who = "0 (1.0 consumer)" if n == 0 else str(n)
                procs = f"{rec.get('processes', max(n, 1) + 1)}" + (" + I/O threads" if impl in ("zenoh", "pyzmq") else "")
                head = f"| {impl} | {who} | {size_name(size)} | {procs} |"
                if not rec.get("available", True) or "error" in rec:
                    why = rec.get("reason") or rec.get("error", "")
                    lines.append(f"{head} {'unavailable' if not rec.get('available', True) else 'FAILED'}: "
                                 f"{why[:160]} | | | |")
                    continue
                cell = ratio = lat = ""
                if sat and "per_reader_msgs_per_s" in sat:
                    m = sat["per_reader_msgs_per_s"]
                    cell = f"{fmt(m['median'])} ({fmt(m['min'])}-{fmt(m['max'])})"
                    if sat.get("delivered_min", 1.0) < 1.0:
                        cell += f", delivered >= {sat['delivered_min']:.0%}"
                    base = rate(fanout, impl, baseline_readers(impl), size)
                    if base and n != baseline_readers(impl):
                        ratio = f"{m['median'] / base:.2f}x" + ("" if impl in OURS else " (of 1 subscriber)")
                if paced and "p50_us" in paced:
                    lat = f"{paced['p50_us']['median']:.1f} / {paced['p99_us']['median']:.1f}"
                    if paced.get("delivered_min", 1.0) < 1.0:
                        lat += f", delivered >= {paced['delivered_min']:.0%}"
                lines.append(f"{head} {cell} | {ratio} | {lat} | {rec.get('readers_wait', '')} |")
    return lines


def targets(fanout: list[dict]) -> list[str]:
    """The targets of issue #14, each with what this run measured."""
    out = ["| target (issue #14) | measured | |", "|---|---|---|"]

    def add(target: str, value: float | None, goal: float, higher: bool = True, unit: str = "x") -> None:
        if value is None:
            out.append(f"| {target} | not measured | |")
            return
        met = value >= goal if higher else value <= goal
        out.append(f"| {target} | {value:.2f}{unit} | {'met' if met else 'MISSED'} |")

    for impl in OURS:
        for size in SIZES:
            one, four, base = rate(fanout, impl, 1, size), rate(fanout, impl, 4, size), rate(fanout, impl, 0, size)
            add(f"{impl} {size_name(size)}: per-reader rate with 4 readers >= 0.7x the single consumer",
                four and base and four / base, 0.7)
            add(f"{impl} {size_name(size)}: 1 reader's rate within 10% of the single consumer (>= 0.9x)",
                one and base and one / base, 0.9)
            l1, l0 = p50(fanout, impl, 1, size), p50(fanout, impl, 0, size)
            add(f"{impl} {size_name(size)}: 1 reader's one-way p50 within 10% of the single consumer (<= 1.1x)",
                l1 and l0 and l1 / l0, 1.1, higher=False)
    for size in SIZES:
        for n in (1, 2, 4):
            peers = [(p, rate(fanout, p, n, size)) for p in PEERS]
            peers = [(p, v) for p, v in peers if v]
            ours = rate(fanout, "ringpy", n, size)
            if not peers:
                add(f"ringpy {size_name(size)}, {n} readers: >= 2x the fastest peer", None, 2)
                continue
            best, v = max(peers, key=lambda x: x[1])
            add(f"ringpy {size_name(size)}, {n} readers: per-reader >= 2x the fastest peer's per-subscriber "
                f"rate ({best}, {fmt(v)}/s)", ours and ours / v, 2)
    return out


def render(fanout: list[dict], cpus: int | None) -> list[str]:
    """The "Several readers" section of results.md."""
    if not fanout:
        return []
    text = (
        "One producer process and N reader processes of one ring (format 1.1, gating readers: lossless) or of "
        "a peer's publish-subscribe; readers 0 is a 1.0 ring and its single consumer, the baseline of the ratio "
        "(a peer's ratio is to its own one subscriber). "
        f"This machine has {cpus or '?'} cores: with 2 and 4 readers, 3 and 5 processes share them. "
        "Per-reader msgs/s: the median reader of a saturated run (the producer as fast as the slowest reader "
        "allows), median of the runs (min-max). One-way latency: now minus the send time the producer stamps in "
        "bytes 8..15 (CLOCK_MONOTONIC), p50 and p99 of the median reader, median of the runs, in a paced run "
        f"({PACED_COUNT} messages, one every {GAP_NS // 1000} us; the producer spins between them). "
        "Our readers block: they spin up to 50 us, then sleep on the futex; in saturated runs they mostly "
        "spin (the next message comes within 50 us, unless the producer or they are descheduled), in paced runs "
        "they spin 50 us after each message and then sleep until the next wakes them. "
        "Swift and C readers copy each message out and record its latency in every run; Python readers "
        "(Reader.get: one message per call, into a bytes) record it only in paced runs, and the Python "
        "producers stamp each message with struct.pack_into. "
        "Peers: iceoryx2 (safe overflow off, RetryUntilDelivered: lossless; its subscribers poll), Zenoh over "
        "unixsock-stream (CongestionControl.BLOCK), pyzmq PUB/SUB over ipc:// (HWM: as many messages as the "
        "ring holds; PUB drops at the HWM): rates are of the delivered messages, with the share delivered when "
        "some were lost; zmq and Zenoh also run I/O threads in each process."
    )
    return ["", "### Several readers (one producer, N reader processes)", "", text, "", *rows(fanout), "",
            *targets(fanout)]
