#!/usr/bin/env python3
"""kill_test.py - crash safety under SIGKILL (SPEC.md §12).

A producer process is killed with SIGKILL at random moments and a new one (a new
"generation") started each time; the consumer process is killed now and then too and
restarted. At the end a last producer closes the stream and the consumer drains it.
Then the checks:

- the consumer never saw a torn or corrupt record (it verifies every byte and exits
  with status 3 otherwise);
- every record whose commit a producer reported was delivered;
- nothing was delivered twice, except the one record a consumer was handling when it
  was killed (it reports a record before moving its position, so a kill between the
  two redelivers exactly that record to the next consumer: at-least-once, SPEC.md §12);
- within a generation the records arrive in commit order with no gaps, and generations
  arrive in order;
- the consumer's position survives its kills: a restarted consumer resumes right after
  the last record its predecessor consumed.

    kill_test.py RING_WORKLOAD RINGCTL [--kills N] [--seed S]
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", help="ring-workload (the crash producer and consumer)")
    parser.add_argument("ringctl", help="ringctl (creates the ring)")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--consumer-kill-every", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="ringformat-kill-")
    ring = os.path.join(work, "kill.ring")
    subprocess.run([args.ringctl, "create", ring, "--capacity", "16384"], check=True, stdout=subprocess.DEVNULL)

    consumer_logs: list[str] = []
    consumer_kills = 0

    def start_consumer() -> tuple[subprocess.Popen, str]:
        log = os.path.join(work, f"consumer-{len(consumer_logs)}.log")
        consumer_logs.append(log)
        out = open(log, "wb")
        return subprocess.Popen([args.workload, "crash-consume", ring], stdout=out, stderr=subprocess.STDOUT), log

    consumer, _ = start_consumer()
    reported: dict[int, int] = {}  # generation -> number of commits the producer reported
    started = time.monotonic()
    for generation in range(args.kills):
        producer = subprocess.Popen([args.workload, "crash-produce", ring, "--generation", str(generation)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.002, 0.03))
        producer.send_signal(signal.SIGKILL)
        out, err = producer.communicate()
        lines = out.decode().split("\n")
        commits = [int(l[2:]) for l in lines if l.startswith("c ")]
        if commits != list(range(len(commits))):
            print(f"generation {generation}: commit reports out of order", file=sys.stderr)
            return 1
        reported[generation] = len(commits)
        if err and b"busy" in err:
            print(f"generation {generation}: the producer role was still held: {err.decode()}", file=sys.stderr)
            return 1
        if (generation + 1) % args.consumer_kill_every == 0:
            consumer.send_signal(signal.SIGKILL)
            consumer.wait()
            consumer_kills += 1
            consumer, _ = start_consumer()
    last = args.kills
    done = subprocess.run([args.workload, "crash-produce", ring, "--generation", str(last), "--count", "50"],
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        print(f"final producer failed: {done.stderr.decode()}", file=sys.stderr)
        return 1
    reported[last] = 50
    if consumer.wait(timeout=60) != 0:
        print(f"consumer exited with {consumer.returncode}: {open(consumer_logs[-1]).read()[-500:]}", file=sys.stderr)
        return 1

    # Check the consumers' logs, in order.
    delivered: list[tuple[int, int]] = []
    duplicates_at_restart = 0
    for n, log in enumerate(consumer_logs):
        lines = open(log).read().split("\n")
        if any(l.startswith("torn") for l in lines):
            print(f"{log}: a torn record was delivered", file=sys.stderr)
            return 1
        records = [tuple(map(int, l.split()[1:])) for l in lines if l.startswith("r ")]
        if n > 0 and records and delivered and records[0] == delivered[-1]:
            records = records[1:]  # the record the killed consumer had reported but not consumed
            duplicates_at_restart += 1
        if n > 0 and records and delivered:
            g0, i0 = delivered[-1]
            g1, i1 = records[0]
            if not ((g1 == g0 and i1 == i0 + 1) or (g1 > g0 and i1 == 0)):
                print(f"{log}: restarted consumer resumed at {records[0]} after {delivered[-1]}", file=sys.stderr)
                return 1
        delivered += records
    if len(set(delivered)) != len(delivered):
        print("a record was delivered twice", file=sys.stderr)
        return 1
    seen: dict[int, int] = {}
    previous_generation = -1
    for g, i in delivered:
        if g < previous_generation:
            print(f"generation {g} arrived after {previous_generation}", file=sys.stderr)
            return 1
        previous_generation = g
        if i != seen.get(g, 0):
            print(f"generation {g}: record {i} arrived when {seen.get(g, 0)} was due (a gap)", file=sys.stderr)
            return 1
        seen[g] = i + 1
    lost = [(g, n, seen.get(g, 0)) for g, n in reported.items() if seen.get(g, 0) < n]
    if lost:
        print(f"reported commits not delivered (generation, reported, delivered): {lost[:5]}", file=sys.stderr)
        return 1
    unreported = sum(seen.get(g, 0) - n for g, n in reported.items())
    elapsed = time.monotonic() - started
    print(f"kill test: {args.kills} producer kills, {consumer_kills} consumer kills, "
          f"{len(delivered)} records delivered ({sum(reported.values())} reported committed, "
          f"{unreported} committed but killed before the report), "
          f"{duplicates_at_restart} redelivered at a consumer restart, none torn, none lost, in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
