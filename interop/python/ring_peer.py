"""The Python producer and consumer of the interop tests: the same command line and the
same output as ``ring-workload produce`` / ``ring-workload consume`` and ``build/ring_peer``
(interop/README.md), through ringpy.

    python ring_peer.py produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--batch N] [--timeout-ms N] [--close]
    python ring_peer.py consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end]
    python ring_peer.py reader PATH (the options of consume) [--lapping] [--newest] [--name NAME] [--gate-timeout-ms N]
    python ring_peer.py produce-items PATH --count N [--batch N] [--timeout-ms N] [--close]
    python ring_peer.py consume-items PATH --count N [--max-items N] [--timeout-ms N] [--until-end]

``reader`` joins a ring with reader slots (format 1.1) as a reader: gating unless --lapping,
from the oldest message unless --newest, durable if named. As ``ring-workload reader``, it
takes each message's index from its first 8 bytes (a reader may start after message 0 and a
lapping one may be lapped: use --min-size 8 or more), counts the gaps between them as
"overwritten" (from index 0, or with --newest or --name from its first message, as the C
ring_peer does), and its line adds the library's count of what it missed
(Reader.missed_count): ``consumed N messages B bytes checksum 0xHEX overwritten K missed M
in T ms``. Nothing else goes to stdout.

``produce-items`` and ``consume-items`` do as ``ring-workload produce-items`` / ``consume-items``
and ``ring_peer produce-items`` / ``consume-items`` (interop/run_typed_matrix.py), through
ringpy.ItemRing and NumPy: items 0..N-1 of the item workload (``item_batch``) written with
insert_many in batches, read with consume_many and checked, with the line ``consumed R items
missed M library-missed L dropped D checksum 0xCRC in T ms``.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib

import ringpy
from workload import StreamChecksum, Workload


#: The item workload's type (SPEC.md §19.2) and its NumPy dtype; the same as ItemWorkload in
#: Sources/RingWorkloadTool/main.swift and wl_item_fill in interop/c/workload.h.
ITEM_TYPE = "{seq:<u8@0,value:<f8@8,tag:>u4@16,pad:|V4@20}24"
ITEM_DTYPE = [("seq", "<u8"), ("value", "<f8"), ("tag", ">u4"), ("pad", "V4")]


def item_batch(np, seqs):
    """The items of stream numbers seqs: seq, seq * 0.5 + 0.25, (seq * 0x9E3779B1) mod 2^32
    (big-endian: the dtype's '>u4' converts), four zero bytes."""
    items = np.zeros(len(seqs), dtype=ITEM_DTYPE)
    items["seq"] = seqs
    items["value"] = seqs * 0.5 + 0.25
    items["tag"] = (seqs * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    return items


def run_items(a) -> int:
    """produce-items and consume-items on a typed ring of ITEM_TYPE."""
    import numpy as np

    ring = ringpy.ItemRing.open(a.path, dtype=ITEM_DTYPE)
    timeout = None if a.timeout_ms < 0 else a.timeout_ms / 1000.0
    start = time.monotonic()
    if a.command == "produce-items":
        batch = max(1, a.batch)
        for first in range(0, a.count, batch):
            ring.insert_many(item_batch(np, np.arange(first, min(first + batch, a.count), dtype=np.uint64)),
                             timeout=timeout)
        if a.close:
            ring.close_writer()
        ring.close()
        print(f"produced {a.count} items in {int((time.monotonic() - start) * 1000)} ms", flush=True)
        return 0
    # Under overwrite-oldest the items that arrive are an in-order subsequence.
    overwrite = ring.policy == ringpy.Policy.OVERWRITE_OLDEST
    received = expected = missed = crc = 0
    while a.until_end or received < a.count:
        wanted = a.max_items if a.until_end else min(a.max_items, a.count - received)
        try:
            items = ring.consume_many(wanted, timeout=timeout)
        except ringpy.EndOfStreamError:
            break
        if len(items) == 0:
            print(f"ring_peer: no item within {a.timeout_ms} ms after {received}", file=sys.stderr)
            return 1
        seqs = items["seq"]
        first, last = int(seqs[0]), int(seqs[-1])
        in_order = (bool(np.all(seqs[1:] > seqs[:-1])) and first >= expected if overwrite
                    else first == expected and last - first == len(items) - 1 and bool(np.all(np.diff(seqs) == 1)))
        if not in_order or items.tobytes() != item_batch(np, seqs).tobytes():
            print(f"ring_peer: items {received}..{received + len(items) - 1} (expected seq {expected}"
                  f"{' or later' if overwrite else ''}) are wrong", file=sys.stderr)
            return 1
        missed += last + 1 - expected - len(items)
        expected = last + 1
        received += len(items)
        crc = zlib.crc32(items.tobytes(), crc)
    # The items after the last one received that never came (none once the stream ended).
    if a.until_end and a.count > expected:
        missed += a.count - expected
    line = (f"consumed {received} items missed {missed} library-missed {ring.missed_count} dropped {ring.dropped_count} "
            f"checksum 0x{crc:x} in {int((time.monotonic() - start) * 1000)} ms")
    ring.close()
    print(line, flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ring_peer")
    parser.add_argument("command", choices=["produce", "consume", "reader", "produce-items", "consume-items"])
    parser.add_argument("path")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=0)
    parser.add_argument("--max-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--timeout-ms", type=int, default=-1)
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--until-end", action="store_true")
    parser.add_argument("--lapping", action="store_true", help="reader: never hold the producer back")
    parser.add_argument("--newest", action="store_true", help="reader: start after the newest message")
    parser.add_argument("--name", help="reader: a durable reader of this name")
    parser.add_argument("--gate-timeout-ms", type=int, default=10_000,
                        help="reader: how long a durable gating reader that died still holds the producer back")
    parser.add_argument("--producer-id", type=int, default=0,
                        help="produce: message i has index PRODUCER_ID << 32 | i (several producers, SPEC.md §18)")
    parser.add_argument("--producers", type=int, default=0,
                        help="consume/reader: messages come from this many producers (index >> 32), each in order")
    parser.add_argument("--per-producer", type=int, default=0,
                        help="with --producers: each producer wrote this many, so a producer's last messages "
                             "that never arrived count as overwritten too")
    parser.add_argument("--max-items", type=int, default=64, help="consume-items: items per read")
    parser.add_argument("--no-checksum", action="store_true",
                        help="check every byte but skip the (pure-Python, slow) stream checksum")
    a = parser.parse_args(argv)
    if a.command in ("produce-items", "consume-items"):
        if not hasattr(ringpy, "ItemRing"):
            print("ring_peer: this ringpy has no ItemRing (typed rings)", file=sys.stderr)
            return 77
        return run_items(a)

    ring = ringpy.Ring.open(a.path)
    w = Workload(a.seed, a.min_size, min(a.max_size, ring.max_message_size))
    timeout = None if a.timeout_ms < 0 else a.timeout_ms / 1000.0
    start = time.monotonic()

    if a.command == "produce":
        batch = max(1, a.batch)
        base = a.producer_id << 32
        i = 0
        while i < a.count:
            if batch == 1:
                ring.put(w.message(base + i), timeout=timeout)
                i += 1
            else:
                n = min(batch, a.count - i)
                written = ring.put_many([w.message(base + i + k) for k in range(n)], timeout=timeout)
                if written != n:
                    print(f"ring_peer: put_many wrote {written} of {n}", file=sys.stderr)
                    return 1
                i += n
        if a.close:
            ring.close_writer()
        ring.close()
        print(f"produced {a.count} messages in {int((time.monotonic() - start) * 1000)} ms", flush=True)
        return 0

    is_reader = a.command == "reader"
    if is_reader:
        source = ring.reader(a.name, gating=not a.lapping, start="newest" if a.newest else "oldest",
                             gate_timeout=a.gate_timeout_ms / 1000.0)
    else:
        source = ring
    # Messages may be missing: an overwrite-oldest ring, or a reader (it starts at the oldest
    # message still in the ring, or the newest, and a lapping one may be lapped).
    overwrite = ring.policy == ringpy.Policy.OVERWRITE_OLDEST or is_reader
    checksum = StreamChecksum()
    received = 0
    total = 0
    expected = 0
    skipped = 0
    per_producer = [p << 32 for p in range(a.producers)]  # with --producers: the next index due from each
    started = [False] * a.producers
    while a.until_end or received < a.count:
        try:
            message = source.get(timeout=timeout)
        except ringpy.EndOfStreamError:
            break
        if type(message) is not bytes:
            print(f"ring_peer: get returned {type(message).__name__}, not bytes", file=sys.stderr)
            return 1
        index = expected
        if a.producers:
            carried = Workload.index_in(message)
            p = -1 if carried is None else carried >> 32
            if not 0 <= p < a.producers or carried < per_producer[p]:
                print(f"ring_peer: message {received} carries no valid index of {a.producers} producers", file=sys.stderr)
                return 1
            if not ((a.newest or a.name) and not started[p]):
                skipped += carried - per_producer[p]
            started[p] = True
            index = carried
            per_producer[p] = carried + 1
        elif overwrite:
            carried = Workload.index_in(message)
            if carried is None or carried < expected:
                print(f"ring_peer: message {received} carries no valid index", file=sys.stderr)
                return 1
            # A reader that joined at the newest, or resumed by its name, counts from its first message.
            if not ((a.newest or a.name) and received == 0):
                skipped += carried - expected
            index = carried
        if message != w.message(index):
            print(
                f"ring_peer: message {received} (expected index {index}, {len(message)} bytes) is wrong",
                file=sys.stderr,
            )
            return 1
        if not a.no_checksum:
            checksum.add(message)
        expected = index + 1
        received += 1
        total += len(message)
    if a.per_producer:
        # The gaps after each producer's last message received: no later message shows them.
        skipped += sum((p << 32) + a.per_producer - per_producer[p] for p in range(a.producers))
    missed = f" missed {source.missed_count}" if is_reader else ""
    if is_reader:
        source.close()
    ring.close()
    ms = int((time.monotonic() - start) * 1000)
    print(
        f"consumed {received} messages {total} bytes checksum {'skipped' if a.no_checksum else checksum.hex()} "
        f"overwritten {skipped}{missed} in {ms} ms",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
