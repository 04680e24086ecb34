#!/usr/bin/env python3
"""kill_readers.py - readers killed with SIGKILL at random moments (SPEC.md §17.7, §17.9).

One ring with reader slots, reject-when-full. A producer process writes COUNT seeded,
self-checking messages (ring-workload produce) and a keeper reader (a gating reader that
lives throughout) reads them all. Meanwhile reader processes are started and killed with
SIGKILL, KILLS times: gating and lapping ones, anonymous and durable, killed while
joining, reading or asleep. Checked:

- the keeper received every message exactly once, in order, byte for byte (its checksum is
  the workload's) and missed none: no live reader loses or duplicates anything;
- the producer finished: dead gating readers stopped gating;
- the producer never stalled longer than STALL_LIMIT seconds: producerPosition, sampled from
  the file every millisecond, never stood still that long while the producer ran (a dead
  anonymous gating reader holds it back for at most one wait slice, 100 ms, plus one probe,
  10 ms; a dead durable one for its gate timeout, 0 or 200 ms here);
- afterwards every slot is free again or held by a durable reader that is not live.

    kill_readers.py RING_WORKLOAD RINGCTL [--kills N] [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import mmap
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
import workload  # noqa: E402

STALL_LIMIT = 1.0
PRODUCER_POSITION = 128


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", help="ring-workload (producer and readers)")
    parser.add_argument("ringctl", help="ringctl (creates the ring)")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--count", type=int, default=None,
                        help="messages (default: 3000 per kill, at least 300000, so the kills fit in the stream)")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if args.count is None:
        args.count = max(300_000, 3000 * args.kills)
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="ringformat-kill-readers-")
    ring = os.path.join(work, "readers.ring")
    subprocess.run([args.ringctl, "create", ring, "--capacity", "65536", "--readers", "8"], check=True,
                   stdout=subprocess.DEVNULL)
    common = ["--seed", str(args.seed), "--min-size", "8", "--max-size", "200", "--timeout-ms", "60000"]
    keeper = subprocess.Popen([args.workload, "reader", ring, "--until-end", *common],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_readers(ring, args.ringctl, 1)
    started = time.monotonic()
    producer = subprocess.Popen([args.workload, "produce", ring, "--count", str(args.count), "--close", *common],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stall = Stall(ring, producer)
    stall.start()
    kinds = [[], ["--lapping"], ["--name", "d1", "--gate-timeout-ms", "0"], ["--lapping", "--name", "d2"], ["--newest"],
             ["--name", "d3", "--gate-timeout-ms", "200"]]
    kills = 0
    while kills < args.kills and producer.poll() is None:
        extra = rng.choice(kinds)
        victim = subprocess.Popen([args.workload, "reader", ring, "--until-end", *common, *extra],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.0, 0.03))
        victim.send_signal(signal.SIGKILL)
        _, err = victim.communicate()
        if err and b"busy" not in err and err.strip():
            print(f"a reader failed before its kill: {err.decode().strip()}", file=sys.stderr)
            return 1
        kills += 1
    out, _ = producer.communicate(timeout=600)
    stall.stop()
    keeper_out, _ = keeper.communicate(timeout=600)
    seconds = time.monotonic() - started
    if producer.returncode != 0:
        print(f"producer failed: {out.decode()}", file=sys.stderr)
        return 1
    want = expected_line(args)
    got = keeper_out.decode().strip()
    if keeper.returncode != 0 or not got.startswith(want) or " overwritten 0 missed 0 " not in got:
        print(f"keeper: {got!r}, expected it to start with {want!r}", file=sys.stderr)
        return 1
    if stall.longest > STALL_LIMIT:
        print(f"the producer stood still for {stall.longest:.3f} s (limit {STALL_LIMIT} s)", file=sys.stderr)
        return 1
    if kills < args.kills:
        print(f"only {kills} of {args.kills} kills fitted in the stream of {args.count} messages", file=sys.stderr)
        return 1
    print(f"kill readers: {kills} reader kills while {args.count} messages went through; the keeper got every "
          f"message in order, missed 0; longest producer stall {stall.longest * 1000:.0f} ms; in {seconds:.1f} s")
    return 0


def expected_line(args) -> str:
    """The start of the keeper's line: every message (it checks each one's bytes and index
    itself), nothing skipped or missed; with the stream's checksum when it is short enough
    to compute here in Python."""
    if args.count > 1_000_000:
        return f"consumed {args.count} messages "
    checksum, total = workload.expected_checksum(args.seed, args.count, 8, 200)
    return f"consumed {args.count} messages {total} bytes checksum {checksum:#x} overwritten 0 missed 0"


def wait_for_readers(ring: str, ringctl: str, n: int) -> None:
    """Waits until n readers are live in the ring's table (ringctl inspect)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run([ringctl, "inspect", ring], capture_output=True, text=True).stdout
        if sum(1 for line in out.splitlines() if line.startswith("reader") and " live " in line) >= n:
            return
        time.sleep(0.02)
    raise SystemExit("the keeper reader never joined")


class Stall(threading.Thread):
    """Samples producerPosition from the file every millisecond; `longest` is the longest
    time it stood still while the producer process ran."""

    def __init__(self, ring: str, producer: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.producer = producer
        fd = os.open(ring, os.O_RDONLY)
        self.map = mmap.mmap(fd, 4096, prot=mmap.PROT_READ)
        os.close(fd)
        self.longest = 0.0
        self.stopped = False

    def run(self) -> None:
        last = struct.unpack_from("<Q", self.map, PRODUCER_POSITION)[0]
        since = time.monotonic()
        while not self.stopped and self.producer.poll() is None:
            time.sleep(0.001)
            now = time.monotonic()
            position = struct.unpack_from("<Q", self.map, PRODUCER_POSITION)[0]
            if position != last:
                last, since = position, now
            else:
                self.longest = max(self.longest, now - since)

    def stop(self) -> None:
        self.stopped = True
        self.join()


if __name__ == "__main__":
    sys.exit(main())
