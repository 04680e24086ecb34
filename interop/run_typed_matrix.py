#!/usr/bin/env python3
"""run_typed_matrix.py - every producer/consumer pair of Swift, C and Python (all 9) on a
typed ring (SPEC.md §19), as two concurrent processes, under both policies.

The ring holds items of the struct ``{seq:<u8@0,value:<f8@8,tag:>u4@16,pad:|V4@20}24``
(NumPy ``[("seq","<u8"),("value","<f8"),("tag",">u4"),("pad","V4")]``): 24 bytes, so items
straddle the end of the region, with a big-endian field. Its positions start just below
2^64 and wrap during the run. The producer writes items 0..COUNT-1 in batches of BATCH (one
commit each), item seq holding seq, seq * 0.5 + 0.25, (seq * 0x9E3779B1) mod 2^32 stored
big-endian, and four zero bytes (ItemWorkload in Sources/RingWorkloadTool/main.swift,
wl_item_fill in interop/c/workload.h, item_batch in interop/python/ring_peer.py); then it
ends the stream. The consumer, which holds its role before the producer starts, reads
until the end of the stream, checks every field of every item and their order, and prints

    consumed R items missed M library-missed L dropped D checksum 0xCRC in T ms

M: the items that never came (gaps in seq, and after the last); L: its library's count of
the items the producer dropped before it read them; D: the ring's droppedCount; CRC: zlib's
CRC-32 of the bytes of the items received, in order.

- reject-when-full: R = COUNT and M = L = D = 0 for every pair, and the 9 checksums agree
  with the one computed here.
- overwrite-oldest: R + M = COUNT and M = L = D.

The Python peer needs ringpy.ItemRing; without it (ring_peer.py exits 77) the Python pairs
are skipped, said so, and the others still run.

    run_typed_matrix.py --ringctl PATH --workload PATH --c-peer PATH --python PATH [--count N]
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ITEM_TYPE = "{seq:<u8@0,value:<f8@8,tag:>u4@16,pad:|V4@20}24"
LINE = re.compile(r"consumed (\d+) items missed (\d+) library-missed (\d+) dropped (\d+) checksum (0x[0-9a-f]+) in \d+ ms")
CONSUMER_OWNER = 376  # consumerOwner (SPEC.md §3.3, §11.4): not 0 while the consumer role is held
SKIPPED = 77          # a peer's exit status when it cannot run typed rings


def item(seq: int) -> bytes:
    """Item seq of the workload."""
    return struct.pack("<Qd", seq, seq * 0.5 + 0.25) + struct.pack(">I", (seq * 0x9E3779B1) & 0xFFFFFFFF) + bytes(4)


def expected_checksum(count: int) -> str:
    """The CRC-32 of items 0..count-1: what every consumer of a reject-when-full ring reports."""
    crc = 0
    for first in range(0, count, 4096):
        crc = zlib.crc32(b"".join(item(s) for s in range(first, min(first + 4096, count))), crc)
    return f"0x{crc:x}"


def wait_for_consumer(ring: str, consumer: subprocess.Popen, seconds: float) -> bool:
    """Waits until the consumer holds its role (its owner word is set) or exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and consumer.poll() is None:
        with open(ring, "rb") as f:
            f.seek(CONSUMER_OWNER)
            if struct.unpack("<Q", f.read(8))[0]:
                return True
        time.sleep(0.005)
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ringctl", required=True, help="ringctl (creates the rings)")
    parser.add_argument("--workload", required=True, help="ring-workload (the Swift producer and consumer)")
    parser.add_argument("--c-peer", required=True)
    parser.add_argument("--python", required=True, help="a Python with ringpy and NumPy installed")
    parser.add_argument("--count", type=int, default=50000, help="items per pair")
    parser.add_argument("--capacity", type=int, default=256, help="items the ring holds at least (341 are made)")
    parser.add_argument("--batch", type=int, default=10, help="items per commit of the producer")
    parser.add_argument("--max-items", type=int, default=100, help="items per read of the consumer")
    parser.add_argument("--policies", default="reject,overwrite")
    parser.add_argument("--initial-position", type=int, default=2**64 - 8192,
                        help="both positions start here (an item count; ringctl takes multiples of 8)")
    args = parser.parse_args()
    peers = {
        "swift": [args.workload],
        "c": [args.c_peer],
        "python": [args.python, os.path.join(HERE, "python", "ring_peer.py")],
    }
    work = tempfile.mkdtemp(prefix="ringformat-typed-matrix-")
    want = expected_checksum(args.count)
    common = ["--count", str(args.count), "--timeout-ms", "60000"]
    passed = failed = skipped = 0
    for policy in args.policies.split(","):
        checksums: dict[tuple[str, str], str] = {}
        for producer in peers:
            for consumer in peers:
                label = f"{producer:>6} -> {consumer:<6} {policy:<9}"
                ring = os.path.join(work, f"{producer}-{consumer}-{policy}.ring")
                subprocess.run([args.ringctl, "create", ring, "--item-type", ITEM_TYPE, "--capacity", str(args.capacity),
                                "--policy", policy, "--initial-position", str(args.initial_position)],
                               check=True, stdout=subprocess.DEVNULL)
                started = time.monotonic()
                cons = subprocess.Popen(peers[consumer] + ["consume-items", ring, "--until-end", "--max-items",
                                                           str(args.max_items)] + common,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                ready = wait_for_consumer(ring, cons, 30)
                prod = None
                if ready:
                    prod = subprocess.run(peers[producer] + ["produce-items", ring, "--close", "--batch", str(args.batch)]
                                          + common, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                if prod is None or prod.returncode == SKIPPED:
                    cons.kill()
                out = cons.communicate(timeout=300)[0].decode().strip()
                produced = prod.stdout.decode().strip() if prod else "not started"
                seconds = time.monotonic() - started
                if SKIPPED in (cons.returncode, prod.returncode if prod else None):
                    skipped += 1
                    why = produced if prod and prod.returncode == SKIPPED else out
                    print(f"skip {label} {why} (the Python pairs are skipped)")
                    continue
                m = LINE.fullmatch(out)
                ok = prod is not None and prod.returncode == 0 and cons.returncode == 0 and m is not None
                if ok:
                    received, missed, library_missed, dropped = (int(m.group(k)) for k in range(1, 5))
                    if policy == "reject":
                        ok = received == args.count and missed == library_missed == dropped == 0
                        checksums[(producer, consumer)] = m.group(5)
                    else:
                        ok = received + missed == args.count and missed == library_missed == dropped
                if ok:
                    passed += 1
                    print(f"ok   {label} {out.split(' in ')[0]} ({seconds:.1f} s)")
                else:
                    failed += 1
                    print(f"FAIL {label} producer: {produced} consumer: {out}")
        if policy == "reject" and checksums:
            if set(checksums.values()) == {want}:
                passed += 1
                print(f"ok   all {len(checksums)} reject-when-full consumers agree: checksum {want}")
            else:
                failed += 1
                print(f"FAIL checksums disagree (expected {want}): {checksums}")
    print(f"typed matrix: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
