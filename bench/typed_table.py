"""typed_table.py - the typed-ring figures of run_all.py (issue #16): ringpy.ItemRing of float64
beside mm-toolbox 0.2.1 and numpy_ringbuffer (bench/python/bench_typed.py): one item per insert
call, insert_many of 10,000, unwrapped() of full rings of 1e3..1e6 items, and cross-process
streaming in GB/s through the typed ring and the byte-record ring beside a memcpy of the same
run; and the "Typed rings" section of results.md with the targets of issue #16.

run_all.py calls it with these lines:

    import typed_table                     # beside `import mpsc_table`
    typed = typed_table.measure(args.python, args.runs)
                                           # in main(), after the mpsc figures
    "typed": typed                         # in the `result = {...}` of main()
    lines += typed_table.render(result.get("typed", []))
                                           # in render(), after the mpsc_table.render line

bench_typed.py does the --runs runs itself (median, min and max of each figure) and prints one
JSON line last, {"benchmark": "typed", "records": [...]}. A record: case (insert, insert_many,
unwrapped, stream), impl (ringpy, mm-toolbox/SingleDimFloat, mm-toolbox/MultiDim,
numpy_ringbuffer; for stream also ringpy-bytes and memcpy), calls, runs, available, and
items_per_s, seconds_per_call (unwrapped: also n, items, view) or gb_per_s, each {median,
min, max}; reason (unavailable) or error (failed).

Also a command line, to try it without run_all.py:

    bench/typed_table.py --python .venv-bench/bin/python [--runs 1] [--quick] [--save]
    bench/typed_table.py --render bench/results/results.json     (the section from stored results)
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))

import bench_typed  # noqa: E402 - the cases, implementations and targets
import benchlib  # noqa: E402

IMPLS = tuple(bench_typed.IMPLS)


def measure(python: str, runs: int, quick: bool = False) -> list[dict]:
    """bench_typed.py's records (its output goes through to this process's stdout)."""
    print("python typed rings ...", flush=True)
    return benchlib.child_records(python, "bench_typed.py", runs, quick, failure={"case": "all", "impl": "ringpy"})


# ---------------------------------------------------------------------------------------
# The tables


def record(records: list[dict], case: str, impl: str, **match) -> dict | None:
    for r in records:
        if r.get("case") == case and r.get("impl") == impl and all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def cell(r: dict | None, key: str, fmt) -> str:
    if r is None:
        return "n/a"
    if not r.get("available", True):
        return f"unavailable: {str(r.get('reason', ''))[:120]}"
    if "error" in r:
        return f"FAILED: {str(r['error'])[:120]}"
    if key not in r:
        return "n/a"
    m = r[key]
    return f"{fmt(m['median'])} ({fmt(m['min'])}-{fmt(m['max'])})"


def rate(v: float) -> str:
    return bench_typed.fmt_rate(v).replace("M", " M").replace("k", " k")


def inserts(records: list[dict]) -> list[str]:
    lines = ["| implementation | one float64 per call, items/s | insert_many of 10,000, items/s | calls |",
             "|---|---|---|---|"]
    for impl in IMPLS:
        one, many = record(records, "insert", impl), record(records, "insert_many", impl)
        if one is None and many is None:
            continue
        calls = " / ".join(r["calls"] for r in (one, many) if r and r.get("calls"))
        lines.append(f"| {impl} | {cell(one, 'items_per_s', rate)} | {cell(many, 'items_per_s', rate)} | {calls} |")
    return lines


def unwrapped(records: list[dict]) -> list[str]:
    sizes = sorted({r["n"] for r in records if r.get("case") == "unwrapped" and "n" in r})
    if not sizes:
        return []
    lines = ["| implementation | returns | " + " | ".join(f"N = {n:,}" for n in sizes)
             + f" | time at {sizes[-1]:,} / at {sizes[0]:,} |", "|---|---|" + "---|" * (len(sizes) + 1)]
    for impl in IMPLS:
        recs = [record(records, "unwrapped", impl, n=n) for n in sizes]
        if not any(recs):
            continue
        measured = [r for r in recs if r and "seconds_per_call" in r and "error" not in r]
        view = next((r.get("view") for r in measured), None)
        returns = "n/a" if view is None else ("a view" if view else "a copy")
        mapped = next((r.get("double_mapped") for r in measured if "double_mapped" in r), None)
        if impl == "ringpy" and mapped is not None:
            returns += ", double-mapped" if mapped else ", not double-mapped"
        if recs[0] and recs[-1] and recs[0] in measured and recs[-1] in measured:
            growth = f"{recs[-1]['seconds_per_call']['median'] / recs[0]['seconds_per_call']['median']:,.1f}x"
        else:
            growth = ""
        items = [r.get("items") for r in measured]
        note = "" if all(i == n for i, n in zip(items, sizes)) else \
            " (items: " + ", ".join(f"{r['items']:,}" for r in measured) + ")"
        lines.append(f"| {impl}{note} | {returns} | "
                     + " | ".join(cell(r, "seconds_per_call", bench_typed.fmt_time) for r in recs) + f" | {growth} |")
    return lines


def stream(records: list[dict]) -> list[str]:
    base = bench_typed.find(records, "stream", "memcpy", "gb_per_s")
    lines = ["| transport | GB/s | / memcpy | calls |", "|---|---|---|---|"]
    for impl in (*bench_typed.STREAM_IMPLS, *bench_typed.PEER_IMPLS):
        r = record(records, "stream", impl)
        if r is None:
            continue
        v = bench_typed.find(records, "stream", impl, "gb_per_s")
        ratio = f"{v / base:.2f}x" if v and base else ""
        lines.append(f"| {impl} | {cell(r, 'gb_per_s', lambda x: f'{x:.2f}')} | {ratio} | {r.get('calls', '')} |")
    return lines


def targets(records: list[dict]) -> list[str]:
    out = ["| target (issue #16) | measured | ratio | |", "|---|---|---|---|"]
    for name, ratio, goal, what in bench_typed.targets(records):
        if ratio is None:
            out.append(f"| {name} | not measured: {what} | | |")
        else:
            out.append(f"| {name} | {what} | {ratio:,.2f}x (target {goal:g}x) | {'met' if ratio >= goal else 'MISSED'} |")
    return out


def render(records: list[dict]) -> list[str]:
    """The "Typed rings" section of results.md."""
    if not records:
        return []
    whole = [r for r in records if r.get("case") == "all"]  # bench_typed.py did not run
    text = (
        "A ring of float64 items in one process (overwrite-oldest): ringpy.ItemRing beside mm-toolbox 0.2.1 "
        "(RingBufferSingleDimFloat, a numba jitclass, and RingBufferMultiDim; 0.2.1 has no NumericRingBuffer) and "
        "numpy_ringbuffer 0.2.2, in the same run (bench/python/bench_typed.py). Median of the runs (min-max). "
        "mm-toolbox has no batch insert: its insert_many figure is append of each item in a Python loop. "
        "unwrapped() is oldest to newest of a full ring that has wrapped, time per call; the last column is how "
        "much the time per call grows from the smallest ring to the largest (flat: about 1x). Streaming: one "
        "producer process and one consumer process, float64 in batches of "
        f"{bench_typed.STREAM_BATCH:,} items through a ring file in /dev/shm (the consumer checks each batch's "
        "place in the stream, the count and the sum), beside numpy.copyto of 64 MiB in one process in the same run; the peers have no "
        "cross-process ring."
    )
    lines = ["", "### Typed rings (float64 items)", "", text, ""]
    if whole:
        lines += [f"bench_typed.py: {cell(whole[0], '', str)}", ""]
    lines += [*inserts(records), "", *unwrapped(records), "", *stream(records), "", *targets(records)]
    return lines


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable, help="the benchmark virtualenv's python")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke test)")
    ap.add_argument("--render", metavar="RESULTS_JSON", help="only print the section from a results.json")
    ap.add_argument("--save", action="store_true",
                    help="store the figures as results.json's \"typed\" and write results.md again (run_all.render)")
    args = ap.parse_args(argv)
    if args.render:
        print("\n".join(render(json.load(open(args.render)).get("typed", []))))
        return 0
    typed = measure(args.python, args.runs, args.quick)
    print("\n".join(render(typed)))
    stored = os.path.join(HERE, "results", "results.json")
    if args.save:
        if not os.path.exists(stored):
            print(f"--save: {stored} does not exist (run run_all.py first)", file=sys.stderr)
            return 1
        import run_all

        run_all.save_section("typed", typed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
