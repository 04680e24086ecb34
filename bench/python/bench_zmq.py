#!/usr/bin/env python3
"""bench_zmq.py - the pyzmq ends of the ZeroMQ benchmark (bench/zmq_table.py, make bench):
PUSH/PULL over tcp://, one message per frame, or packed the way mm_toolbox's ZeroMQ ring
packs in pure Python (many messages, each behind a 4-byte little-endian length, in one
frame). The pull end prints one JSON line: messages, bytes, first_ns and last_ns
(time.monotonic_ns, CLOCK_MONOTONIC), msgs_per_s and mb_per_s between its first and last
message. An empty frame ends the stream.

    bench_zmq.py push ENDPOINT --size N --count N [--packed K]    connects
    bench_zmq.py pull ENDPOINT [--packed]                         binds
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time

import zmq

LENGTH = struct.Struct("<I")


def push(sock: zmq.Socket, size: int, count: int, packed: int) -> None:
    payload = b"\x5a" * size
    if packed <= 1:
        send = sock.send
        for _ in range(count):
            send(payload, copy=size > 4096)  # pyzmq: copy small frames, zero-copy large ones
    else:
        pack = LENGTH.pack
        left = count
        while left > 0:
            n = min(packed, left)
            messages = [payload] * n  # what a caller hands over: a list of bytes objects
            parts = []
            for m in messages:
                parts.append(pack(len(m)))
                parts.append(m)
            sock.send(b"".join(parts), copy=False)
            left -= n
    sock.send(b"")


def pull(sock: zmq.Socket, packed: bool) -> dict:
    messages = nbytes = first = last = 0
    recv = sock.recv
    unpack = LENGTH.unpack_from
    while True:
        frame = recv()
        at = time.monotonic_ns()
        if not frame:
            break
        if messages == 0:
            first = at
        last = at
        if not packed:
            messages += 1
            nbytes += len(frame)
            continue
        # Unpack every message into a bytes object of its own, as a reader would get it.
        offset, end = 0, len(frame)
        while offset < end:
            (n,) = unpack(frame, offset)
            m = frame[offset + 4:offset + 4 + n]
            offset += 4 + n
            messages += 1
            nbytes += len(m)
    seconds = (last - first) / 1e9
    rate = (messages - 1) / seconds if messages > 1 and seconds > 0 else 0.0
    per = nbytes / messages if messages else 0
    return {"impl": "pyzmq-packed" if packed else "pyzmq", "messages": messages, "bytes": nbytes,
            "first_ns": first, "last_ns": last, "msgs_per_s": rate, "mb_per_s": rate * per / 1e6}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("side", choices=("push", "pull"))
    ap.add_argument("endpoint")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--packed", type=int, nargs="?", const=1024, default=0,
                    help="push: messages per frame; pull: the frames are packed")
    args = ap.parse_args()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH if args.side == "push" else zmq.PULL)
    sock.linger = 10_000
    try:
        if args.side == "push":
            sock.connect(args.endpoint)
            push(sock, args.size, args.count, args.packed)
        else:
            sock.bind(args.endpoint)
            print(json.dumps(pull(sock, args.packed > 0)), flush=True)
    finally:
        sock.close()
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
