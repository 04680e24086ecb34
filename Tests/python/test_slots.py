"""SlotRing: mm_toolbox's BytesRingBufferFast over a typed ring (SPEC.md §19) — fixed-size
slots, oversized inserts refused with ValueError, only_insert_unique, overwrite on full,
async consume, and a ring another process reads."""

import asyncio
import collections
import os
import subprocess
import sys

import pytest

import ringpy


def test_bytes_in_fixed_slots_come_back_exactly():
    ring = ringpy.SlotRing.anonymous(slot_size=16, capacity=8)
    assert ring.ring.type_description == "{length:<u4@0,data:|V16@4}24"
    for data in (b"", b"alpha", b"\x00\xff" * 8):
        ring.insert(data)
    assert ring.unwrapped() == [b"", b"alpha", b"\x00\xff" * 8]
    assert ring.consume() == b""
    assert ring.consume_all() == [b"alpha", b"\x00\xff" * 8]
    assert ring.is_empty()


def test_an_insert_longer_than_a_slot_raises_value_error_and_writes_nothing():
    ring = ringpy.SlotRing.anonymous(slot_size=4, capacity=8)
    with pytest.raises(ValueError, match="5 bytes do not fit in a slot of 4 bytes"):
        ring.insert(b"12345")
    assert len(ring) == 0
    ring.insert_char(bytearray(b"1234"))
    assert ring.consume() == b"1234"


def test_overwrite_on_full_keeps_the_newest_like_deque_maxlen():
    ring = ringpy.SlotRing.anonymous(slot_size=8, capacity=4)
    model = collections.deque(maxlen=ring.capacity)
    for i in range(3 * ring.capacity + 1):
        data = b"m%d" % i
        ring.insert(data)
        model.append(data)
    assert ring.is_full()
    assert ring.unwrapped() == list(model)


def test_only_insert_unique_skips_an_entry_equal_to_an_unread_one():
    ring = ringpy.SlotRing.anonymous(slot_size=8, capacity=8, only_insert_unique=True)
    for data in (b"a", b"b", b"a", b"c", b"b"):
        ring.insert(data)
    assert ring.unwrapped() == [b"a", b"b", b"c"]
    assert ring.consume() == b"a"
    ring.insert(b"a")   # no longer unread: inserted again
    assert ring.consume_all() == [b"b", b"c", b"a"]


def test_aconsume_waits_for_an_insert():
    ring = ringpy.SlotRing.anonymous(slot_size=8, capacity=8)

    async def main():
        waiter = asyncio.ensure_future(ring.aconsume(timeout=10))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        ring.insert(b"late")
        return await waiter

    assert asyncio.run(main()) == b"late"


def test_a_slot_ring_file_is_read_by_another_process(tmp_path):
    path = str(tmp_path / "slots.ring")
    ring = ringpy.SlotRing.create(path, slot_size=32, capacity=64, policy=ringpy.Policy.REJECT_WHEN_FULL)
    for i in range(50):
        ring.insert(b"entry %d" % i)
    ring.close_writer()
    code = (
        "import ringpy, sys\n"
        "r = ringpy.SlotRing.open(sys.argv[1])\n"
        "got = list(r)\n"
        "assert got == [b'entry %d' % i for i in range(50)], got\n"
        "print(len(got))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "50"


def test_a_slot_whose_length_a_peer_corrupted_is_refused(tmp_path):
    path = str(tmp_path / "bad.ring")
    ring = ringpy.SlotRing.create(path, slot_size=8, capacity=8)
    ring.insert(b"ok")
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, (1000).to_bytes(4, "little"), 4096)   # the first slot's length, in the data region
    finally:
        os.close(fd)
    with pytest.raises(ValueError, match="holds 1000 bytes, more than its 8"):
        ring.consume()
