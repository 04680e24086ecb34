#!/usr/bin/env python3
"""run_producers.py - four producers, one Swift, one C, one Python and one Swift writing in
batches, into one ring with producer slots (format 1.1, SPEC.md §18), read at once by three
readers of the same ring: a Swift and a C gating reader and a Python lapping one. A fifth
producer, `ringctl write --stdin --close`, joins first and writes nothing: it holds the
stream open until the others are done (the last producer to leave with closeWriter ends the
stream, SPEC.md §18.8, and a producer that starts late would otherwise find it ended).

Producer P's i-th message carries index P << 32 | i and the workload's bytes for it. Every
gating reader must receive every message of every producer once, whole, each producer's in
its own order ("overwritten 0", counted per producer), and the two must agree (same count and
stream checksum: they read one stream in one order). The lapping reader: received + missed =
produced, and the gaps it saw in each producer's indexes (with those after each producer's
last message it got) add up to the library's missed count. The stream ends only when the last producer has closed it.

    run_producers.py --ringctl PATH --workload PATH --c-peer PATH --python PATH [--count N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"consumed (\d+) messages (\d+) bytes checksum (0x[0-9a-f]+|skipped) overwritten (\d+)(?: missed (\d+))? in \d+ ms")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ringctl", required=True)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--c-peer", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--count", type=int, default=20000, help="messages per producer")
    parser.add_argument("--seed", type=int, default=2028)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ringformat-mpsc-")
    ring = os.path.join(work, "mpsc.ring")
    subprocess.run([args.ringctl, "create", ring, "--capacity", "65536", "--readers", "3", "--producers", "5"],
                   check=True, stdout=subprocess.DEVNULL)
    common = ["--seed", str(args.seed), "--min-size", "8", "--max-size", "300"]
    py_peer = [args.python, os.path.join(HERE, "python", "ring_peer.py")]
    readers = {
        "swift gating": subprocess.Popen([args.workload, "reader", ring, "--until-end", "--producers", "4", *common],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "c gating": subprocess.Popen([args.c_peer, "reader", ring, "--until-end", "--producers", "4", *common],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "python lapping": subprocess.Popen([*py_peer, "reader", ring, "--until-end", "--lapping", "--producers", "4",
                                            "--per-producer", str(args.count), "--no-checksum", *common],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    }
    anchor = subprocess.Popen([args.ringctl, "write", ring, "--stdin", "--close"], stdin=subprocess.PIPE)
    # The readers join before anything is written (a gating reader then sees every message).
    deadline = time.monotonic() + 30
    while True:
        shown = subprocess.run([args.ringctl, "inspect", "--json", ring], capture_output=True, text=True).stdout
        report = json.loads(shown)
        if len([r for r in report.get("readers") or [] if r["live"]]) == 3 \
                and len([p for p in report.get("producers") or [] if p["live"]]) == 1:
            break
        if time.monotonic() > deadline:
            print(f"the readers did not join: {shown}", file=sys.stderr)
            return 1
        time.sleep(0.02)
    n = str(args.count)
    producers = {
        "swift": subprocess.Popen([args.workload, "produce", ring, "--count", n, "--producer-id", "0", "--close", *common],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "c": subprocess.Popen([args.c_peer, "produce", ring, "--count", n, "--producer-id", "1", "--close", *common],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "python": subprocess.Popen([*py_peer, "produce", ring, "--count", n, "--producer-id", "2", "--close", *common],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "swift batches": subprocess.Popen([args.workload, "produce", ring, "--count", n, "--producer-id", "3",
                                           "--batch", "32", "--close", *common],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    }
    failed = False
    for name, p in producers.items():
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            print(f"producer {name} failed: {err.strip()}", file=sys.stderr)
            failed = True
    anchor.stdin.close()
    if anchor.wait(timeout=60) != 0:
        print("the anchor producer (ringctl write --stdin) failed", file=sys.stderr)
        failed = True
    results = {}
    for name, p in readers.items():
        out, err = p.communicate(timeout=600)
        m = LINE.search(out)
        if p.returncode != 0 or not m:
            print(f"reader {name} failed ({p.returncode}): {err.strip()} {out.strip()}", file=sys.stderr)
            failed = True
            continue
        results[name] = m
    if failed:
        return 1
    produced = 4 * args.count
    for name in ("swift gating", "c gating"):
        m = results[name]
        if int(m.group(1)) != produced or int(m.group(4)) != 0:
            print(f"{name}: received {m.group(1)} of {produced}, {m.group(4)} missing in producers' sequences",
                  file=sys.stderr)
            return 1
    if results["swift gating"].group(3) != results["c gating"].group(3):
        print("the two gating readers saw different streams", file=sys.stderr)
        return 1
    lap = results["python lapping"]
    received, gaps, missed = int(lap.group(1)), int(lap.group(4)), int(lap.group(5))
    if received + missed != produced or gaps != missed:
        print(f"python lapping: received {received} + missed {missed} != {produced}, or gaps {gaps} != missed",
              file=sys.stderr)
        return 1
    print(f"run_producers: 4 producers (Swift, C, Python, Swift batches) x {args.count} into one ring "
          f"(and ringctl write --stdin holding the stream open); "
          f"Swift and C gating readers each got all {produced}, in each producer's order, the same stream "
          f"(checksum {results['swift gating'].group(3)}); Python lapping reader {received} + {missed} missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
