#!/usr/bin/env python3
"""run_matrix.py - every producer/consumer pair of Swift, C and Python (all 9), as two
concurrent processes on one ring file, under both policies.

Each pair passes COUNT seeded messages of random sizes from 0 bytes up to the ring's
maximum message size (interop/README.md). The consumer checks every byte, the order and
the count, and prints a checksum; under reject-when-full all 9 consumers must report the
same count, byte total and checksum. Under overwrite-oldest the consumer checks that it
gets an in-order subsequence of whole messages and reports how many were overwritten.

    run_matrix.py --ringctl PATH --workload PATH --c-peer PATH --python PATH [--count N] [--capacity N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ringctl", required=True, help="ringctl (creates the rings)")
    parser.add_argument("--workload", required=True, help="ring-workload (the Swift producer and consumer)")
    parser.add_argument("--c-peer", required=True)
    parser.add_argument("--python", required=True, help="a Python with ringpy installed")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--capacity", type=int, default=16384)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--policies", default="reject,overwrite")
    parser.add_argument("--initial-position", type=int, default=0,
                        help="start both positions here (a multiple of 8), e.g. just below 2**32")
    parser.add_argument("--python-checksum-limit", type=int, default=20000,
                        help="above this many messages the Python consumer checks every byte but skips "
                             "its pure-Python stream checksum (it would take minutes)")
    args = parser.parse_args()
    peers = {
        "swift": [args.workload],
        "c": [args.c_peer],
        "python": [args.python, os.path.join(HERE, "python", "ring_peer.py")],
    }
    work = tempfile.mkdtemp(prefix="ringformat-matrix-")
    max_message = args.capacity // 2 - 8
    passed = failed = 0
    for policy in args.policies.split(","):
        results: dict[tuple[str, str], str] = {}
        for producer in peers:
            for consumer in peers:
                ring = os.path.join(work, f"{producer}-{consumer}-{policy}.ring")
                subprocess.run([args.ringctl, "create", ring, "--capacity", str(args.capacity), "--policy", policy,
                                "--initial-position", str(args.initial_position)],
                               check=True, stdout=subprocess.DEVNULL)
                common = ["--count", str(args.count), "--seed", str(args.seed),
                          "--min-size", "8" if policy == "overwrite" else "0",
                          "--max-size", str(max_message), "--timeout-ms", "120000"]
                started = time.monotonic()
                extra = ["--no-checksum"] if consumer == "python" and args.count > args.python_checksum_limit else []
                cons = subprocess.Popen(peers[consumer] + ["consume", ring, "--until-end"] + extra + common,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                prod = subprocess.run(peers[producer] + ["produce", ring, "--close", "--batch", "4"] + common,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                out = cons.communicate(timeout=300)[0].decode().strip()
                seconds = time.monotonic() - started
                ok = prod.returncode == 0 and cons.returncode == 0 and out.startswith("consumed ")
                if ok and policy == "reject":
                    ok = out.startswith(f"consumed {args.count} messages")
                results[(producer, consumer)] = out
                label = f"{producer:>6} -> {consumer:<6} {policy:<9}"
                if ok:
                    passed += 1
                    print(f"ok   {label} {out.split(' in ')[0]} ({seconds:.1f} s)")
                else:
                    failed += 1
                    print(f"FAIL {label} producer: {prod.stdout.decode().strip()} consumer: {out}")
        if policy == "reject":
            # Every consumer saw the same count and bytes, and every checksum computed is the
            # same (a Python consumer that skipped its checksum says "checksum skipped").
            skipped = "checksum skipped "
            counts = {out.split(" checksum")[0] for out in results.values()}
            checksums = {out.split("checksum ")[1].split()[0] for out in results.values()
                         if "checksum " in out and skipped not in out}
            if len(counts) == 1 and len(checksums) == 1:
                passed += 1
                print(f"ok   all 9 consumers agree: {counts.pop()}, checksum {checksums.pop()}")
            else:
                failed += 1
                print(f"FAIL consumers disagree: {counts} {checksums}")
    print(f"matrix: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
