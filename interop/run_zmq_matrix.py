#!/usr/bin/env python3
"""run_zmq_matrix.py - the ZeroMQ transport (SPEC.md §23) across Swift, C and Python: every
topology with producers and consumers of the three languages on one endpoint, one message
per frame and packed, over ipc:// and tcp://127.0.0.1.

- SPSC: all 9 producer -> consumer pairs, single and packed (18 runs). Each consumer must
  get all COUNT messages in order, and report the checksum and byte total of the workload
  (interop/python/workload.py computes them).
- MPSC: a Swift, a C and a Python producer (seeds 1, 2, 3) to one consumer, the consumer
  in each language, single and packed (6 runs): COUNT messages of each seed, each seed in
  order, the three ENDs ending the stream.
- SPMC: one producer, in each language, to a Swift, a C and a Python consumer, single and
  packed (6 runs): each message reaches exactly one consumer (counts and index sums add up
  to the stream's), each consumer's share in order. END is dealt like data (best-effort,
  SPEC.md §23.7), so a consumer may end by idling instead.

The peers (interop/c/zmq_peer.c, interop/python/zmq_peer.py, ring-zmq-peer) share one
command line, described in ring-zmq-peer's source (Sources/RingZmqPeer/main.swift).

    run_zmq_matrix.py --swift-peer PATH --c-peer PATH --zmq-lib PATH --python PATH [--count N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
from workload import expected_checksum  # noqa: E402

LANGUAGES = ("swift", "c", "python")
MAX_SIZE = 256


class Matrix:
    """The peers, a scratch directory for ipc:// endpoints, and the tally."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.peers = {
            "swift": [args.swift_peer],
            "c": [args.c_peer],
            "python": [args.python, os.path.join(HERE, "python", "zmq_peer.py")],
        }
        self.env = dict(os.environ, RINGFORMAT_ZMQ_LIB=args.zmq_lib)
        self.work = tempfile.mkdtemp(prefix="ringformat-zmq-matrix-")
        self.port = 20000 + os.getpid() % 20000
        self.runs = 0
        self.passed = 0
        self.failed = 0

    def endpoint(self) -> str:
        """A fresh endpoint: ipc:// and tcp:// in turn."""
        self.runs += 1
        if self.runs % 2:
            return f"ipc://{self.work}/e{self.runs}.sock"
        self.port += 1
        return f"tcp://127.0.0.1:{self.port}"

    def start(self, language: str, arguments: list[str]) -> subprocess.Popen:
        return subprocess.Popen(self.peers[language] + arguments, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def report(self, ok: bool, label: str, detail: str) -> None:
        if ok:
            self.passed += 1
            print(f"ok   {label} {detail}")
        else:
            self.failed += 1
            print(f"FAIL {label} {detail}")

    def run(self, producers: list[tuple[str, list[str]]], consumers: list[tuple[str, list[str]]],
            consumers_first: bool = True) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """Starts the consumers, then the producers (or the other way round); their (status, output)."""
        started: list[subprocess.Popen] = []
        first, second = (consumers, producers) if consumers_first else (producers, consumers)
        for language, arguments in first:
            started.append(self.start(language, arguments))
        time.sleep(0.3)
        for language, arguments in second:
            started.append(self.start(language, arguments))
        results = []
        for process in started:
            try:
                out = process.communicate(timeout=180)[0].decode().strip()
            except subprocess.TimeoutExpired:
                process.kill()
                out = process.communicate()[0].decode().strip() + " (killed after 180 s)"
            results.append((process.returncode, out))
        done_first, done_second = results[:len(first)], results[len(first):]
        return (done_second, done_first) if consumers_first else (done_first, done_second)


def fields(line: str) -> dict[str, str]:
    """`consumed R messages B bytes checksum 0x.. ended E per-seed .. indices ..` as a dict."""
    words = line.split()
    out = {"received": words[1], "bytes": words[3]}
    for key in ("checksum", "ended", "per-seed", "indices"):
        if key in words:
            out[key] = words[words.index(key) + 1]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--swift-peer", required=True, help="ring-zmq-peer")
    parser.add_argument("--c-peer", required=True, help="build/zmq_peer")
    parser.add_argument("--zmq-lib", required=True, help="libringformat_zmq.so for the C peer")
    parser.add_argument("--python", required=True, help="a Python with ringpy (and ringpy.zmq) installed")
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    m = Matrix(args)
    n = args.count
    sizes = ["--min-size", "8", "--max-size", str(MAX_SIZE)]
    # Each producer keeps its socket open 500 ms after END before it closes: frames still
    # queued for a slow consumer can be lost at close even within linger (SPEC.md §23.8).
    # Without it, SPMC lost 23 of 10000 messages in 1 run of 6 (a Python consumer behind).
    hold = ["--hold-ms", "500"]

    def mode(packed: bool) -> list[str]:
        return ["--packed", "64"] if packed else []

    # SPSC: every pair.
    checksum, total = expected_checksum(7, n, 8, MAX_SIZE)
    for packed in (False, True):
        for producer in LANGUAGES:
            for consumer in LANGUAGES:
                e = m.endpoint()
                prods, cons = m.run(
                    [(producer, ["zmq-produce", e, "--topology", "spsc", "--count", str(n), "--seed", "7"] + sizes + hold + mode(packed))],
                    [(consumer, ["zmq-consume", e, "--topology", "spsc", "--seeds", "7"] + sizes + mode(packed))])
                (ps, pout), (cs, cout) = prods[0], cons[0]
                ok = ps == 0 and cs == 0 and cout.startswith("consumed ")
                if ok:
                    f = fields(cout)
                    ok = (f["received"] == str(n) and f["bytes"] == str(total) and
                          f["checksum"] == "0x%x" % checksum and f["ended"] == "1")
                m.report(ok, f"spsc {'packed' if packed else 'single'} {producer:>6} -> {consumer:<6} {e.split(':')[0]}",
                         cout if ok else f"producer: {pout} | consumer: {cout}")

    # MPSC: one producer per language, seeds 1..3, to one consumer.
    seeds = [1, 2, 3]
    per_seed = [expected_checksum(s, n // 4, 8, MAX_SIZE)[1] for s in seeds]
    for packed in (False, True):
        for consumer in LANGUAGES:
            e = m.endpoint()
            prods, cons = m.run(
                [(lang, ["zmq-produce", e, "--topology", "mpsc", "--count", str(n // 4), "--seed", str(s)] + sizes + hold + mode(packed))
                 for lang, s in zip(LANGUAGES, seeds)],
                [(consumer, ["zmq-consume", e, "--topology", "mpsc", "--seeds", "1,2,3", "--producers", "3"] + sizes + mode(packed))])
            (cs, cout) = cons[0]
            ok = all(s == 0 for s, _ in prods) and cs == 0 and cout.startswith("consumed ")
            if ok:
                f = fields(cout)
                want = ",".join([str(n // 4)] * 3)
                ok = (f["per-seed"] == want and f["bytes"] == str(sum(per_seed)) and f["ended"] == "1" and
                      f["indices"] == ",".join([str((n // 4) * (n // 4 - 1) // 2)] * 3))
            m.report(ok, f"mpsc {'packed' if packed else 'single'} swift+c+python -> {consumer:<6} {e.split(':')[0]}",
                     cout if ok else f"producers: {[o for _, o in prods]} | consumer: {cout}")

    # SPMC: one producer to a consumer of each language; each message to exactly one.
    count = n // 2
    for packed in (False, True):
        for producer in LANGUAGES:
            e = m.endpoint()
            prods, cons = m.run(
                [(producer, ["zmq-produce", e, "--topology", "spmc", "--count", str(count), "--seed", "5",
                             "--end-frames", "3"] + sizes + hold + mode(packed))],
                [(lang, ["zmq-consume", e, "--topology", "spmc", "--seeds", "5", "--subsequence", "--idle-ms", "3000"]
                  + sizes + mode(packed)) for lang in LANGUAGES])
            ok = prods[0][0] == 0 and all(s == 0 and o.startswith("consumed ") for s, o in cons)
            detail = " | ".join(o for _, o in cons)
            if ok:
                got = [fields(o) for _, o in cons]
                received = sum(int(f["received"]) for f in got)
                index_sum = sum(int(f["indices"]) for f in got)
                ok = received == count and index_sum == count * (count - 1) // 2
                detail = f"shares {[f['received'] for f in got]} of {count}, index sum {index_sum}"
            m.report(ok, f"spmc {'packed' if packed else 'single'} {producer:>6} -> swift+c+python {e.split(':')[0]}",
                     detail if ok else f"producer: {prods[0][1]} | consumers: {detail}")

    print(f"zmq matrix: {m.passed} passed, {m.failed} failed")
    return 0 if m.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
