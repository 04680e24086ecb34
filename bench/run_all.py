#!/usr/bin/env python3
"""run_all.py - every benchmark in one run on one machine (make bench): Swift (ring-bench),
C through the C ABI (bench/c), Python ringpy and its peers (bench/python), as medians of
--runs runs with min and max; also one producer to several readers in each of them
(fanout_table.py, bench/python/bench_fanout.py), and 1, 2 and 4 producers into one consumer
(mpsc_table.py, bench/python/bench_mpsc.py); typed rings beside mm-toolbox and numpy_ringbuffer
(typed_table.py, bench/python/bench_typed.py); the wake-up latency of an idle asyncio consumer
beside zmq.asyncio and an asyncio Unix socket (wake_table.py, bench/python/bench_wake.py); the
ZeroMQ bridge and transport beside raw pyzmq and libzmq over a veth pair between two network
namespaces (zmq_table.py, bench/python/bench_zmq.py, bench/c/zmq_raw.c, ring-zmq-bench).
Writes bench/results/results.json, results.md (the tables the README includes) and
throughput.png.

    run_all.py --ring-bench PATH --c-bench PATH --lib PATH --python PATH [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import fanout_table
import mpsc_table
import typed_table
import wake_table
import zmq_table

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [64, 1024, 65536]
COUNTS = {64: 5_000_000, 1024: 1_000_000, 65536: 50_000}
#: Batches are 256 messages but at most this much payload (as in bench/python): a
#: consumer frees room only after a whole batch, so a batch of half the ring or more
#: stops the producer instead of overlapping with it.
BATCH_BYTES = 256 << 10


def run_json(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def rounds(commands: list[list[str]], runs: int) -> list[list[dict]]:
    """Runs every command once per round, `runs` rounds, and returns each command's results.
    Rounds rather than all runs of one command in a row: a disturbance of the machine for a
    few seconds then costs each figure one run, which its median drops, instead of all the
    runs of whichever figure was being measured."""
    results: list[list[dict]] = [[] for _ in commands]
    for _ in range(runs):
        for i, cmd in enumerate(commands):
            results[i].append(run_json(cmd))
    return results


def settle() -> None:
    """Lets the machine go quiet after the builds that `make bench` runs first: writes the
    dirty pages out (the kernel's writeback otherwise takes a core for a while) and waits."""
    os.sync()
    time.sleep(5)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Linux {platform.release()}, Python {platform.python_version()}"


def fmt(rate: float) -> str:
    return f"{rate / 1e6:.2f} M" if rate >= 1e5 else f"{rate / 1e3:.1f} k"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ring-bench", required=True)
    ap.add_argument("--c-bench", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--python", required=True, help="the benchmark virtualenv's python")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--render-only", action="store_true", help="only rewrite results.md and the chart from results.json")
    args = ap.parse_args()
    if args.render_only:
        result = json.load(open(os.path.join(args.out, "results.json")))
        render(result, args.out)
        return 0
    os.makedirs(args.out, exist_ok=True)
    throughput: list[dict] = []
    latency: list[dict] = []

    settle()
    # (impl, mode, size, command) of every Swift/C throughput figure.
    cases = []
    for size in SIZES:
        n = COUNTS[size]
        batch = str(max(1, min(256, BATCH_BYTES // size)))
        cases += [("swift", "single", size, [args.ring_bench, "throughput", "--size", str(size), "--count", str(n)]),
                  ("swift", "batch", size, [args.ring_bench, "throughput", "--size", str(size), "--count", str(n * 4),
                                            "--batch", batch]),
                  ("c", "single", size, [args.c_bench, args.lib, str(size), str(n)]),
                  ("c", "batch", size, [args.c_bench, args.lib, str(size), str(n * 4), batch]),
                  ("swift-pipe", "single", size, [args.ring_bench, "pipe", "--size", str(size), "--count", str(n // 2)])]
    cases.append(("memcpy", "single", 65536, [args.ring_bench, "memcpy", "--size", "65536"]))
    print(f"swift/c throughput: {len(cases)} figures x {args.runs} rounds ...", flush=True)
    for (impl, mode, size, _), rs in zip(cases, rounds([c[3] for c in cases], args.runs)):
        throughput.append({"impl": impl, "mode": mode, "size": size, "runs": args.runs, "available": True,
                           "msgs_per_s": summarize([r["msgs_per_s"] for r in rs]),
                           "mb_per_s": summarize([r["mb_per_s"] for r in rs])})
    print("swift/c latency ...", flush=True)
    commands = [[args.ring_bench, "pingpong"],
                [args.ring_bench, "latency", "--count", "50000"],
                [args.ring_bench, "latency", "--count", "50000", "--blocking"],
                [args.c_bench, args.lib, "latency", "50000"],
                [args.ring_bench, "wake", "--count", "2000"],
                [args.ring_bench, "wake", "--count", "2000", "--async"]]
    for rs in rounds(commands, args.runs):
        latency.append({"impl": rs[0]["impl"], "runs": args.runs,
                        **{k: summarize([r[k] for r in rs]) for k in ("p50_us", "p99_us", "p999_us")}})

    commands = fanout_table.commands(args.ring_bench, args.c_bench, args.lib)
    print(f"swift/c several readers: {len(commands)} figures x {args.runs} rounds ...", flush=True)
    fanout = [fanout_table.record(rs) for rs in rounds(commands, args.runs)]

    with tempfile.TemporaryDirectory() as tmp:
        py_t, py_l, py_f = (os.path.join(tmp, f"{k}.json") for k in "tlf")
        print("python throughput ...", flush=True)
        subprocess.run([args.python, os.path.join(HERE, "python", "bench_throughput.py"), "--runs", str(args.runs),
                        "--json", py_t], check=False)
        print("python latency ...", flush=True)
        subprocess.run([args.python, os.path.join(HERE, "python", "bench_latency.py"), "--runs", str(args.runs),
                        "--json", py_l], check=False)
        print("python several readers ...", flush=True)
        subprocess.run([args.python, os.path.join(HERE, "python", "bench_fanout.py"), "--runs", str(args.runs),
                        "--gap-ns", str(fanout_table.GAP_NS), "--json", py_f], check=False)
        python_throughput = json.load(open(py_t)) if os.path.exists(py_t) else {"records": []}
        python_latency = json.load(open(py_l)) if os.path.exists(py_l) else {"records": []}
        python_fanout = json.load(open(py_f)) if os.path.exists(py_f) else {"records": []}
    throughput += python_throughput.get("records", [])
    latency += python_latency.get("records", [])
    fanout += fanout_table.from_python(python_fanout.get("records", []))
    # Several producers into one consumer (issue #15), beside faster-fifo, mp.Queue and pyzmq.
    mpsc = mpsc_table.measure(args.ring_bench, args.c_bench, args.lib, args.python, args.runs)
    # Typed rings (issue #16), beside mm-toolbox and numpy_ringbuffer.
    typed = typed_table.measure(args.python, args.runs)
    # Wake-up latency of an idle asyncio consumer (issue #17), beside zmq.asyncio and an asyncio socket.
    wake = wake_table.measure(args.python, args.runs)
    # The ZeroMQ bridge and transport (issue #18), beside raw pyzmq and libzmq.
    zmq = zmq_table.measure(args.python, args.runs)

    result = {"machine": machine(), "runs": args.runs, "throughput": throughput, "latency": latency,
              "fanout": fanout, "mpsc": mpsc, "typed": typed, "wake": wake, "zmq": zmq}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    render(result, args.out)
    return 0


def rate(throughput: list[dict], impl: str, mode: str | None, size: int) -> float | None:
    """Median msgs/s of one row (mode None: the best mode of impl), or None if not measured."""
    values = [r["msgs_per_s"]["median"] for r in throughput
              if r.get("impl") == impl and (mode is None or r.get("mode") == mode) and r.get("size") == size
              and r.get("available", True) and "msgs_per_s" in r]
    return max(values) if values else None


def p50_us(latency: list[dict], impl: str) -> float | None:
    """Median one-way p50 in microseconds of one latency row, or None."""
    for r in latency:
        if r.get("impl") != impl or not r.get("available", True):
            continue
        if "one_way_ns" in r:
            return r["one_way_ns"]["p50"]["median"] / 1000
        v = r.get("p50_us")
        if v is not None:
            return v["median"] if isinstance(v, dict) else v
    return None


PEERS = ("tachyon-ipc", "membridge", "faster-fifo", "mp.Queue", "pyzmq", "os.pipe")


def targets(throughput: list[dict], latency: list[dict]) -> list[str]:
    """The targets of issue #6 with what this run measured and the ratio to each target."""
    rows = []

    def add(target: str, measured: float | None, goal: float | None, unit: str, lower_is_better: bool = False) -> None:
        if measured is None or goal is None or goal == 0:
            rows.append(f"| {target} | not measured | | |")
            return
        ratio = goal / measured if lower_is_better else measured / goal
        rows.append(f"| {target} | {measured:,.2f} {unit} (target {goal:,.2f}) | {ratio:.2f}x | {'met' if ratio >= 1 else 'MISSED'} |")

    m = 1e6
    peers64 = [(p, rate(throughput, p, None, 64)) for p in PEERS]
    peers64 = [(p, v) for p, v in peers64 if v]
    best_peer, best_rate = max(peers64, key=lambda x: x[1]) if peers64 else ("none", None)
    single = rate(throughput, "ringpy", "single", 64)
    add(f"ringpy 64 B one per call >= 3x fastest peer ({best_peer})", single and single / m,
        best_rate and 3 * best_rate / m, "M msg/s")
    add("ringpy 64 B one per call >= 5 M msg/s", single and single / m, 5, "M msg/s")
    batch = rate(throughput, "ringpy", "batch", 64)
    add("ringpy 64 B batch >= 20 M msg/s", batch and batch / m, 20, "M msg/s")
    for impl in ("swift", "c"):
        for mode in ("single", "batch"):
            v = rate(throughput, impl, mode, 64)
            add(f"{impl} 64 B {mode} >= 50 M msg/s", v and v / m, 50, "M msg/s")
    tachyon = rate(throughput, "tachyon-ipc", None, 65536)
    memcpy = rate(throughput, "memcpy", "single", 65536)
    for impl, mode in (("ringpy", "single"), ("swift", "single"), ("c", "single")):
        v = rate(throughput, impl, mode, 65536)
        gbs = v and v * 65536 / 1e9
        add(f"{impl} 64 KiB >= 1.2x tachyon-ipc", gbs, tachyon and 1.2 * tachyon * 65536 / 1e9, "GB/s")
        add(f"{impl} 64 KiB >= 0.5x memcpy", gbs, memcpy and 0.5 * memcpy * 65536 / 1e9, "GB/s")
    membridge = p50_us(latency, "membridge")
    for impl in ("ringpy-spin", "ringpy-block"):
        v = p50_us(latency, impl)
        add(f"{impl} round trip p50 < 2 us", v and 2 * v, 2, "us", lower_is_better=True)
        add(f"{impl} round trip p50 below membridge", v and 2 * v, membridge and 2 * membridge, "us", lower_is_better=True)
    for impl in ("swift-spin", "c-spin"):
        v = p50_us(latency, impl)
        add(f"{impl} round trip p50 < 0.5 us", v and 2 * v, 0.5, "us", lower_is_better=True)
    add("futex-blocked reader wakes within 20 us (p50)", p50_us(latency, "swift-futex-wake"), 20, "us",
        lower_is_better=True)
    return ["| target (issue #6) | measured | ratio | |", "|---|---|---|---|", *rows]


def save_section(name: str, records: list[dict]) -> None:
    """Replaces section `name` of the stored results (bench/results/results.json, which must
    exist) with `records` and renders results.md and throughput.png again."""
    stored = os.path.join(HERE, "results", "results.json")
    result = json.load(open(stored))
    result[name] = records
    with open(stored, "w") as f:
        json.dump(result, f, indent=1)
    render(result, os.path.join(HERE, "results"))


def render(result: dict, out: str) -> None:
    """results.md (tables) and throughput.png (chart) from the results."""
    throughput, latency, runs = result["throughput"], result["latency"], result["runs"]

    # Markdown tables.
    lines = [f"Machine: {result['machine']}. Each figure: median of {runs} runs (min-max).", "",
             "| implementation | mode | " + " | ".join(f"{s} B msgs/s" for s in SIZES) + " | 64 KiB MB/s |",
             "|---|---|" + "---|" * (len(SIZES) + 1)]
    keys = []
    for r in throughput:
        k = (r.get("impl"), r.get("mode"))
        if k not in keys:
            keys.append(k)
    for impl, mode in keys:
        cells = []
        big = ""
        for s in SIZES:
            r = next((r for r in throughput if r.get("impl") == impl and r.get("mode") == mode and r.get("size") == s), None)
            if r is None or not r.get("available", True) or "msgs_per_s" not in r:
                cells.append("n/a" if r is None else f"unavailable")
                continue
            m = r["msgs_per_s"]
            cells.append(f"{fmt(m['median'])} ({fmt(m['min'])}-{fmt(m['max'])})")
            if s == 65536:
                big = f"{r['mb_per_s']['median']:.0f}"
        lines.append(f"| {impl} | {mode} | " + " | ".join(cells) + f" | {big} |")
    lines += ["", "One-way latency is half a ping-pong round trip, except swift-futex-wake (write to read, "
              "the reader asleep on the futex each time), swift-async-wake (the same, the reader a Swift task "
              "suspended on its doorbell) and cache-line-pingpong (one cache line bounced "
              "between two processes: the floor under any ring on this machine).",
              "", "| one-way latency, 64 B | p50 us | p99 us | p99.9 us |", "|---|---|---|---|"]
    for r in latency:
        if "one_way_ns" in r:  # bench/python records: nanoseconds, summarized over runs
            if not r.get("available", True):
                lines.append(f"| {r.get('impl')} | unavailable | | |")
                continue
            ns = r["one_way_ns"]
            lines.append(f"| {r.get('impl')} | {ns['p50']['median'] / 1000:.2f} | {ns['p99']['median'] / 1000:.2f} | "
                         f"{ns['p99.9']['median'] / 1000:.2f} |")
            continue
        p50 = next((r[k] for k in r if "p50" in k), None)
        p99 = next((r[k] for k in r if "p99" in k and "p999" not in k and "p99_9" not in k and "p99.9" not in k), None)
        p999 = next((r[k] for k in r if "p999" in k or "p99_9" in k or "p99.9" in k), None)
        name = r.get("impl", "?") + (f" ({r['mode']})" if r.get("mode") else "")
        if p50 is None:
            lines.append(f"| {name} | unavailable | | |")
            continue
        cell = lambda v: f"{v['median'] if isinstance(v, dict) else v:.2f}"
        lines.append(f"| {name} | {cell(p50)} | {cell(p99)} | {cell(p999)} |")
    lines += ["", *targets(throughput, latency)]
    lines += fanout_table.render(result.get("fanout", []), os.cpu_count())
    lines += mpsc_table.render(result.get("mpsc", []), throughput, os.cpu_count())
    lines += typed_table.render(result.get("typed", []))
    lines += wake_table.render(result.get("wake", []), latency)
    lines += zmq_table.render(result.get("zmq", []))
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    # Chart.
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(SIZES), figsize=(15, 5))
        for ax, s in zip(axes, SIZES):
            rows = [(f"{r['impl']} {r['mode']}", r["msgs_per_s"]["median"]) for r in throughput
                    if r.get("size") == s and r.get("available", True) and "msgs_per_s" in r]
            rows.sort(key=lambda x: x[1])
            ax.barh([n for n, _ in rows], [v for _, v in rows],
                    color=["tab:orange" if ("ringpy" in n or n.startswith(("swift ", "c "))) else "tab:gray" for n, _ in rows])
            ax.set_xscale("log")
            ax.set_title(f"{s} B messages, two processes")
            ax.set_xlabel("messages/s (log)")
            ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "throughput.png"), dpi=110)
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
