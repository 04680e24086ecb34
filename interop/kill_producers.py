#!/usr/bin/env python3
"""kill_producers.py - several producers killed at any instruction (SPEC.md §18.7).

Two steady producers and a stream of short-lived ones write into one ring with four
producer slots; the short-lived ones are SIGKILLed, either at a random moment or exactly
between two steps of a write: a test hook (RINGFORMAT_TEST_STOP_AT=claimed|stamped|written|
committed:N) makes the producer stop itself there, and it is killed while stopped. A few
are instead kept stopped past the claim timeout (1 s) and then resumed. One consumer reads
throughout (ring-workload crash-consume). At the end a last producer closes the stream.

Checks: no record is torn (the consumer verifies every byte); within each producer
generation the records arrive in order with no gap and no duplicate; every commit a
producer reported was delivered; the consumer is never held up for long: the largest delay
from a reported commit to its delivery is printed and must stay under --bound seconds (a
killed producer's claim is settled within one wait slice, 100 ms, plus 10 ms; a stopped
one's after CLAIM_TIMEOUT_MS); a resumed producer writes its message again, once.

    kill_producers.py RING_WORKLOAD RINGCTL [--kills N] [--stops N] [--seed S] [--bound SECONDS]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

STEPS = ["claimed", "stamped", "written", "committed"]


def state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def wait_stopped(proc: subprocess.Popen, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        s = state(proc.pid)
        if s == "T":
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.0005)
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload")
    parser.add_argument("ringctl")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--stops", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bound", type=float, default=0.9,
                        help="largest commit-to-delivery delay allowed outside the deliberate stops, seconds "
                             "(below the 1 s claim timeout: a killed producer is found dead, not timed out)")
    parser.add_argument("--stop-bound", type=float, default=2.5,
                        help="the same while a producer is kept stopped (claim timeout 1 s plus slack)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="ringformat-killp-")
    ring = os.path.join(work, "mpsc.ring")
    subprocess.run([args.ringctl, "create", ring, "--capacity", "16384", "--producers", "4"],
                   check=True, stdout=subprocess.DEVNULL)
    consumer_log = os.path.join(work, "consumer.log")
    consumer = subprocess.Popen([args.workload, "crash-consume", ring, "--timestamps"],
                                stdout=open(consumer_log, "wb"), stderr=subprocess.STDOUT)
    logs: dict[int, str] = {}
    procs: dict[int, subprocess.Popen] = {}

    def start(generation: int, env: dict | None = None, count: int | None = None) -> subprocess.Popen:
        log = os.path.join(work, f"p{generation}.log")
        logs[generation] = log
        cmd = [args.workload, "crash-produce", ring, "--generation", str(generation), "--timestamps"]
        if count is not None:
            cmd += ["--count", str(count)]
        p = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                             env={**os.environ, **(env or {})})
        procs[generation] = p
        return p

    started = time.monotonic()
    steady = [start(0), start(1)]
    generation = 2
    hooked = 0
    stopped_held = 0
    stop_windows: list[tuple[int, int]] = []  # CLOCK_MONOTONIC ns, as the tools' timestamps
    for k in range(args.kills + args.stops):
        stop_only = k >= args.kills
        if stop_only or rng.random() < 0.6:
            step = rng.choice(STEPS) if not stop_only else "written"
            p = start(generation, {"RINGFORMAT_TEST_STOP_AT": f"{step}:{rng.randint(1, 40)}"})
            if not wait_stopped(p):
                print(f"generation {generation}: did not stop at {step} ({open(logs[generation]).read()[-300:]})",
                      file=sys.stderr)
                return 1
            if stop_only:
                # Past the claim timeout: readers must go on; then it resumes and writes again.
                stop_start = time.monotonic_ns()
                time.sleep(1.5)
                stop_windows.append((stop_start, time.monotonic_ns() + 100_000_000))
                p.send_signal(signal.SIGCONT)
                time.sleep(0.05)
                stopped_held += 1
            else:
                hooked += 1
        else:
            p = start(generation)
            time.sleep(rng.uniform(0.002, 0.02))
        p.send_signal(signal.SIGKILL)
        p.wait()
        generation += 1
    for p in steady:
        p.send_signal(signal.SIGKILL)
        p.wait()
    final = start(generation, count=50)
    if final.wait(timeout=60) != 0:
        print(f"final producer failed: {open(logs[generation]).read()[-500:]}", file=sys.stderr)
        return 1
    try:
        code = consumer.wait(timeout=60)
    except subprocess.TimeoutExpired:
        consumer.kill()
        print("the consumer did not reach the end of the stream", file=sys.stderr)
        return 1
    if code != 0:
        print(f"consumer exited with {code}: {open(consumer_log).read()[-500:]}", file=sys.stderr)
        return 1

    lines = open(consumer_log).read().split("\n")
    if any(l.startswith("torn") for l in lines):
        print("a torn record was delivered", file=sys.stderr)
        return 1
    delivered = [tuple(map(int, l.split()[1:4])) for l in lines if l.startswith("r ")]
    seen: dict[int, int] = {}
    when: dict[tuple[int, int], int] = {}
    for g, i, t in delivered:
        if i != seen.get(g, 0):
            print(f"generation {g}: record {i} arrived when {seen.get(g, 0)} was due", file=sys.stderr)
            return 1
        seen[g] = i + 1
        when[(g, i)] = t
    worst = 0.0
    worst_stopped = 0.0
    reported_total = 0
    for g, log in logs.items():
        commits = [tuple(map(int, l.split()[1:3])) for l in open(log).read().split("\n") if l.startswith("c ")]
        reported_total += len(commits)
        if [i for i, _ in commits] != list(range(len(commits))):
            print(f"generation {g}: commit reports out of order", file=sys.stderr)
            return 1
        if seen.get(g, 0) < len(commits):
            print(f"generation {g}: {len(commits)} commits reported, {seen.get(g, 0)} delivered", file=sys.stderr)
            return 1
        for i, t in commits:
            delay = (when[(g, i)] - t) / 1e9
            if any(a - 2_000_000_000 <= t <= b for a, b in stop_windows):
                worst_stopped = max(worst_stopped, delay)
            else:
                worst = max(worst, delay)
    elapsed = time.monotonic() - started
    print(f"kill_producers: {args.kills} producer kills ({hooked} stopped at a named step first), "
          f"{stopped_held} stopped past the claim timeout and resumed, {len(delivered)} records delivered "
          f"({reported_total} reported committed), none torn, none lost, none twice; "
          f"longest commit-to-delivery {worst * 1000:.0f} ms ({worst_stopped * 1000:.0f} ms around the stops); "
          f"{elapsed:.1f} s")
    if worst > args.bound or worst_stopped > args.stop_bound:
        print(f"a reader was held up {worst:.3f} s ({worst_stopped:.3f} s around a stop), more than "
              f"{args.bound} s ({args.stop_bound} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
