"""Golden vectors (interop/vectors): the Python writer, given each .ops file, makes a
file byte-identical to the committed .ring; the Python reader sees exactly the .expect.
Rings with readers (format 1.1) are read through a lapping reader that joins at the oldest
message, after the reader table was listed (SPEC.md §16.5). Rings with producers (§18) are
written by one Ring per `producer` (its slot taken there), with private hooks of ringpy for
`reserve`/`commit`/`abandon` (ringpy has no zero-copy write); ringpy cannot drop a producer
as `crash` does (a killed process would leave its owner word), so, as §16.5 allows, it only
reads those vectors.

Typed rings (§19, the items-* vectors) are written and read through ringpy.ItemRing (its
private ``_create`` for the vector's exact itemAlignment: ItemRing.create takes NumPy's
dtype.alignment), and read a second time by a clean-room reader of the file's bytes that
follows SPEC.md §3 and §19 alone, without ringpy.
"""

from __future__ import annotations

import pathlib
import shutil
import struct
import time
import zlib

import pytest

import ringpy
from ringtools import get_field

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "interop" / "vectors"
NAMES = sorted(p.stem for p in VECTORS.glob("*.ops"))


HAVE_ITEMS = hasattr(ringpy, "ItemRing")
_CREATE_REPLACE = 1  # RING_CREATE_REPLACE of ringformat.h


class CannotWrite(Exception):
    """An operation ringpy cannot perform the way the vector needs (`crash`)."""


def is_typed(ops: pathlib.Path) -> bool:
    """Whether a vector's ring is a typed ring (SPEC.md §19): its .ops begins with create-items."""
    return any(l.startswith("create-items ") for l in ops.read_text().splitlines())


def default_alignment(size: int) -> int:
    """The alignment of create-items without `align N`: the largest power of two up to 8
    dividing the item size (SPEC.md §16.5)."""
    return min(8, size & -size)


def item_fill(count: int, size: int, byte: int) -> bytes:
    """write-items-fill COUNT BYTE: byte j of the batch's item k is (BYTE + k + j) mod 256."""
    return bytes((byte + k + j) & 0xFF for k in range(count) for j in range(size))


def run_item_ops(lines, out: pathlib.Path) -> None:
    """The typed-ring operations of SPEC.md §16.5 (create-items, write-items,
    write-items-fill, read-items, close-writer), through one ringpy.ItemRing that takes the
    producer role at its first write and the consumer role at its first read."""
    import numpy as np
    from ringpy import _itemtype

    ring = None
    for number, line in lines:
        op, _, rest = line.partition(" ")
        args = rest.split()
        if op == "create-items":
            alignment = None
            if len(args) >= 2 and args[-2] == "align":
                alignment, args = int(args[-1]), args[:-2]
            description = args[2]
            size = _itemtype.parse(description).itemsize
            policy = "overwrite_oldest" if args[1] == "overwrite" else "reject_when_full"
            start = int(args[3]) if len(args) > 3 else 0
            ringpy.ItemRing._create(out, description, default_alignment(size) if alignment is None else alignment,
                                    int(args[0]), policy, 0o600, _CREATE_REPLACE, start).close()
            ring = ringpy.ItemRing.open(out, double_map=False)
        elif op in ("write-items", "write-items-fill"):
            data = (bytes.fromhex(rest) if op == "write-items"
                    else item_fill(int(args[0]), ring.item_size, int(args[1])))
            ring.insert_many(np.frombuffer(data, dtype=ring.dtype), timeout=0)
        elif op == "read-items":
            n = int(args[0]) if args else 1
            got = ring.consume_many(n, timeout=0)
            assert len(got) == n, f"{out.name}:{number}: read-items {n} found {len(got)}"
        elif op == "close-writer":
            ring.close_writer()
        else:
            raise AssertionError(f"{out.name}:{number}: {op} in a vector of a typed ring")
    ring.close()


def run_ops(ops: pathlib.Path, out: pathlib.Path) -> None:
    """The .ops language of SPEC.md §16.5, through ringpy."""
    lines = [(number, raw.strip()) for number, raw in enumerate(ops.read_text().splitlines(), 1)
             if raw.strip() and not raw.startswith("#")]
    if lines and lines[0][1].startswith("create-items "):
        return run_item_ops(lines, out)
    ring = None
    producers: dict = {}
    reserved: dict = {}
    for number, line in lines:
        op, _, rest = line.partition(" ")
        args = rest.split()
        if op == "create":
            policy = "overwrite_oldest" if args[1] == "overwrite" else "reject_when_full"
            slots = {"readers": 0, "producers": 0}
            for table in ("producers", "readers"):
                if table in args:
                    slots[table] = int(args[args.index(table) + 1])
                    args = args[:args.index(table)] + args[args.index(table) + 2:]
            counts = args[-1] == "counts"  # SPEC.md §16.5: COMPAT_COUNTS only when asked for
            if counts:
                args = args[:-1]
            start = int(args[2]) if len(args) > 2 else 0
            ring = ringpy.Ring.create(out, int(args[0]), policy, replace=True, initial_position=start,
                                      readers=slots["readers"], producers=slots["producers"], counts=counts)
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


def state_lines(capacity, policy, p, c, dropped, closed, count) -> list:
    """The seven lines every .expect begins with (SPEC.md §16.5)."""
    return [f"capacity {capacity}", f"policy {'overwrite' if policy == 1 else 'reject'}", f"producerPosition {p}",
            f"consumerPosition {c}", f"droppedCount {dropped}", f"writerClosed {int(closed)}", f"messageCount {count}"]


def item_expectation(path: pathlib.Path) -> str:
    """The .expect text of a typed ring through ringpy.ItemRing: the state, the type, then the
    unread items peeked (unwrapped) without consuming them. The byte capacity, which ItemRing
    does not show (its capacity counts items), is the header's field."""
    with ringpy.ItemRing.open(path) as ring:
        s = ring.stats()
        lines = state_lines(get_field(path, "capacity"), int(s["policy"]), s["producer_position"],
                            s["consumer_position"], s["dropped_count"], s["writer_closed"], s["count"])
        lines += [f"itemType {ring.type_description}", f"itemSize {ring.item_size}",
                  f"itemAlignment {ring.item_alignment}", f"itemCapacity {ring.capacity}"]
        data = ring.unwrapped(copy=True).tobytes()
        size = ring.item_size
        lines += [f"item {data[k:k + size].hex()}" for k in range(0, len(data), size)]
    return "\n".join(lines) + "\n"


def clean_room_item_expectation(path: pathlib.Path) -> str:
    """The .expect text of a typed ring from the file's bytes alone, by SPEC.md §3 and §19:
    the identity line checked (magic, INCOMPAT_ITEMS, headerChecksum, typeChecksum), then
    item i read at data offset (i * itemSize mod 2^64) & (capacity - 1), continuing at 0 if
    it passes the end of the region (§19.3)."""
    data = path.read_bytes()
    u32 = lambda at: struct.unpack_from("<I", data, at)[0]
    u64 = lambda at: struct.unpack_from("<Q", data, at)[0]
    assert data[:8] == b"RINGFMT\x00" and struct.unpack_from("<H", data, 8)[0] == 1
    assert u32(28) & 4, "INCOMPAT_ITEMS"
    assert u32(124) == zlib.crc32(data[:124]), "headerChecksum"
    header_size, capacity, policy = u32(12), u64(16), u32(24)
    size, alignment, type_length = u32(44), u32(48), u32(52)
    description = data[512:512 + type_length]
    assert u32(56) == zlib.crc32(description), "typeChecksum"
    assert not any(data[512 + type_length:1024]), "zero bytes after the type description"
    assert len(data) == header_size + capacity and 1 <= size <= min(65536, capacity)
    assert alignment & (alignment - 1) == 0 and size % alignment == 0
    p, c, dropped, state = u64(128), u64(256), u64(144), u32(152)
    used = (p - c) % (1 << 64)
    assert used <= capacity // size and state in (0, 1)
    region = data[header_size:]
    lines = state_lines(capacity, policy, p, c, dropped, state == 1, used)
    lines += [f"itemType {description.decode('ascii')}", f"itemSize {size}", f"itemAlignment {alignment}",
              f"itemCapacity {capacity // size}"]
    for i in range(c, c + used):
        offset = (i * size) % (1 << 64) & (capacity - 1)
        item = (region + region[:size])[offset:offset + size]
        lines.append(f"item {item.hex()}")
    return "\n".join(lines) + "\n"


def expectation(path: pathlib.Path) -> str:
    if get_field(path, "item_size"):
        return item_expectation(path)
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


def need_items(name: str) -> None:
    """Skips a typed-ring vector if this ringpy has no ItemRing."""
    if is_typed(VECTORS / f"{name}.ops") and not HAVE_ITEMS:
        pytest.skip("this ringpy has no ItemRing (typed rings, SPEC.md §19)")


def test_there_are_typed_vectors():
    assert len([n for n in NAMES if is_typed(VECTORS / f"{n}.ops")]) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_python_writer_is_byte_identical(name, tmp_path):
    need_items(name)
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


@pytest.mark.parametrize("name", [n for n in NAMES if is_typed(VECTORS / f"{n}.ops")])
def test_clean_room_reader_sees_the_expectation(name):
    """A typed ring's .expect, from the bytes of its .ring by SPEC.md §19 alone."""
    assert clean_room_item_expectation(VECTORS / f"{name}.ring") == (VECTORS / f"{name}.expect").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_python_reader_sees_the_expectation(name, tmp_path):
    need_items(name)
    copy = tmp_path / f"{name}.ring"
    shutil.copyfile(VECTORS / f"{name}.ring", copy)
    expected = (VECTORS / f"{name}.expect").read_text()
    assert expectation(copy) == expected
    if is_typed(VECTORS / f"{name}.ops"):
        # Consuming them gives the same items, one at a time, then nothing or the end of the stream.
        items = [l[len("item "):] for l in expected.splitlines() if l.startswith("item ")]
        with ringpy.ItemRing.open(copy) as ring:
            for hex_item in items:
                assert ring.consume_many(1, timeout=0).tobytes().hex() == hex_item
            if "writerClosed 1" in expected:
                with pytest.raises(ringpy.EndOfStreamError):
                    ring.consume(timeout=0)
            else:
                with pytest.raises(ringpy.EmptyError):
                    ring.consume(timeout=0)
        return
    messages = [bytes.fromhex(l[len("message "):]) for l in expected.splitlines() if l.startswith("message ")]
    with ringpy.Ring.open(copy) as ring, source(ring) as reader:
        assert reader.get_many(len(messages) + 10) == messages
        if "writerClosed 1" in expected:
            with pytest.raises(ringpy.EndOfStreamError):
                reader.get(timeout=0)
        else:
            assert reader.try_get() is None
