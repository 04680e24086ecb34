#!/usr/bin/env python3
"""run_readers.py - one ring, one producer, three readers: one Swift, one C, one Python
process (format 1.1, SPEC.md §17), with each language producing in turn.

Under reject-when-full the readers are gating: each must receive every message, in order,
byte for byte (its checksum is the workload's). Under overwrite-oldest they are lapping:
for each, received + missed = produced, and the gaps it saw in the message indexes are
exactly the library's missed count ("overwritten K missed M" with K == M).

    run_readers.py --ringctl PATH --workload PATH --c-peer PATH --python PATH [--count N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
import workload  # noqa: E402

LINE = re.compile(r"consumed (\d+) messages (\d+) bytes checksum (0x[0-9a-f]+) overwritten (\d+) missed (\d+) in \d+ ms")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ringctl", required=True)
    parser.add_argument("--workload", required=True, help="ring-workload (the Swift producer and reader)")
    parser.add_argument("--c-peer", required=True)
    parser.add_argument("--python", required=True, help="a Python with ringpy installed")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=2027)
    args = parser.parse_args()
    peers = {
        "swift": [args.workload],
        "c": [args.c_peer],
        "python": [args.python, os.path.join(HERE, "python", "ring_peer.py")],
    }
    work = tempfile.mkdtemp(prefix="ringformat-readers-")
    common = ["--count", str(args.count), "--seed", str(args.seed), "--min-size", "8", "--max-size", "2000",
              "--timeout-ms", "120000"]
    checksum, total = workload.expected_checksum(args.seed, args.count, 8, 2000)
    passed = failed = 0
    for policy in ("reject", "overwrite"):
        for producer in peers:
            ring = os.path.join(work, f"{producer}-{policy}.ring")
            subprocess.run([args.ringctl, "create", ring, "--capacity", "65536", "--policy", policy, "--readers", "4"],
                           check=True, stdout=subprocess.DEVNULL)
            extra = [] if policy == "reject" else ["--lapping"]
            readers = {name: subprocess.Popen(cmd + ["reader", ring, "--until-end", *extra, *common],
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                       for name, cmd in peers.items()}
            wait_for_readers(args.ringctl, ring, len(readers))
            started = time.monotonic()
            prod = subprocess.run(peers[producer] + ["produce", ring, "--close", "--batch", "4", *common],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            for name, p in readers.items():
                out = p.communicate(timeout=300)[0].decode().strip()
                seconds = time.monotonic() - started
                m = LINE.fullmatch(out)
                ok = prod.returncode == 0 and p.returncode == 0 and m is not None
                if ok and policy == "reject":
                    ok = m.group(1, 3, 4, 5) == (str(args.count), f"{checksum:#x}", "0", "0") and int(m.group(2)) == total
                elif ok:
                    received, gaps, missed = int(m.group(1)), int(m.group(4)), int(m.group(5))
                    ok = gaps == missed and received + missed == args.count and received > 0
                label = f"{producer} producer -> {name} reader ({policy})"
                if ok:
                    passed += 1
                    print(f"ok   {label}: {out} ({seconds:.1f} s)")
                else:
                    failed += 1
                    print(f"FAIL {label}: producer {prod.returncode} {prod.stdout.decode().strip()!r}; reader {p.returncode}: {out!r}")
    print(f"readers: {passed} passed, {failed} failed")
    return 1 if failed else 0


def wait_for_readers(ringctl: str, ring: str, n: int) -> None:
    """Waits until n readers are live in the ring's table."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run([ringctl, "inspect", ring], capture_output=True, text=True).stdout
        if sum(1 for line in out.splitlines() if line.startswith("reader") and " live " in line) >= n:
            return
        time.sleep(0.02)
    raise SystemExit(f"{ring}: the readers did not all join:\n{out}")


if __name__ == "__main__":
    sys.exit(main())
