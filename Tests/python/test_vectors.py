"""Golden vectors (interop/vectors): the Python writer, given each .ops file, makes a
file byte-identical to the committed .ring; the Python reader sees exactly the .expect.
Rings with readers (format 1.1) are read through a lapping reader that joins at the oldest
message, after the reader table was listed (SPEC.md §16.5). Rings with producers (§18) are
written by one Ring per `producer` (its slot taken there), with private hooks of ringpy for
`reserve`/`commit`/`abandon` (ringpy has no zero-copy write); ringpy cannot drop a producer
as `crash` does (a killed process would leave its owner word), so, as §16.5 allows, it only
reads those vectors."""

from __future__ import annotations

import pathlib
import shutil
import time

import pytest

import ringpy
from ringtools import get_field

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "interop" / "vectors"
NAMES = sorted(p.stem for p in VECTORS.glob("*.ops"))


class CannotWrite(Exception):
    """An operation ringpy cannot perform the way the vector needs (`crash`)."""


def run_ops(ops: pathlib.Path, out: pathlib.Path) -> None:
    """The .ops language of SPEC.md §16.5, through ringpy."""
    ring = None
    producers: dict = {}
    reserved: dict = {}
    for number, raw in enumerate(ops.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        args = rest.split()
        if op == "create":
            policy = "overwrite_oldest" if args[1] == "overwrite" else "reject_when_full"
            slots = {"readers": 0, "producers": 0}
            for table in ("producers", "readers"):
                if table in args:
                    slots[table] = int(args[args.index(table) + 1])
                    args = args[:args.index(table)] + args[args.index(table) + 2:]
            start = int(args[2]) if len(args) > 2 else 0
            ring = ringpy.Ring.create(out, int(args[0]), policy, replace=True, initial_position=start,
                                      readers=slots["readers"], producers=slots["producers"])
            readers = {}
        elif op == "join":
            ident, flags = args[0], args[1:]
            readers[ident] = ring.reader(ident if "durable" in flags else None, gating="lapping" not in flags,
                                         start="newest" if "newest" in flags else "oldest")
        elif op == "reader-read":
            for _ in range(int(args[1]) if len(args) > 1 else 1):
                readers[args[0]].get(timeout=0)
        elif op == "leave":
            readers.pop(args[0]).close()
        elif op == "write":
            ring.put(rest.encode(), timeout=0)
        elif op == "write-hex":
            ring.put(bytes.fromhex(rest), timeout=0)
        elif op == "write-fill":
            ring.put(bytes([int(args[1])]) * int(args[0]), timeout=0)
        elif op == "read":
            for _ in range(int(args[0]) if args else 1):
                ring.get(timeout=0)
        elif op == "close-writer":
            ring.close_writer()
        elif op == "producer":
            producers[args[0]] = ringpy.Ring.open(out)
            producers[args[0]]._take_producer()  # the lowest slot §18.2 allows, now
        elif op in ("write-as", "reserve"):
            text = rest[len(args[0]) + 1:].encode()
            if op == "write-as":
                producers[args[0]].put(text, timeout=0)
            else:
                producers[args[0]]._reserve(text)
                reserved[args[0]] = len(text)
        elif op == "write-batch-as":
            words = [w.encode() for w in args[1:]]
            assert producers[args[0]].put_many(words, timeout=0) == len(words)
        elif op == "commit":
            producers[args[0]]._commit(reserved.pop(args[0]))
        elif op == "abandon":
            reserved.pop(args[0])
            producers[args[0]]._abort()
        elif op == "crash":
            raise CannotWrite(f"{ops.name}:{number}: ringpy cannot drop a producer as `crash` does")
        else:
            raise AssertionError(f"{ops}:{number}: unknown operation {op}")
    ring.flush()
    if ring.reader_slots:
        for reader in readers.values():
            reader.close()
    for producer in producers.values():
        producer.close()
    ring.close()


def source(ring: ringpy.Ring):
    """What reads the unread messages: the Ring (its consumer), or a lapping reader at the
    oldest message of a ring with readers (from tailPosition)."""
    return ring.reader(gating=False) if ring.reader_slots else ring


def settle(ring: ringpy.Ring, path: pathlib.Path) -> None:
    """Settles the claims at the front (SPEC.md §16.5, §18.7) as a reader does, by waiting
    while producerPosition is behind claimPosition: every producer of the copy is dead, so
    each unpublished claim is cancelled at once and each committed one published. (The C ABI
    has no call for Swift's Ring.settleClaims().)"""
    deadline = time.monotonic() + 5
    while get_field(path, "claim_position") != get_field(path, "producer_position"):
        assert time.monotonic() < deadline, "the claims at the front were not settled within 5 s"
        if ring.reader_slots:
            with ring.reader(gating=False) as reader:
                reader._wait(0.05)
        else:
            ring._wait(0.05)


def expectation(path: pathlib.Path) -> str:
    with ringpy.Ring.open(path) as ring:
        if ring.producer_slots:
            settle(ring, path)
        s = ring.stats()
        lines = [
            f"capacity {s['capacity']}",
            f"policy {'overwrite' if s['policy'] == ringpy.Policy.OVERWRITE_OLDEST else 'reject'}",
            f"producerPosition {s['producer_position']}",
            f"consumerPosition {s['consumer_position']}",
            f"droppedCount {s['dropped_count']}",
            f"writerClosed {int(s['writer_closed'])}",
            f"messageCount {s['message_count']}",
        ]
        if ring.producer_slots:
            lines.append(f"producerSlots {ring.producer_slots}")
        if ring.reader_slots:
            lines.append(f"readerSlots {ring.reader_slots}")
            lines += [f"reader {r.slot} {'gating' if r.gating else 'lapping'} {'durable' if r.durable else 'anonymous'} "
                      f"cursor {r.cursor} missed {r.missed_count} name {(r.name or '').encode().hex()}"
                      for r in ring.readers()]
        with source(ring) as reader:
            lines += [f"message {m.hex()}" for m in reader.peek_all()]
    return "\n".join(lines) + "\n"


def test_there_are_vectors():
    assert len(NAMES) >= 9


@pytest.mark.parametrize("name", NAMES)
def test_python_writer_is_byte_identical(name, tmp_path):
    ops = VECTORS / f"{name}.ops"
    out = tmp_path / f"{name}.ring"
    try:
        run_ops(ops, out)
    except CannotWrite as e:
        pytest.skip(str(e))
    made, golden = out.read_bytes(), (VECTORS / f"{name}.ring").read_bytes()
    assert len(made) == len(golden)
    first = next((i for i, (a, b) in enumerate(zip(made, golden)) if a != b), None)
    assert first is None, f"{name}: first differing byte at offset {first}"


@pytest.mark.parametrize("name", NAMES)
def test_python_reader_sees_the_expectation(name, tmp_path):
    copy = tmp_path / f"{name}.ring"
    shutil.copyfile(VECTORS / f"{name}.ring", copy)
    expected = (VECTORS / f"{name}.expect").read_text()
    assert expectation(copy) == expected
    messages = [bytes.fromhex(l[len("message "):]) for l in expected.splitlines() if l.startswith("message ")]
    with ringpy.Ring.open(copy) as ring, source(ring) as reader:
        assert reader.get_many(len(messages) + 10) == messages
        if "writerClosed 1" in expected:
            with pytest.raises(ringpy.EndOfStreamError):
                reader.get(timeout=0)
        else:
            assert reader.try_get() is None
