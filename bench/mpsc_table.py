"""mpsc_table.py - the several-producers figures of run_all.py (issue #15): N = 1, 2, 4
producer processes into one consumer, 64 B and 1 KiB, aggregate messages/s, in Swift
(`ring-bench mpsc`), C (`ring_bench_c mpsc`) and Python (bench/python/bench_mpsc.py: ringpy
beside faster-fifo, multiprocessing.Queue and pyzmq PUSH/PULL), and the "Several producers"
section of results.md with the targets of issue #15.

run_all.py calls it with these lines:

    import mpsc_table                      # beside `import fanout_table`
    mpsc = mpsc_table.measure(args.ring_bench, args.c_bench, args.lib, args.python, args.runs)
                                           # in main(), after the python fanout block, before `result = {...}`
    result["mpsc"] = mpsc                  # in main(), right after `result = {...}` (before the json.dump)
    lines += mpsc_table.render(result.get("mpsc", []), throughput, os.cpu_count())
                                           # in render(), after the `lines += fanout_table.render(...)` line

The Swift and C commands (`ring-bench mpsc --producers N --size S --count C [--batch 64]` and
`ring_bench_c LIB mpsc N S C [64]`, C messages per producer)
print one JSON line, {"messages_per_s": ..., ...} (or "msgs_per_s"), the aggregate rate;
its "mode" ("single" or "batch"; else "batch" if it reports a "batch" over 1, else
"single") picks the single-producer figure of today it is compared with. A command that
fails with a usage error (exit status 2, or "usage" in its output; also a missing binary)
makes that implementation "unavailable: <its first line of stderr, else stdout>"; another
failure makes the figure FAILED with that line.

A record: impl (swift, c, ringpy, faster-fifo, mp.Queue, pyzmq), mode, producers, size,
count (per producer), runs, available, msgs_per_s (aggregate: median, min, max over the
runs), calls, and reason (unavailable) or error (failed); ringpy's also shared_producers
(False: Ring.create has no producers= yet and its N = 1 figure is of a plain 1.0 ring).

Also a command line, to try it without run_all.py:

    bench/mpsc_table.py --ring-bench PATH --c-bench PATH --lib PATH --python PATH [--runs 1] [--quick]
    bench/mpsc_table.py --render bench/results/results.json     (the section from stored results)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))

import benchlib  # noqa: E402 - child_records
SIZES = (64, 1024)
PRODUCERS = (1, 2, 4)
#: Messages of a Swift or C run, all producers together (each sends TOTALS // N): those of
#: run_all.py's single-producer throughput runs.
TOTALS = {64: 5_000_000, 1024: 1_000_000}
OURS = ("swift", "c", "ringpy")
PY_PEERS = ("faster-fifo", "mp.Queue", "pyzmq")
#: Issue #15's targets.
TARGET_AGGREGATE = 20e6  # Swift/C, 2 producers, 64 B
TARGET_PEER_RATIO = 3.0  # ringpy, 2 producers, against the fastest Python peer
TARGET_SINGLE = 0.95  # N = 1 on a shared-producer ring, against today's single producer
COMMAND_TIMEOUT = 600


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# ---------------------------------------------------------------------------------------
# Running


def commands(ring_bench: str, c_bench: str, lib: str, quick: bool = False) -> list[tuple[str, int, int, int, list[str]]]:
    """(impl, producers, size, count per producer, command) of every Swift and C figure."""
    out = []
    for size in SIZES:
        for n in PRODUCERS:
            count = max(1000, TOTALS[size] // (50 if quick else 1)) // n
            common = ["--producers", str(n), "--size", str(size), "--count", str(count)]
            # One write per message, and batches of 64 (one claim each, SPEC.md §18.4).
            out.append(("swift", n, size, count, [ring_bench, "mpsc", *common]))
            out.append(("swift", n, size, count, [ring_bench, "mpsc", *common, "--batch", "64"]))
            out.append(("c", n, size, count, [c_bench, lib, "mpsc", str(n), str(size), str(count)]))
            out.append(("c", n, size, count, [c_bench, lib, "mpsc", str(n), str(size), str(count), "64"]))
    return out


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def run_once(cmd: list[str]) -> tuple[str, object]:
    """("ok", JSON object) | ("unavailable", why) | ("error", why) of one run of cmd."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError as e:
        return "unavailable", f"{cmd[0]}: not found ({e.strerror})"
    except PermissionError as e:
        return "unavailable", f"{cmd[0]}: {e.strerror}"
    except subprocess.TimeoutExpired:
        return "error", f"timed out after {COMMAND_TIMEOUT} s"
    why = first_line(p.stderr) or first_line(p.stdout) or f"exit status {p.returncode}"
    if p.returncode != 0:
        usage = p.returncode == 2 or "usage" in (p.stderr + p.stdout).lower()
        return ("unavailable" if usage else "error"), why[:300]
    try:
        r = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return "error", f"no JSON line in its output: {why[:200]}"
    if not isinstance(r, dict) or not isinstance(r.get("messages_per_s", r.get("msgs_per_s")), (int, float)):
        return "error", f"no messages_per_s in {p.stdout.strip()[-200:]}"
    return "ok", r


def mode_of(r: dict) -> str:
    if r.get("mode") in ("single", "batch"):
        return r["mode"]
    return "batch" if int(r.get("batch", 1) or 1) > 1 else "single"


def measure_native(cmds, runs: int) -> list[dict]:
    """The records of the Swift and C commands, run in rounds as run_all.rounds does; an
    implementation whose first command is unavailable is not run further."""
    state = []  # [record, command, results]
    dead: dict[str, str] = {}
    for impl, n, size, count, cmd in cmds:
        rec = {"impl": impl, "producers": n, "size": size, "count": count, "runs": 0, "available": True,
               "processes": n + 1, "command": " ".join(cmd)}
        state.append([rec, cmd, []])
    for _ in range(runs):
        for rec, cmd, results in state:
            impl = rec["impl"]
            if impl in dead:
                rec.update(available=False, reason=dead[impl])
                continue
            if "error" in rec or not rec["available"]:
                continue
            status, value = run_once(cmd)
            if status == "unavailable":
                rec.update(available=False, reason=value)
                if not any(r for x, _, r in state if x["impl"] == impl):  # its first command: no mpsc mode
                    dead[impl] = value
                    print(f"  {impl} mpsc unavailable: {value}", flush=True)
                else:
                    print(f"  {rec['command']} unavailable: {value}", flush=True)
            elif status == "error":
                rec["error"] = value
                print(f"  {rec['command']} FAILED: {value}", flush=True)
            else:
                results.append(value)
    out = []
    for rec, _, results in state:
        if results and rec.get("available"):
            first = results[0]
            rates = [float(r.get("messages_per_s", r.get("msgs_per_s"))) for r in results]
            rec.update(runs=len(rates), mode=mode_of(first), msgs_per_s=summarize(rates), msgs_per_s_each_run=rates,
                       calls=str(first.get("calls", f"{'ring-bench' if rec['impl'] == 'swift' else 'ring_bench_c'} mpsc")))
            for k, v in first.items():  # whatever else the mode reports (batch, ring, producer rates...)
                if k not in rec and k not in ("messages_per_s", "msgs_per_s", "impl"):
                    rec[k] = v
        rec.setdefault("mode", "single")
        out.append(rec)
    return out


def measure_python(python: str, runs: int, quick: bool = False) -> list[dict]:
    """bench_mpsc.py's records (its output goes through to this process's stdout)."""
    return benchlib.child_records(python, "bench_mpsc.py", runs, quick)


def measure(ring_bench: str, c_bench: str, lib: str, python: str, runs: int, quick: bool = False) -> list[dict]:
    """Every several-producers record: Swift and C, then bench_mpsc.py (ringpy and its peers)."""
    cmds = commands(ring_bench, c_bench, lib, quick)
    print(f"several producers, swift/c: {len(cmds)} figures x {runs} rounds ...", flush=True)
    records = measure_native(cmds, runs)
    print("python several producers ...", flush=True)
    return records + measure_python(python, runs, quick)


# ---------------------------------------------------------------------------------------
# The table


def fmt(v: float) -> str:
    return f"{v / 1e6:.2f} M" if v >= 1e5 else f"{v / 1e3:.1f} k"


def size_name(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def agg(r: dict | None) -> float | None:
    return r["msgs_per_s"]["median"] if r and r.get("available", True) and "msgs_per_s" in r else None


def find(mpsc: list[dict], impl: str, n: int, size: int, mode: str | None = None) -> dict | None:
    """The record of impl with n producers at size (mode None: the fastest measured one)."""
    rows = [r for r in mpsc if (r.get("impl"), r.get("producers"), r.get("size")) == (impl, n, size)
            and (mode is None or r.get("mode") == mode)]
    measured = [r for r in rows if agg(r) is not None]
    if measured:
        return max(measured, key=agg)
    return rows[0] if rows else None


def today(throughput: list[dict], impl: str, mode: str, size: int) -> float | None:
    """Median msgs/s of today's single-producer figure (run_all.py's throughput records)."""
    values = [r["msgs_per_s"]["median"] for r in throughput
              if (r.get("impl"), r.get("mode"), r.get("size")) == (impl, mode, size)
              and r.get("available", True) and "msgs_per_s" in r]
    return max(values) if values else None


def modes(mpsc: list[dict], impl: str) -> list[str]:
    out = []
    for r in mpsc:
        if r.get("impl") == impl and r.get("mode") and r["mode"] not in out:
            out.append(r["mode"])
    return out or ["single"]


def cell(r: dict | None) -> str:
    if r is None:
        return "n/a"
    if not r.get("available", True):
        return f"unavailable: {str(r.get('reason', ''))[:140]}"
    if "error" in r:
        return f"FAILED: {str(r['error'])[:140]}"
    if "msgs_per_s" not in r:
        return "n/a"
    m = r["msgs_per_s"]
    return f"{fmt(m['median'])} ({fmt(m['min'])}-{fmt(m['max'])})"


def rows(mpsc: list[dict]) -> list[str]:
    lines = ["| transport | mode (calls) | producers | processes | " + " | ".join(f"{size_name(s)} msgs/s" for s in SIZES)
             + " |", "|---|---|---|---|" + "---|" * len(SIZES)]
    for r in mpsc:  # a whole benchmark that gave no figures (bench_mpsc.py did not run)
        if "producers" not in r:
            lines.append(f"| {r.get('impl', '?')} | | | | {cell(r)} |" + " |" * (len(SIZES) - 1))
    for impl in OURS + PY_PEERS:
        mine = [r for r in mpsc if r.get("impl") == impl and "producers" in r]
        reasons = {r.get("reason") for r in mine}
        if mine and all(not r.get("available", True) for r in mine) and len(reasons) == 1:
            lines.append(f"| {impl} | | {', '.join(map(str, PRODUCERS))} | | {cell(mine[0])} |" + " |" * (len(SIZES) - 1))
            continue
        for mode in modes(mpsc, impl):
            for n in PRODUCERS:
                recs = [find(mpsc, impl, n, s, mode) for s in SIZES]
                if not any(recs):
                    continue
                rec = next(r for r in recs if r)
                calls = rec.get("calls", "")
                note = ""
                if impl == "ringpy" and rec.get("shared_producers") is False and n == 1:
                    note = " (1.0 ring: no producers= yet)"
                extra = " + I/O threads" if impl == "pyzmq" else " + feeder threads" if impl == "mp.Queue" else ""
                lines.append(f"| {impl} | {mode}{f' ({calls})' if calls else ''}{note} | {n} | {n + 1}{extra} | "
                             + " | ".join(cell(r) for r in recs) + " |")
    return lines


def targets(mpsc: list[dict], throughput: list[dict]) -> list[str]:
    """The targets of issue #15, each with what this run measured and met / MISSED."""
    out = ["| target (issue #15) | measured | ratio | |", "|---|---|---|---|"]

    def add(target: str, value: float | None, goal: float | None, why: str = "not measured") -> None:
        if value is None or not goal:
            out.append(f"| {target} | {why} | | |")
            return
        ratio = value / goal
        out.append(f"| {target} | {fmt(value)}/s (target {fmt(goal)}/s) | {ratio:.2f}x | "
                   f"{'met' if ratio >= 1 else 'MISSED'} |")

    for impl in ("swift", "c"):
        add(f"{impl} 64 B, 2 producers: aggregate >= 20 M msg/s", agg(find(mpsc, impl, 2, 64)), TARGET_AGGREGATE)
    for size in SIZES:
        peers = [(p, find(mpsc, p, 2, size)) for p in PY_PEERS]
        peers = [(p, r) for p, r in peers if agg(r)]
        best = max(peers, key=lambda x: agg(x[1])) if peers else None
        for mode in modes(mpsc, "ringpy"):
            ours = agg(find(mpsc, "ringpy", 2, size, mode))
            if best is None:
                add(f"ringpy {mode} {size_name(size)}, 2 producers: >= 3x the fastest Python peer", ours, None,
                    "no peer measured")
                continue
            p, r = best
            add(f"ringpy {mode} {size_name(size)}, 2 producers: >= 3x the fastest Python peer's aggregate "
                f"({p} {r.get('mode', '')}, {fmt(agg(r))}/s)", ours, TARGET_PEER_RATIO * agg(r))
    out += ["", "For comparison, not a target: what the claims of a shared ring cost one producer, against a "
            "ring with one producer (the throughput table above). The target \"single-producer figures within 5% "
            "of today's\" is about rings with one producer, which take none of this path: it is measured by "
            "running the same benchmark with the build before several producers (bench/compare_builds.sh).", "",
            "| 1 producer on a shared-producer ring | aggregate | single-producer ring | ratio |", "|---|---|---|---|"]
    for impl in OURS:
        for mode in modes(mpsc, impl):
            for size in SIZES:
                v = agg(find(mpsc, impl, 1, size, mode))
                base = today(throughput, impl, mode, size)
                if v and base:
                    out.append(f"| {impl} {mode} {size_name(size)} | {fmt(v)}/s | {fmt(base)}/s | {v / base:.2f}x |")
    return out


def render(mpsc: list[dict], throughput: list[dict], cpus: int | None) -> list[str]:
    """The "Several producers" section of results.md."""
    if not mpsc:
        return []
    text = (
        "N producer processes write into one consumer process: our rings with N producer slots (Swift ring-bench "
        "mpsc, C ring_bench_c mpsc, ringpy Ring.create(producers=N), bench/python/bench_mpsc.py), beside "
        "faster-fifo, multiprocessing.Queue and pyzmq PUSH/PULL over ipc:// with the same producer counts in the "
        "same run. Aggregate msgs/s: all producers' messages over the time from the start signal to the consumer "
        "receiving the last, median of the runs (min-max); the Swift and C runs send "
        f"{', '.join(f'{TOTALS[s]:,} ({size_name(s)})' for s in SIZES)} messages in all, bench_mpsc.py the counts of "
        "bench_throughput.py, split evenly between the producers. The consumer must count exactly every message. "
        f"This machine has {cpus or '?'} cores: with 2 and 4 producers, 3 and 5 processes share them. "
        "Single writes make one claim a message (seven atomic read-modify-writes, four on the producer line the "
        "consumer polls); a batch is one claim (SPEC.md §18.4)."
    )
    return ["", "### Several producers (N producer processes, one consumer)", "", text, "", *rows(mpsc), "",
            *targets(mpsc, throughput)]


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ring-bench")
    ap.add_argument("--c-bench")
    ap.add_argument("--lib")
    ap.add_argument("--python", default=sys.executable, help="the benchmark virtualenv's python")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke test)")
    ap.add_argument("--render", metavar="RESULTS_JSON", help="only print the section from a results.json")
    ap.add_argument("--save", action="store_true",
                    help="store the figures as results.json's \"mpsc\" and write results.md again (run_all.render)")
    args = ap.parse_args(argv)
    if args.render:
        result = json.load(open(args.render))
        print("\n".join(render(result.get("mpsc", []), result.get("throughput", []), os.cpu_count())))
        return 0
    if not (args.ring_bench and args.c_bench and args.lib):
        ap.error("--ring-bench, --c-bench and --lib are needed (or --render)")
    mpsc = measure(args.ring_bench, args.c_bench, args.lib, args.python, args.runs, args.quick)
    throughput = []
    stored = os.path.join(HERE, "results", "results.json")
    if os.path.exists(stored):
        throughput = json.load(open(stored)).get("throughput", [])
        print(f"(today's single-producer figures: {stored}, not this run)")
    print("\n".join(render(mpsc, throughput, os.cpu_count())))
    if args.save and os.path.exists(stored):
        import run_all
        run_all.save_section("mpsc", mpsc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
