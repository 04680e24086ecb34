#!/usr/bin/env python3
"""wake_table.py - the wake-up figures of run_all.py (issue #17): an asyncio consumer woken by a
producer in another process, ringpy's get_async beside pyzmq's zmq.asyncio PULL socket and an
asyncio Unix stream socket, with 1, 12 and 200 endpoints awaited at once
(bench/python/bench_wake.py); the Swift consumers of ring-bench wake (a reader asleep on the
futex, swift-futex-wake, and a Swift task on its doorbell, `--async`, swift-async-wake), which
run_all.py measures in its latency rounds; put/get throughput with and without a doorbell
registered; and the "Wake-up latency" section of results.md with the targets of issue #17.

run_all.py calls it with these lines:

    import wake_table                      # beside `import typed_table`
    wake = wake_table.measure(args.python, args.runs)
                                           # in main(), after the typed figures
    "wake": wake                           # in the `result = {...}` of main()
    lines += wake_table.render(result.get("wake", []), latency)
                                           # in render(), after the typed_table.render line

bench_wake.py does the --runs runs itself and writes its records to --json. A record: case
("wake" or "throughput"), impl (ringpy, pyzmq, asyncio-unix), calls, runs, available; wake:
rings (endpoints awaited at once), count (sent), received (the fewest of the runs), gap_us,
wake_ns {p50, p99, max, mean: {median, min, max} over the runs}; throughput: doorbell ("none"
or "registered"), msgs_per_s {median, min, max}; reason (unavailable) or error (failed).

Also a command line, to try it without run_all.py:

    bench/wake_table.py --python .venv-bench/bin/python [--ring-bench .build/release/ring-bench]
        [--runs 1] [--quick] [--save]
    bench/wake_table.py --render bench/results/results.json     (the section from stored results)
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))

import benchlib  # noqa: E402 - child_records
import typed_table  # noqa: E402 - cell: one {median, min, max} figure, or why there is none

TRANSPORTS = ("ringpy", "pyzmq", "asyncio-unix", "asyncio-fifo")
#: ring-bench's wake consumers (rows of run_all.py's latency section), one ring each.
SWIFT = {"swift-futex-wake": "ring-bench wake: a Swift consumer blocked on the futex (no event loop)",
         "swift-async-wake": "ring-bench wake --async: a Swift task suspended on its doorbell"}
TARGET_P50_US = 50.0
#: The idle-doorbell A/B: "registered" at least this fraction of "none" counts as no loss.
TARGET_NO_LOSS = 0.95


def measure(python: str, runs: int, quick: bool = False) -> list[dict]:
    """bench_wake.py's records (its output goes through to this process's stdout)."""
    print("python wake-up latency ...", flush=True)
    return benchlib.child_records(python, "bench_wake.py", runs, quick, failure={"case": "wake", "impl": "ringpy"})


def swift_rows(ring_bench: str, runs: int, count: int = 2000) -> list[dict]:
    """ring-bench wake and wake --async, as run_all.py's latency rows (for the command line;
    run_all.py measures them in its latency rounds)."""
    import run_all

    commands = [[ring_bench, "wake", "--count", str(count)], [ring_bench, "wake", "--count", str(count), "--async"]]
    rows = []
    for cmd in commands:
        try:
            rs = run_all.rounds([cmd], runs)[0]
        except Exception as e:  # noqa: BLE001 - an older ring-bench without --async, or no ring-bench
            print(f"{' '.join(cmd)}: {e}", file=sys.stderr)
            continue
        rows.append({"impl": rs[0]["impl"], "runs": runs,
                     **{k: run_all.summarize([r[k] for r in rs]) for k in ("p50_us", "p99_us", "p999_us")}})
    return rows


# ---------------------------------------------------------------------------------------
# The tables


def find(records: list[dict], case: str, impl: str, **match) -> dict | None:
    for r in records:
        if r.get("case") == case and r.get("impl") == impl and all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def us(ns: float) -> str:
    v = ns / 1000
    return f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def p50(r: dict | None) -> float | None:
    """The median p50 in microseconds of a wake record, or None if it has none."""
    if r is None or not r.get("available", True) or "error" in r or "wake_ns" not in r:
        return None
    return r["wake_ns"]["p50"]["median"] / 1000


def wake_rows(records: list[dict], latency: list[dict]) -> list[str]:
    rings = sorted({r["rings"] for r in records if r.get("case") == "wake" and "rings" in r})
    lines = ["| consumer | awaits at once | p50 us | p99 us | max us | received |", "|---|---|---|---|---|---|"]
    for k in rings:
        for impl in TRANSPORTS:
            r = find(records, "wake", impl, rings=k)
            if r is None:
                continue
            if "wake_ns" not in r:
                lines.append(f"| {impl} | {k} | {typed_table.cell(r, 'wake_ns', us)} | | | |")
                continue
            w = {q: typed_table.cell(r["wake_ns"], q, us) for q in ("p50", "p99", "max")}
            lines.append(f"| {impl} | {k} | {w['p50']} | {w['p99']} | {w['max']} | {r['received']:,}/{r['count']:,} |")
    for impl in SWIFT:
        r = next((r for r in latency if r.get("impl") == impl), None)
        if r is None:
            continue
        c = {key: typed_table.cell(r, key, lambda v: us(v * 1000)) for key in ("p50_us", "p99_us", "p999_us")}
        lines.append(f"| {impl} | 1 | {c['p50_us']} | {c['p99_us']} | p99.9: {c['p999_us']} | |")
    return lines


def doorbells(records: list[dict]) -> tuple[dict | None, dict | None]:
    """The idle-doorbell records: (nobody registered, the consumer called fileno())."""
    return (find(records, "throughput", "ringpy", doorbell="none"),
            find(records, "throughput", "ringpy", doorbell="registered"))


def doorbell_rows(records: list[dict]) -> list[str]:
    none, reg = doorbells(records)
    if none is None and reg is None:
        return []
    lines = ["| ringpy 64 B put / get | msgs/s | / none | runs |", "|---|---|---|---|"]
    for name, r in (("nobody registered a doorbell", none), ("the consumer called ring.fileno(), nobody waits", reg)):
        if r is None:
            continue
        ratio = ""
        if r is reg and "msgs_per_s" in r and none and "msgs_per_s" in none:
            ratio = f"{r['msgs_per_s']['median'] / none['msgs_per_s']['median']:.3f}x"
        cell = typed_table.cell(r, "msgs_per_s", typed_table.rate)
        lines.append(f"| {name} | {cell} | {ratio} | {r.get('runs', 0)} |")
    return lines


def targets(records: list[dict], latency: list[dict]) -> list[str]:
    """The targets of issue #17, each with what this run measured and met / MISSED."""
    out = ["| target (issue #17) | measured | ratio | |", "|---|---|---|---|"]

    def add(target: str, value: float | None, goal: float | None, unit: str, why: str = "not measured",
            lower_is_better: bool = True) -> None:
        if value is None or not goal:
            out.append(f"| {target} | {why} | | |")
            return
        ratio = goal / value if lower_is_better else value / goal
        out.append(f"| {target} | {value:,.2f} {unit} (target {goal:,.2f} {unit}) | {ratio:.2f}x | "
                   f"{'met' if ratio >= 1 else 'MISSED'} |")

    rings = sorted({r["rings"] for r in records if r.get("case") == "wake" and "rings" in r})
    for k in rings:
        ours = p50(find(records, "wake", "ringpy", rings=k))
        add(f"asyncio wake-up p50 < {TARGET_P50_US:g} us, ringpy, {k} ring{'s' if k > 1 else ''} awaited",
            ours, TARGET_P50_US, "us")
        add(f"ringpy p50 below pyzmq asyncio's, {k} endpoint{'s' if k > 1 else ''}", ours,
            p50(find(records, "wake", "pyzmq", rings=k)), "us")
    swift = next((r for r in latency if r.get("impl") == "swift-async-wake" and "p50_us" in r), None)
    add(f"Swift async wake-up p50 < {TARGET_P50_US:g} us", swift and swift["p50_us"]["median"], TARGET_P50_US, "us")
    none, reg = doorbells(records)
    if none and reg and "msgs_per_s" in none and "msgs_per_s" in reg:
        ratio = reg["msgs_per_s"]["median"] / none["msgs_per_s"]["median"]
        add(f"put/get with a doorbell registered, nobody waiting: >= {TARGET_NO_LOSS:g}x nobody registered",
            ratio, TARGET_NO_LOSS, "x", lower_is_better=False)
    else:
        why = (reg or {}).get("reason") or (reg or {}).get("error") or "not measured"
        add("put/get with a doorbell registered, nobody waiting: no loss", None, None, "", why=str(why)[:160])
    return out


def render(records: list[dict], latency: list[dict]) -> list[str]:
    """The "Wake-up latency" section of results.md."""
    if not records:
        return []
    gaps = sorted({r["gap_us"] for r in records if "gap_us" in r})
    counts = sorted({r["count"] for r in records if r.get("case") == "wake" and "count" in r})
    whole = [r for r in records if r.get("case") == "wake" and "rings" not in r]  # bench_wake.py did not run
    text = (
        "A producer process sends messages of 64 B, each stamped with CLOCK_MONOTONIC at the send, "
        f"{' / '.join(map(str, gaps)) or '?'} us apart (so the consumer is asleep each time), "
        f"{' / '.join(f'{c:,}' for c in counts) or '?'} a run, each to one of K endpoints picked at random; "
        "one asyncio loop in the consumer process awaits all K at once and takes the time when the await returns "
        "(bench/python/bench_wake.py): ringpy `await ring.get_async()` on K rings, pyzmq `await sock.recv()` on K "
        "zmq.asyncio PULL sockets (ipc://), and `await reader.readexactly()` on K connections of an asyncio Unix "
        "server (length prefix), in the same run; asyncio-fifo, os.read of K FIFOs once loop.add_reader fires, is "
        "the floor of any consumer an asyncio loop wakes through a descriptor. p50, p99 and max of each run, "
        "median of the runs (min-max); received counts the messages of the worst run. The Swift rows (ring-bench "
        "wake, one ring, 2,000 messages 1 ms apart) are those of the latency table: a consumer blocked on the futex, "
        "the floor of a wake-up on this machine, and a Swift task awaiting its doorbell. Last, put/get throughput "
        "(bench_throughput.py's single loop, 64 B) with and without a doorbell registered, the runs alternating."
    )
    lines = ["", "### Wake-up latency (an idle async consumer)", "", text, ""]
    if whole:
        lines += [f"bench_wake.py: {typed_table.cell(whole[0], '', str)}", ""]
    lines += [*wake_rows(records, latency), ""]
    ab = doorbell_rows(records)
    if ab:
        lines += [*ab, ""]
    lines += targets(records, latency)
    return lines


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable, help="the benchmark virtualenv's python")
    ap.add_argument("--ring-bench",
                    help="also run ring-bench wake and wake --async (run_all.py does, in its latency rounds)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke test)")
    ap.add_argument("--render", metavar="RESULTS_JSON", help="only print the section from a results.json")
    ap.add_argument("--save", action="store_true",
                    help="store the figures as results.json's \"wake\" and write results.md again (run_all.render)")
    args = ap.parse_args(argv)
    stored = os.path.join(HERE, "results", "results.json")
    if args.render:
        result = json.load(open(args.render))
        print("\n".join(render(result.get("wake", []), result.get("latency", []))))
        return 0
    wake = measure(args.python, args.runs, args.quick)
    if args.ring_bench:
        latency = swift_rows(args.ring_bench, args.runs, 300 if args.quick else 2000)
    else:
        latency = json.load(open(stored)).get("latency", []) if os.path.exists(stored) else []
        print(f"(the Swift rows: {stored}, not this run)")
    print("\n".join(render(wake, latency)))
    if args.save:
        if not os.path.exists(stored):
            print(f"--save: {stored} does not exist (run run_all.py first)", file=sys.stderr)
            return 1
        import run_all

        run_all.save_section("wake", wake)
    return 0


if __name__ == "__main__":
    sys.exit(main())
