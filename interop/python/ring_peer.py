"""The Python producer and consumer of the interop tests: the same command line and the
same output as ``ring-workload produce`` / ``ring-workload consume`` and ``build/ring_peer``
(interop/README.md), through ringpy.

    python ring_peer.py produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--batch N] [--timeout-ms N] [--close]
    python ring_peer.py consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end]
"""

from __future__ import annotations

import argparse
import sys
import time

import ringpy
from workload import StreamChecksum, Workload


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ring_peer")
    parser.add_argument("command", choices=["produce", "consume"])
    parser.add_argument("path")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=0)
    parser.add_argument("--max-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--timeout-ms", type=int, default=-1)
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--until-end", action="store_true")
    parser.add_argument("--no-checksum", action="store_true",
                        help="check every byte but skip the (pure-Python, slow) stream checksum")
    a = parser.parse_args(argv)

    ring = ringpy.Ring.open(a.path)
    w = Workload(a.seed, a.min_size, min(a.max_size, ring.max_message_size))
    timeout = None if a.timeout_ms < 0 else a.timeout_ms / 1000.0
    start = time.monotonic()

    if a.command == "produce":
        batch = max(1, a.batch)
        i = 0
        while i < a.count:
            if batch == 1:
                ring.put(w.message(i), timeout=timeout)
                i += 1
            else:
                n = min(batch, a.count - i)
                written = ring.put_many([w.message(i + k) for k in range(n)], timeout=timeout)
                if written != n:
                    print(f"ring_peer: put_many wrote {written} of {n}", file=sys.stderr)
                    return 1
                i += n
        if a.close:
            ring.close_writer()
        ring.close()
        print(f"produced {a.count} messages in {int((time.monotonic() - start) * 1000)} ms", flush=True)
        return 0

    overwrite = ring.policy == ringpy.Policy.OVERWRITE_OLDEST
    checksum = StreamChecksum()
    received = 0
    total = 0
    expected = 0
    skipped = 0
    while a.until_end or received < a.count:
        try:
            message = ring.get(timeout=timeout)
        except ringpy.EndOfStreamError:
            break
        if type(message) is not bytes:
            print(f"ring_peer: get returned {type(message).__name__}, not bytes", file=sys.stderr)
            return 1
        index = expected
        if overwrite:
            carried = Workload.index_in(message)
            if carried is None or carried < expected:
                print(f"ring_peer: message {received} carries no valid index", file=sys.stderr)
                return 1
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
    ring.close()
    ms = int((time.monotonic() - start) * 1000)
    print(
        f"consumed {received} messages {total} bytes checksum {'skipped' if a.no_checksum else checksum.hex()} "
        f"overwritten {skipped} in {ms} ms",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
