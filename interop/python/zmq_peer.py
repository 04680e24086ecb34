"""The Python producer and consumer of the cross-language ZeroMQ matrix
(interop/run_zmq_matrix.py), through ringpy.zmq: the same command line and output as the
Swift peer (Sources/RingZmqPeer/main.swift) and the C peer (interop/c/zmq_peer.c).

    python zmq_peer.py zmq-produce ENDPOINT --topology spsc|mpsc|spmc --count N --seed S
                       [--min-size 8] [--max-size 256] [--packed K] [--end-frames E] [--timeout-ms T] [--hold-ms H]
    python zmq_peer.py zmq-consume ENDPOINT --topology T --seeds S1[,S2,...] [--min-size 8]
                       [--max-size 256] [--packed K] [--producers P] [--idle-ms I] [--subsequence]

The producer sends messages 0..N-1 of the interop workload (interop/README.md), one per put
or K per put_packed, each call with timeout T ms, then END (E frames) and closes (linger
5 s); it prints ``produced N messages B bytes in T ms``. The consumer checks every message -
message idx of one seed, idx its first 8 bytes, idx == last + 1 for that seed (idx > last
with --subsequence, for SPMC) - until END_OF_STREAM or I ms with nothing, and prints
``consumed R messages B bytes checksum 0xHEX ended 0|1 per-seed N1,... indices X1,...``.
Exit 1 with a line on stderr at the first bad message or error.
"""

from __future__ import annotations

import argparse
import sys
import time

import ringpy
from ringpy.zmq import ZmqConsumer, ZmqProducer
from workload import StreamChecksum, Workload


def fail(text: str) -> None:
    """Writes `text` to standard error and exits with status 1."""
    print("zmq_peer.py: " + text, file=sys.stderr, flush=True)
    sys.exit(1)


def produce(a: argparse.Namespace) -> None:
    """zmq-produce: messages 0..count-1, single or packed, then END and close."""
    workload = Workload(a.seed, a.min_size, a.max_size)
    timeout = a.timeout_ms / 1000.0
    start = time.monotonic()
    total = 0
    with ZmqProducer(a.endpoint, a.topology, linger=5.0) as producer:
        index = 0
        while index < a.count:
            if a.packed > 0:
                batch = [workload.message(i) for i in range(index, min(a.count, index + a.packed))]
                sent = producer.put_packed(batch, timeout)
                if sent != len(batch):
                    fail("put_packed sent %d of %d messages from index %d" % (sent, len(batch), index))
                total += sum(len(m) for m in batch)
                index += len(batch)
            else:
                message = workload.message(index)
                producer.put(message, timeout)
                total += len(message)
                index += 1
        producer.close_writer(a.end_frames, timeout)
        elapsed_ms = int((time.monotonic() - start) * 1000)
        # The socket stays open --hold-ms after END: frames still queued for a slow consumer
        # can be lost at close even within linger (SPEC.md §23.8, the close caveat).
        time.sleep(a.hold_ms / 1000)
    print("produced %d messages %d bytes in %d ms" % (a.count, total, elapsed_ms), flush=True)


def consume(a: argparse.Namespace) -> None:
    """zmq-consume: every message checked against the seeds' workloads, until END or idle."""
    try:
        seeds = [int(s) for s in a.seeds.split(",")]
    except ValueError:
        fail("--seeds %s: numbers separated by commas" % a.seeds)
    workloads = [Workload(s, a.min_size, a.max_size) for s in seeds]
    last = [-1] * len(seeds)
    per_seed = [0] * len(seeds)
    index_sums = [0] * len(seeds)
    checksum = StreamChecksum()
    received = 0
    total = 0
    ended = False
    idle = a.idle_ms / 1000.0

    def check(message: bytes) -> None:
        nonlocal received, total
        index = Workload.index_in(message)
        if index is None:
            fail("message %d has %d bytes, fewer than the 8 of its index" % (received, len(message)))
        for k, w in enumerate(workloads):
            follows = index > last[k] if a.subsequence else index == last[k] + 1
            if follows and w.matches(index, message):
                break
        else:
            fail("message %d (%d bytes, index %d) is not the next message of any seed %s (last %s)"
                 % (received, len(message), index, seeds, last))
        last[k] = index
        per_seed[k] += 1
        index_sums[k] = (index_sums[k] + index) & ((1 << 64) - 1)
        checksum.add(message)
        received += 1
        total += len(message)

    with ZmqConsumer(a.endpoint, a.topology, producers=a.producers) as consumer:
        try:
            while True:
                if a.packed > 0:
                    batch = consumer.get_many(a.packed, idle)
                    if not batch:
                        break  # idle
                    for message in batch:
                        check(message)
                else:
                    check(consumer.get(idle))
        except ringpy.EndOfStreamError:
            ended = True
        except ringpy.EmptyError:
            ended = False
    print("consumed %d messages %d bytes checksum %s ended %d per-seed %s indices %s"
          % (received, total, checksum.hex(), 1 if ended else 0, ",".join(map(str, per_seed)),
             ",".join(map(str, index_sums))), flush=True)


def main(argv: list) -> int:
    """Parses the command line and runs the command; 1 with a stderr line on an error."""
    p = argparse.ArgumentParser(prog="zmq_peer.py", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["zmq-produce", "zmq-consume"])
    p.add_argument("endpoint")
    p.add_argument("--topology", required=True, choices=["spsc", "mpsc", "spmc"])
    p.add_argument("--count", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--seeds", default=None)
    p.add_argument("--min-size", type=int, default=8)
    p.add_argument("--max-size", type=int, default=256)
    p.add_argument("--packed", type=int, default=0)
    p.add_argument("--end-frames", type=int, default=1)
    p.add_argument("--timeout-ms", type=int, default=60000)
    p.add_argument("--hold-ms", type=int, default=0)
    p.add_argument("--producers", type=int, default=1)
    p.add_argument("--idle-ms", type=int, default=10000)
    p.add_argument("--subsequence", action="store_true")
    a = p.parse_args(argv)
    if a.min_size < 8:
        fail("--min-size must be at least 8 (each message carries its index)")
    try:
        if a.command == "zmq-produce":
            if a.count is None or a.seed is None:
                fail("zmq-produce needs --count and --seed")
            produce(a)
        else:
            if a.seeds is None:
                fail("zmq-consume needs --seeds")
            consume(a)
    except (ringpy.RingError, OSError, ValueError) as e:
        fail("%s %s: %s: %s" % (a.command, a.endpoint, type(e).__name__, e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
