"""The Python producer and consumer of the interop tests: the same command line and the
same output as ``ring-workload produce`` / ``ring-workload consume`` and ``build/ring_peer``
(interop/README.md), through ringpy.

    python ring_peer.py produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--batch N] [--timeout-ms N] [--close]
    python ring_peer.py consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end]
    python ring_peer.py reader PATH (the options of consume) [--lapping] [--newest] [--name NAME] [--gate-timeout-ms N]

``reader`` joins a ring with reader slots (format 1.1) as a reader: gating unless --lapping,
from the oldest message unless --newest, durable if named. As ``ring-workload reader``, it
takes each message's index from its first 8 bytes (a reader may start after message 0 and a
lapping one may be lapped: use --min-size 8 or more), counts the gaps between them as
"overwritten" (from index 0, or with --newest or --name from its first message, as the C
ring_peer does), and its line adds the library's count of what it missed
(Reader.missed_count): ``consumed N messages B bytes checksum 0xHEX overwritten K missed M
in T ms``. Nothing else goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time

import ringpy
from workload import StreamChecksum, Workload


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ring_peer")
    parser.add_argument("command", choices=["produce", "consume", "reader"])
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
    parser.add_argument("--no-checksum", action="store_true",
                        help="check every byte but skip the (pure-Python, slow) stream checksum")
    a = parser.parse_args(argv)

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
