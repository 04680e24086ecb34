"""The bytes ringpy writes (SPEC.md §3, §6, §16 worked examples), large positions, and
validation of corrupt files (SPEC.md §13) with the errors of §15."""

from __future__ import annotations

import os
import struct
import zlib

import pytest

from ringpy import CorruptError, EmptyError, Policy, Ring, UnsupportedVersionError
from ringtools import (
    CHECKSUM_COVERED_BYTES,
    HEADER_SIZE,
    MAGIC_BYTES,
    RECORD_KIND_MESSAGE,
    RECORD_KIND_PADDING,
    RingModel,
    fix_checksum,
    get_field,
    put_field,
    read_bytes,
    write_bytes,
)
from workload import Workload

REJECT = Policy.REJECT_WHEN_FULL
OVERWRITE = Policy.OVERWRITE_OLDEST
D = HEADER_SIZE  # file offset of the data region


# --- header of a new ring -------------------------------------------------------------


@pytest.mark.parametrize("policy,checksum", [(REJECT, 0x2BAFA081), (OVERWRITE, 0x5E30661C)])
def test_header_of_a_new_ring(ring_path, policy, checksum):
    # The header of SPEC.md §3.1's test vector keeps no counts (§22.2: counts=False).
    Ring.create(ring_path, 4096, policy, counts=False).close()
    assert os.path.getsize(ring_path) == 8192
    header = read_bytes(ring_path, 0, HEADER_SIZE)
    assert header[0:8] == MAGIC_BYTES
    assert struct.unpack_from("<HHIQIII", header, 8) == (1, 0, 4096, 4096, int(policy), 0, 0)
    assert zlib.crc32(header[:CHECKSUM_COVERED_BYTES]) == checksum
    assert struct.unpack_from("<I", header, 124)[0] == checksum, "SPEC.md §3.1 test vector"
    named = {range(0, 36), range(124, 128)}
    for i, b in enumerate(header):
        if b and not any(i in r for r in named):
            pytest.fail(f"header byte {i} of a new ring is {b:#x}, want 0 (positions, wait words, reserved)")
    assert read_bytes(ring_path, D, 4096) == bytes(4096), "the data region of a new ring reads as zeros"


def test_a_new_ring_keeps_counts_by_default(ring_path):
    """SPEC.md §22.2: COMPAT_COUNTS (compatFlags bit 1); nextIndex and consumedCount count."""
    with Ring.create(ring_path, 4096) as ring:
        assert get_field(ring_path, "compat_flags") & 2
        for m in (b"a", b"b", b"c"):
            ring.put(m)
        ring.get()
        ring.flush()
        assert (get_field(ring_path, "next_index"), get_field(ring_path, "consumed_count"), len(ring)) == (3, 1, 2)
    Ring.create(ring_path, 4096, replace=True, counts=False).close()
    assert not get_field(ring_path, "compat_flags") & 2


def test_example_16_1_three_messages(ring_path):
    with Ring.create(ring_path, 4096, counts=False) as ring:
        ring.put(b"hello")
        ring.put(b"world")
        ring.put(b"")
        s = ring.stats()
        assert (s["producer_position"], s["consumer_position"], s["used_bytes"], s["message_count"]) == (40, 0, 40, 3)
        ring.flush()
        assert read_bytes(ring_path, 0x80, 8) == bytes.fromhex("2800000000000000")
        assert read_bytes(ring_path, 0x7C, 4) == bytes.fromhex("81a0af2b")
        assert read_bytes(ring_path, D, 0x40) == bytes.fromhex(
            "05000000010000006865 6c6c6f000000"
            "0500000001000000776f 726c64000000"
            "00000000010000000000 000000000000"
            "00000000000000000000 000000000000".replace(" ", "")
        )


def test_example_16_2_wrapping_with_a_padding_record(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"a" * 2001)
        ring.put(b"b" * 1901)
        assert ring.stats()["producer_position"] == 3928
        assert ring.get() == b"a" * 2001
        ring.put(b"c" * 301)
        s = ring.stats()
        assert (s["producer_position"], s["consumer_position"], s["used_bytes"], s["message_count"]) == (
            4408, 2016, 2392, 2), s
        assert get_field(ring_path, "producer_position") == 4408
        assert get_field(ring_path, "consumer_position") == 2016
        # the message at offset 0, its alignment bytes zero
        assert read_bytes(ring_path, D, 8) == struct.pack("<II", 301, RECORD_KIND_MESSAGE)
        assert read_bytes(ring_path, D + 8, 301) == b"c" * 301
        assert read_bytes(ring_path, D + 309, 3) == b"\0\0\0"
        # the "b" record and the padding record of 168 bytes (length 160) at offset 3928
        assert read_bytes(ring_path, D + 2016, 8) == struct.pack("<II", 1901, RECORD_KIND_MESSAGE)
        assert read_bytes(ring_path, D + 3928, 8) == struct.pack("<II", 160, RECORD_KIND_PADDING)
        assert ring.get() == b"b" * 1901
        assert ring.get() == b"c" * 301
        assert ring.stats()["consumer_position"] == 4408, "padding and message are consumed together"


def test_example_16_4_overwrite_oldest(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        for letter in b"ABCD":
            ring.put(bytes([letter]) * 1000)
        s = ring.stats()
        assert (s["producer_position"], s["consumer_position"], s["dropped_count"]) == (4032, 0, 0)
        ring.put(b"E" * 1000)
        s = ring.stats()
        assert (s["producer_position"], s["consumer_position"], s["used_bytes"], s["message_count"],
                s["dropped_count"]) == (5104, 1008, 4096, 4, 1), s
        assert get_field(ring_path, "dropped_count") == 1
        assert read_bytes(ring_path, D + 4032, 8) == struct.pack("<II", 56, RECORD_KIND_PADDING)
        assert read_bytes(ring_path, D, 16) == struct.pack("<II", 1000, RECORD_KIND_MESSAGE) + b"E" * 8
        assert ring.get() == b"B" * 1000
        s = ring.stats()
        assert (s["consumer_position"], s["message_count"], s["dropped_count"]) == (2016, 3, 1)
        assert ring.get_many(5) == [b"C" * 1000, b"D" * 1000, b"E" * 1000]


def test_full_ring_uses_every_byte(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        for _ in range(4):
            ring.put(b"\x03" * 1016)  # 4 x 1024 bytes
        s = ring.stats()
        assert s["used_bytes"] == 4096 and s["message_count"] == 4
        assert ring.try_put(b"") is False, "even an empty message does not fit in a full ring"
        assert [len(ring.get()) for _ in range(4)] == [1016] * 4
        assert ring.stats()["used_bytes"] == 0


def test_alignment_bytes_are_written_as_zero_over_stale_bytes(ring_path):
    Ring.create(ring_path, 4096).close()
    write_bytes(ring_path, D, b"\xff" * 4096)  # stale garbage in the free region
    with Ring.open(ring_path) as ring:
        ring.put(b"abc")  # record of 16 bytes: 5 alignment bytes
        ring.put(b"defghijk")  # exactly 16 bytes: none
        assert read_bytes(ring_path, D, 16) == struct.pack("<II", 3, 1) + b"abc" + bytes(5)
        assert read_bytes(ring_path, D + 16, 16) == struct.pack("<II", 8, 1) + b"defghijk"
        assert read_bytes(ring_path, D + 32, 8) == b"\xff" * 8, "bytes past the commit are not touched"
        assert ring.get_many(2) == [b"abc", b"defghijk"]


def test_wrap_around_padding_record_bytes(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        message = b"\xab" * 100  # 112-byte records
        for _ in range(36):
            ring.put(message)  # positions 0 -> 4032
        assert ring.get_many(36) == [message] * 36
        wrapped = bytes(range(100))
        ring.put(wrapped)  # 64 bytes left: padding, then the record at offset 0
        assert read_bytes(ring_path, D + 4032, 8) == struct.pack("<II", 56, RECORD_KIND_PADDING)
        assert read_bytes(ring_path, D, 8) == struct.pack("<II", 100, RECORD_KIND_MESSAGE)
        assert read_bytes(ring_path, D + 108, 4) == bytes(4)
        s = ring.stats()
        assert s["producer_position"] == 4096 + 112 and s["message_count"] == 1
        assert ring.get() == wrapped
        assert ring.stats()["consumer_position"] == 4096 + 112


def test_example_16_3_positions_past_2_to_the_32nd(ring_path):
    with Ring.create(ring_path, 4096, initial_position=4294967288, counts=False) as ring:
        assert get_field(ring_path, "producer_position") == get_field(ring_path, "consumer_position") == 0xFFFFFFF8
        assert get_field(ring_path, "checksum") == 0x2BAFA081, "positions are not covered by the checksum"
        ring.put(b"hello")
        ring.put(b"positions past 2^32")
        assert read_bytes(ring_path, 0x80, 8) == bytes.fromhex("3000000001000000")
        assert read_bytes(ring_path, 0x1FF8, 8) == struct.pack("<II", 0, RECORD_KIND_PADDING)
        assert read_bytes(ring_path, D, 16) == struct.pack("<II", 5, 1) + b"hello\0\0\0"
        assert read_bytes(ring_path, D + 16, 32) == struct.pack("<II", 19, 1) + b"positions past 2^32" + bytes(5)
        s = ring.stats()
        assert (s["producer_position"], s["consumer_position"], s["used_bytes"], s["message_count"]) == (
            4294967344, 4294967288, 56, 2)
        assert ring.get() == b"hello"
        assert read_bytes(ring_path, 0x100, 8) == bytes.fromhex("1000000001000000")
        s = ring.stats()
        assert (s["used_bytes"], s["message_count"]) == (32, 1)


def test_padding_of_length_zero(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        for _ in range(4):
            ring.put(bytes(1008))  # 4 x 1016 = 4064 bytes: 32 left
        ring.put(bytes(16))  # 24 bytes: 8 left
        assert ring.stats()["producer_position"] == 4088
        ring.get_many(5)
        ring.put(b"hello")  # 16 bytes do not fit in 8: padding of length 0
        assert read_bytes(ring_path, D + 4088, 8) == struct.pack("<II", 0, RECORD_KIND_PADDING)
        assert ring.stats()["producer_position"] == 4096 + 16
        assert ring.get() == b"hello"


# --- positions past 2^32 and across 2^64 ----------------------------------------------


def _set_positions(path, position):
    put_field(path, "producer_position", position)
    put_field(path, "consumer_position", position)


@pytest.mark.parametrize("how", ["initial_position", "written into the file"])
@pytest.mark.parametrize("policy", [REJECT, OVERWRITE])
@pytest.mark.parametrize("start", [(1 << 32) - 8, (1 << 32) - 4096, 1 << 40, (1 << 64) - 8192, (1 << 64) - 8])
def test_large_positions(ring_path, policy, start, how):
    if how == "initial_position":
        Ring.create(ring_path, 4096, policy, initial_position=start).close()
    else:
        Ring.create(ring_path, 4096, policy).close()
        _set_positions(ring_path, start)  # positions are not covered by the checksum
    model = RingModel(4096, policy, start)
    w = Workload(seed=start & 0xFFFF, min_size=0, max_size=300)
    with Ring.open(ring_path) as ring:
        s = ring.stats()
        assert s["producer_position"] == start and s["consumer_position"] == start and s["used_bytes"] == 0
        received = []
        for i in range(400):
            m = w.message(i)
            if policy == REJECT and not model.fits(len(m)):
                got = ring.get_many(1000)
                assert got == model.get_many(1000)
                received += got
            assert ring.try_put(m) is True
            model.put(m)
            if i % 37 == 0:
                s = ring.stats()
                assert (s["producer_position"], s["consumer_position"], s["dropped_count"]) == (
                    model.head, model.tail, model.dropped), f"after message {i}"
        got = ring.get_many(1000)
        assert got == model.get_many(1000)
        s = ring.stats()
        assert s["producer_position"] == model.head == s["consumer_position"]
        assert (model.head - start) % (1 << 64) > 4 * 4096, "the test went round the ring several times"


# --- validation (SPEC.md §13) ------------------------------------------------------------


def _set(name, value, base=0, fix=False):
    def mutate(path):
        put_field(path, name, value, base)
        if fix:
            fix_checksum(path)
    return mutate


def _all(*mutations):
    def mutate(path):
        for m in mutations:
            m(path)
    return mutate


def _truncate(size):
    return lambda path: os.truncate(path, size)


def _write(offset, data, fix=False):
    def mutate(path):
        write_bytes(path, offset, data)
        if fix:
            fix_checksum(path)
    return mutate


# (name, policy, stage, mutate, expected error or None)
#   stage "open": Ring.open raises; "role": taking the consumer role (first get) raises;
#   "stats": stats() raises; "read": the first read raises.
CORRUPTION_CASES = [
    ("wrong magic", REJECT, "open", _write(0, b"XINGFMT\0"), CorruptError),
    ("magic zeroed", REJECT, "open", _write(0, bytes(8)), CorruptError),
    ("major version 2", REJECT, "open", _set("version_major", 2), UnsupportedVersionError),
    ("major version 2 with checksum", REJECT, "open", _set("version_major", 2, fix=True), UnsupportedVersionError),
    ("major version 0 with checksum", REJECT, "open", _set("version_major", 0, fix=True), UnsupportedVersionError),
    ("newer minor version is accepted", REJECT, "open", _set("version_minor", 3, fix=True), None),
    ("checksum mismatch", REJECT, "open", lambda p: put_field(p, "checksum", get_field(p, "checksum") ^ 1),
     CorruptError),
    ("identity byte changed without checksum", REJECT, "open", _write(64, b"\x01"), CorruptError),
    ("reserved identity byte with checksum is accepted", REJECT, "open", _write(64, b"\x01", fix=True), None),
    ("reserved header byte is ignored", REJECT, "open", _write(2000, b"\x07"), None),
    ("header size not a power of two", REJECT, "open", _set("header_size", 3000, fix=True), CorruptError),
    ("header size too small", REJECT, "open", _set("header_size", 2048, fix=True), CorruptError),
    ("header size too large", REJECT, "open", _set("header_size", 1 << 20, fix=True), CorruptError),
    ("header size larger than the file allows", REJECT, "open", _set("header_size", 8192, fix=True), CorruptError),
    ("capacity not a power of two", REJECT, "open", _set("capacity", 5000, fix=True), CorruptError),
    ("capacity zero", REJECT, "open", _set("capacity", 0, fix=True), CorruptError),
    ("capacity too small", REJECT, "open", _set("capacity", 2048, fix=True), CorruptError),
    ("capacity too large", REJECT, "open", _set("capacity", 1 << 41, fix=True), CorruptError),
    ("capacity larger than the file", REJECT, "open", _set("capacity", 8192, fix=True), CorruptError),
    ("unknown policy", REJECT, "open", _set("policy", 7, fix=True), UnsupportedVersionError),
    ("unknown incompatible flag", REJECT, "open", _set("incompat_flags", 1 << 5, fix=True), UnsupportedVersionError),
    ("unknown compatible flag is ignored", REJECT, "open", _set("compat_flags", 0x80, fix=True), None),
    ("empty file", REJECT, "open", _truncate(0), CorruptError),
    ("truncated header", REJECT, "open", _truncate(100), CorruptError),
    ("truncated data region", REJECT, "open", _truncate(4096 + 2048), CorruptError),
    ("file longer than header + capacity", REJECT, "open", _truncate(8192 + 1), CorruptError),
    ("file a page longer", REJECT, "open", _truncate(8192 + 4096), CorruptError),
    ("misaligned producer position", REJECT, "role", _set("producer_position", 5), CorruptError),
    ("misaligned consumer position", REJECT, "role",
     _all(_set("consumer_position", 12), _set("producer_position", 16)), CorruptError),
    ("consumer ahead of producer", REJECT, "role",
     _all(_set("producer_position", 8), _set("consumer_position", 16)), CorruptError),
    ("producer more than capacity ahead", REJECT, "role", _set("producer_position", 8192), CorruptError),
    ("positions out of order, stats", REJECT, "stats", _set("producer_position", 8192), CorruptError),
    ("misaligned position, stats", OVERWRITE, "stats", _set("producer_position", 20), CorruptError),
    ("bad writer state", REJECT, "stats", _set("writer_state", 9), CorruptError),
    ("bad writer state seen by an empty read", REJECT, "read",
     _all(_set("writer_state", 9), _set("producer_position", 0)), CorruptError),
    ("length prefix past the capacity", REJECT, "read", _set("record_length", 0xFFFFFFF0, base=D), CorruptError),
    ("length prefix past what was committed", REJECT, "read", _set("record_length", 100, base=D), CorruptError),
    ("length prefix over max message size", REJECT, "read", _set("record_length", 2041, base=D), CorruptError),
    ("length prefix past the capacity, overwrite-oldest", OVERWRITE, "read",
     _set("record_length", 0x7FFF0000, base=D), CorruptError),
    ("unknown record kind", REJECT, "read", _set("record_kind", 7, base=D), CorruptError),
    ("record kind zero", OVERWRITE, "read", _set("record_kind", 0, base=D), CorruptError),
    ("padding record that does not reach the end", REJECT, "read",
     _set("record_kind", RECORD_KIND_PADDING, base=D), CorruptError),
    ("padding record as the last committed record", REJECT, "read",
     _all(_set("record_length", 4096 - 8, base=D), _set("record_kind", RECORD_KIND_PADDING, base=D),
          _set("producer_position", 4096)), CorruptError),
]


def _exercise(path, stage):
    ring = Ring.open(path)
    try:
        if stage == "role":
            ring.get(timeout=0)
        elif stage == "stats":
            ring.stats()
        elif stage == "read":
            ring.get(timeout=0)
        return ring
    except BaseException:
        ring.close()
        raise


@pytest.mark.parametrize("name,policy,stage,mutate,error", CORRUPTION_CASES, ids=[c[0] for c in CORRUPTION_CASES])
def test_corrupted_file_gives_its_error(ring_path, name, policy, stage, mutate, error):
    with Ring.create(ring_path, 4096, policy) as ring:
        ring.put(b"abcdefghijk")  # one committed 11-byte record: positions 0 -> 24
    mutate(ring_path)
    if error is None:
        with Ring.open(ring_path) as ring:
            ring.stats()
            assert ring.get(timeout=0) == b"abcdefghijk", f"{name}: the ring must still work"
        return
    if stage == "open":
        with pytest.raises(error) as info:
            Ring.open(ring_path)
    else:
        with pytest.raises(error) as info:
            _exercise(ring_path, stage).close()
    assert str(info.value), f"{name}: the error message should say what is wrong"
    if error is CorruptError:
        assert not isinstance(info.value, UnsupportedVersionError)


def test_unsupported_version_message_names_both_versions(ring_path):
    Ring.create(ring_path, 4096).close()
    put_field(ring_path, "version_major", 2)
    fix_checksum(ring_path)
    with pytest.raises(UnsupportedVersionError) as info:
        Ring.open(ring_path)
    assert "2" in str(info.value) and "1" in str(info.value), str(info.value)


def test_corrupt_file_is_refused_by_create_exist_ok(ring_path):
    Ring.create(ring_path, 4096).close()
    write_bytes(ring_path, 0, b"XINGFMT\0")
    with pytest.raises(CorruptError):
        Ring.create(ring_path, 4096, exist_ok=True)


def test_corruption_noticed_while_the_ring_is_open(ring_path):
    # A hostile peer rewrites a length prefix after the consumer opened the ring.
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"first")
        ring.put(b"second")
        assert ring.get() == b"first"
        put_field(ring_path, "record_length", 4000, base=D + 16)
        with pytest.raises(CorruptError):
            ring.get(timeout=0)
        # still an error, not a crash, on every later call
        with pytest.raises(CorruptError):
            ring.get_many(4)
        with pytest.raises(CorruptError):
            ring.get_view(timeout=0)
        with pytest.raises(CorruptError):
            ring.stats()
        with pytest.raises(CorruptError):
            ring.peek_all()


def test_hostile_length_prefix_at_the_start_of_the_data_region(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"x" * 40)
        put_field(ring_path, "record_length", 0x7FFFFFF8, base=D)
        with pytest.raises(CorruptError):
            ring.get(timeout=0)
        with pytest.raises(CorruptError):
            ring.try_get()
        with pytest.raises(CorruptError):
            ring.get_many(1)


def test_hostile_record_seen_by_an_overwriting_producer(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        for _ in range(4):
            ring.put(bytes([7]) * 1000)  # 4 x 1008 bytes: 4032 used
        put_field(ring_path, "record_kind", 99, base=D)
        # the next write must reclaim the first record, whose header is now garbage
        with pytest.raises(CorruptError):
            ring.put(bytes([7]) * 1000)


def test_positions_are_reread_each_time(ring_path):
    # A consumer loads the producer's position each time it finds the ring empty
    # (SPEC.md §8.2): a commit made through the file by another writer is seen.
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(EmptyError):
            ring.get(timeout=0)
        write_bytes(ring_path, D, struct.pack("<II", 2, RECORD_KIND_MESSAGE) + b"hi" + bytes(6))
        put_field(ring_path, "producer_position", 16)
        assert ring.get(timeout=0) == b"hi"
