"""The Ring API of ringpy/__init__.pyi: module constants, exceptions, create/open, the
properties, stats(), single-threaded put/get, bytes-like inputs, type errors, closed
rings, roles (BusyError), end of stream and persistence."""

from __future__ import annotations

import array
import asyncio
import ctypes
import enum
import os
import pathlib
import queue
import stat
import subprocess
import sys
import time

import pytest

import ringpy
from ringpy import (
    BusyError,
    ClosedError,
    CorruptError,
    EmptyError,
    EndOfStreamError,
    FullError,
    InvalidSizeError,
    OverwrittenError,
    Policy,
    Ring,
    RingError,
    UnsupportedVersionError,
)
from ringtools import HEADER_SIZE, align8, read_bytes, run_with_deadline

REJECT = Policy.REJECT_WHEN_FULL
OVERWRITE = Policy.OVERWRITE_OLDEST


# --- module constants ---------------------------------------------------------------


def test_format_version_is_1_1():
    assert ringpy.FORMAT_VERSION == (1, 1)
    assert isinstance(ringpy.FORMAT_VERSION, tuple)


def test_version_is_a_string():
    assert isinstance(ringpy.__version__, str) and ringpy.__version__, ringpy.__version__


def test_abi_version_is_an_int():
    assert isinstance(ringpy.ABI_VERSION, int) and not isinstance(ringpy.ABI_VERSION, bool)
    assert ringpy.ABI_VERSION >= 1


def test_policy_values():
    assert issubclass(Policy, enum.IntEnum)
    assert Policy.REJECT_WHEN_FULL == 0 and Policy.OVERWRITE_OLDEST == 1
    assert [p.name for p in Policy] == ["REJECT_WHEN_FULL", "OVERWRITE_OLDEST"]


# --- exceptions -----------------------------------------------------------------------

HIERARCHY = [
    (RingError, Exception),
    (FullError, RingError),
    (FullError, queue.Full),
    (EmptyError, RingError),
    (EmptyError, queue.Empty),
    (InvalidSizeError, RingError),
    (InvalidSizeError, ValueError),
    (ClosedError, RingError),
    (ClosedError, ValueError),
    (EndOfStreamError, RingError),
    (EndOfStreamError, EOFError),
    (CorruptError, RingError),
    (UnsupportedVersionError, RingError),
    (BusyError, RingError),
    (OverwrittenError, RingError),
]


@pytest.mark.parametrize("sub,base", HIERARCHY, ids=[f"{s.__name__}<{b.__name__}" for s, b in HIERARCHY])
def test_exception_hierarchy(sub, base):
    assert issubclass(sub, base), f"{sub.__name__} must subclass {base.__name__}"


def test_exception_classes_are_distinct_and_exported():
    names = ["RingError", "FullError", "EmptyError", "InvalidSizeError", "ClosedError", "EndOfStreamError",
             "CorruptError", "UnsupportedVersionError", "BusyError", "OverwrittenError"]
    classes = [getattr(ringpy, n) for n in names]
    assert len(set(classes)) == len(classes)
    for n, c in zip(names, classes):
        assert c.__name__ == n
    # unrelated errors are not confused
    assert not issubclass(CorruptError, ValueError)
    assert not issubclass(FullError, queue.Empty) and not issubclass(EmptyError, queue.Full)


# --- create and open -------------------------------------------------------------------


@pytest.mark.parametrize(
    "requested,expected",
    [(1, 4096), (4096, 4096), (4097, 8192), (5000, 8192), (8192, 8192), (1 << 20, 1 << 20)],
)
def test_capacity_rounds_up_to_a_power_of_two(ring_path, requested, expected):
    with Ring.create(ring_path, requested) as ring:
        assert ring.capacity == expected, f"capacity {requested} should round to {expected}"
        assert ring.stats()["capacity"] == expected
    assert os.path.getsize(ring_path) == HEADER_SIZE + expected


@pytest.mark.parametrize("capacity", [0, -1, -4096, (1 << 40) + 1, 1 << 41, 1 << 100])
def test_invalid_capacity_is_refused(ring_path, capacity):
    with pytest.raises(InvalidSizeError):
        Ring.create(ring_path, capacity)
    assert not ring_path.exists(), "a refused create must not leave a file"


@pytest.mark.parametrize("capacity", ["4096", 4096.0, None, b"4096"])
def test_capacity_of_wrong_type_is_a_type_error(ring_path, capacity):
    with pytest.raises(TypeError):
        Ring.create(ring_path, capacity)
    assert not ring_path.exists()


@pytest.mark.parametrize("capacity,maximum", [(4096, 2040), (8192, 4088), (1 << 20, (1 << 19) - 8)])
def test_max_message_size(ring_path, capacity, maximum):
    with Ring.create(ring_path, capacity) as ring:
        assert ring.max_message_size == maximum
        assert ring.stats()["max_message_size"] == maximum


@pytest.mark.parametrize(
    "given,expected",
    [
        (Policy.REJECT_WHEN_FULL, REJECT),
        (Policy.OVERWRITE_OLDEST, OVERWRITE),
        (0, REJECT),
        (1, OVERWRITE),
        ("reject_when_full", REJECT),
        ("overwrite_oldest", OVERWRITE),
    ],
)
def test_policy_forms(ring_path, given, expected):
    with Ring.create(ring_path, 4096, given) as ring:
        assert ring.policy == expected
        assert type(ring.policy) is Policy, f"policy should be a Policy, got {type(ring.policy)}"
        assert ring.stats()["policy"] == expected and type(ring.stats()["policy"]) is Policy
    with Ring.open(ring_path) as again:
        assert again.policy is expected, "the policy is read back from the file"


def test_policy_as_keyword(ring_path):
    with Ring.create(ring_path, 4096, policy="overwrite_oldest") as ring:
        assert ring.policy is OVERWRITE


def test_default_policy_is_reject_when_full(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        assert ring.policy is REJECT


@pytest.mark.parametrize("policy", [2, -1, 7, "", "fast", "sideways"])
def test_bad_policy_is_a_value_error(ring_path, policy):
    with pytest.raises(ValueError):
        Ring.create(ring_path, 4096, policy)
    assert not ring_path.exists()


def test_existing_file_without_flags_is_file_exists_error(ring_path):
    Ring.create(ring_path, 4096).close()
    with pytest.raises(FileExistsError):
        Ring.create(ring_path, 4096)


def test_exist_ok_opens_the_existing_ring_and_keeps_its_settings(ring_path):
    with Ring.create(ring_path, 8192, OVERWRITE) as ring:
        ring.put(b"kept")
    with pytest.raises(ValueError, match="capacity 8192"):  # another geometry is said, not hidden
        Ring.create(ring_path, 4096, REJECT, exist_ok=True)
    with Ring.create(ring_path, 4096, REJECT, exist_ok=True, any_geometry=True) as ring:
        assert ring.capacity == 8192, "exist_ok keeps the existing capacity"
        assert ring.policy is OVERWRITE, "exist_ok keeps the existing policy"
        assert ring.get(timeout=0) == b"kept", "exist_ok keeps the unread messages"


def test_exist_ok_creates_when_missing(ring_path):
    with Ring.create(ring_path, 5000, OVERWRITE, exist_ok=True) as ring:
        assert ring.capacity == 8192 and ring.policy is OVERWRITE
    assert ring_path.exists()


def test_exist_ok_on_a_file_that_is_not_a_ring_is_corrupt(ring_path):
    ring_path.write_bytes(b"not a ring" * 1000)
    with pytest.raises(CorruptError):
        Ring.create(ring_path, 4096, exist_ok=True)


def test_replace_makes_a_new_ring_and_old_handles_keep_the_old_file(ring_path):
    old = Ring.create(ring_path, 4096)
    old.put(b"old message")
    with Ring.create(ring_path, 8192, OVERWRITE, replace=True) as new:
        assert new.capacity == 8192 and new.policy is OVERWRITE
        assert len(new) == 0, "the replacing ring is empty"
        new.put(b"new message")
    assert os.path.getsize(ring_path) == HEADER_SIZE + 8192
    # rename semantics: the old handle still maps the old file
    assert old.get(timeout=0) == b"old message"
    old.close()
    with Ring.open(ring_path) as ring:
        assert ring.get(timeout=0) == b"new message"


@pytest.mark.parametrize("start", [8, 4096, (1 << 32) - 8, (1 << 64) - 8])
def test_initial_position(ring_path, start):
    with Ring.create(ring_path, 4096, initial_position=start) as ring:
        s = ring.stats()
        assert (s["producer_position"], s["consumer_position"], s["used_bytes"]) == (start, start, 0)
        ring.put(b"hello")
        ring.put(b"")
        assert ring.get_many(5) == [b"hello", b""]
        end = ring.stats()["consumer_position"]
    offset = start % 4096
    expected = (start + (4096 - offset if 4096 - offset < 16 else 0) + 16 + 8) % (1 << 64)
    assert end == expected, f"from {start}: consumer position {end}, want {expected}"
    assert read_bytes(ring_path, 128, 8) == expected.to_bytes(8, "little")


@pytest.mark.parametrize("start", [4, 12, (1 << 32) - 1])
def test_misaligned_initial_position_is_invalid_size(ring_path, start):
    with pytest.raises(InvalidSizeError):
        Ring.create(ring_path, 4096, initial_position=start)
    assert not ring_path.exists()


def test_replace_when_missing_creates(ring_path):
    with Ring.create(ring_path, 4096, replace=True) as ring:
        assert ring.capacity == 4096
    assert ring_path.exists()


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644])
def test_mode(ring_path, mode):
    umask = os.umask(0)
    os.umask(umask)
    Ring.create(ring_path, 4096, mode=mode).close()
    got = stat.S_IMODE(os.stat(ring_path).st_mode)
    assert got == mode & ~umask, f"mode {oct(mode)} with umask {oct(umask)} gave {oct(got)}"


def test_default_mode_is_0600(ring_path):
    umask = os.umask(0o022)
    try:
        Ring.create(ring_path, 4096).close()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(ring_path).st_mode) == 0o600


def test_no_temporary_files_are_left_behind(tmp_path):
    Ring.create(tmp_path / "a", 4096).close()
    Ring.create(tmp_path / "a", 8192, replace=True).close()
    Ring.create(tmp_path / "a", 8192, exist_ok=True).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_str_and_pathlib_paths(tmp_path):
    p = tmp_path / "by-path"
    s = str(tmp_path / "by-str")
    with Ring.create(p, 4096) as a, Ring.create(s, 4096) as b:
        assert isinstance(a.path, str) and isinstance(b.path, str)
        assert a.path == str(p) and b.path == s
        a.put(b"a")
        b.put(b"b")
    with Ring.open(str(p)) as a, Ring.open(pathlib.Path(s)) as b:
        assert a.get(timeout=0) == b"a" and b.get(timeout=0) == b"b"


def test_open_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        Ring.open(tmp_path / "missing")


def test_create_in_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        Ring.create(tmp_path / "no-such-dir" / "ring", 4096)


def test_open_directory(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        Ring.open(tmp_path)
    assert isinstance(info.value, OSError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_open_without_permission(ring_path):
    Ring.create(ring_path, 4096, mode=0o000).close()
    with pytest.raises(PermissionError):
        Ring.open(ring_path)


# --- properties and stats ------------------------------------------------------------

STATS_KEYS = {
    "capacity": int, "max_message_size": int, "policy": Policy, "version": tuple,
    "producer_position": int, "consumer_position": int, "used_bytes": int,
    "message_count": int, "dropped_count": int, "writer_closed": bool,
}


def test_properties(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        assert ring.path == str(ring_path)
        assert ring.capacity == 4096
        assert ring.policy is OVERWRITE
        assert ring.max_message_size == 2040
        assert ring.closed is False
    assert ring.closed is True


def test_stats_of_a_new_ring(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        s = ring.stats()
        for key, typ in STATS_KEYS.items():
            assert key in s, f"stats() lacks {key!r}: {s}"
            assert isinstance(s[key], typ), f"stats()[{key!r}] is {type(s[key]).__name__}, want {typ.__name__}"
        assert s["capacity"] == 4096 and s["max_message_size"] == 2040
        assert s["policy"] is REJECT and s["version"] == (1, 0)
        assert s["producer_position"] == 0 and s["consumer_position"] == 0
        assert s["used_bytes"] == 0 and s["message_count"] == 0 and s["dropped_count"] == 0
        assert s["writer_closed"] is False
        assert len(ring) == 0


def test_stats_track_positions(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"hello")  # 16-byte record
        ring.put(b"")  # 8
        ring.put(b"x" * 100)  # 112
        s = ring.stats()
        assert s["producer_position"] == 16 + 8 + 112
        assert s["used_bytes"] == 136 and s["message_count"] == 3 and len(ring) == 3
        assert ring.get() == b"hello"
        s = ring.stats()
        assert s["consumer_position"] == 16 and s["used_bytes"] == 120 and s["message_count"] == 2
        assert len(ring) == 2


def test_len_seen_from_another_handle(ring_path):
    with Ring.create(ring_path, 4096) as producer, Ring.open(ring_path) as observer:
        for i in range(5):
            producer.put(b"m%d" % i)
        assert len(observer) == 5, "len() counts unread messages without taking a role"
        producer.get()
        assert len(observer) == 4


# --- put and get ------------------------------------------------------------------------


def test_round_trip_including_empty_message(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"hello")
        ring.put(b"")
        ring.put(b"world")
        assert len(ring) == 3
        got = [ring.get(), ring.get(), ring.get()]
        assert got == [b"hello", b"", b"world"]
        assert all(type(m) is bytes for m in got), "get returns bytes"
        assert ring.try_get() is None, "try_get on an empty ring returns None"
        with pytest.raises(EmptyError):
            ring.get(timeout=0)


def test_try_put_and_try_get(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        assert ring.try_put(b"one") is True
        assert ring.try_get() == b"one"
        assert ring.try_get() is None


def test_get_timeout_raises_empty_error_after_the_timeout(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        t0 = time.monotonic()
        with pytest.raises(EmptyError):
            ring.get(timeout=0.05)
        elapsed = time.monotonic() - t0
        assert 0.04 <= elapsed < 1.0, f"get(timeout=0.05) took {elapsed:.3f} s"
        with pytest.raises(queue.Empty):  # usable like queue.Queue
            ring.get(timeout=0)


def test_put_timeout_raises_full_error_after_the_timeout(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        while ring.try_put(b"x" * 100):
            pass
        assert ring.try_put(b"x" * 100) is False
        t0 = time.monotonic()
        with pytest.raises(FullError):
            ring.put(b"x" * 100, timeout=0.05)
        elapsed = time.monotonic() - t0
        assert 0.04 <= elapsed < 1.0, f"put(timeout=0.05) took {elapsed:.3f} s"
        with pytest.raises(queue.Full):
            ring.put(b"x" * 100, timeout=0)


def test_get_waits_for_a_message(ring_path):
    import threading

    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        timer = threading.Timer(0.1, producer.put, args=(b"late",))
        timer.start()
        t0 = time.monotonic()
        assert consumer.get(timeout=5) == b"late"
        assert time.monotonic() - t0 < 2.0
        timer.join()


def test_put_waits_for_room(ring_path):
    import threading

    with Ring.create(ring_path, 4096) as producer, Ring.open(ring_path) as consumer:
        while producer.try_put(b"y" * 200):
            pass
        first = consumer.peek_all()[0]
        timer = threading.Timer(0.1, consumer.get)
        timer.start()
        t0 = time.monotonic()
        producer.put(b"z" * 200, timeout=5)
        assert time.monotonic() - t0 < 2.0
        timer.join()
        assert first == b"y" * 200
        assert consumer.peek_all()[-1] == b"z" * 200


def test_message_of_max_size_and_one_more(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"\x01" * 2040)
        before = ring.stats()
        with pytest.raises(InvalidSizeError):
            ring.put(b"\x01" * 2041)
        with pytest.raises(InvalidSizeError):
            ring.try_put(b"\x01" * 2041)
        with pytest.raises(ValueError):
            ring.put(bytearray(2041), timeout=0)
        after = ring.stats()
        assert after["producer_position"] == before["producer_position"], "a refused write changes nothing"
        assert len(ring) == 1
        assert ring.get() == b"\x01" * 2040


def test_put_many_with_an_oversized_item_writes_nothing(ring_path):
    # SPEC.md §8.1 (batches): "every message is checked against maxMessageSize before any
    # is written"; a two-item list is one batch (one native call).
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(InvalidSizeError):
            ring.put_many([b"", b"\x01" * 2041])
        s = ring.stats()
        assert (s["producer_position"], len(ring)) == (0, 0), (
            f"the refused batch wrote {len(ring)} message(s): producer_position {s['producer_position']}")


def test_oversized_message_is_refused_under_overwrite_too(ring_path):
    with Ring.create(ring_path, 4096, OVERWRITE) as ring:
        ring.put(b"a")
        with pytest.raises(InvalidSizeError):
            ring.put(bytes(2041))
        with pytest.raises(InvalidSizeError):
            ring.try_put(bytes(5000))
        assert ring.peek_all() == [b"a"] and ring.stats()["dropped_count"] == 0


# --- bytes-like inputs -----------------------------------------------------------------


def _bytes_like_cases():
    cases = [
        ("bytes", b"plain bytes"),
        ("empty bytes", b""),
        ("bytearray", bytearray(b"a bytearray \x00\xff")),
        ("empty bytearray", bytearray()),
        ("memoryview", memoryview(b"a memoryview")),
        ("memoryview slice", memoryview(b"0123456789abcdef")[3:11]),
        ("array int32", array.array("i", [1, -2, 3, 1 << 30])),
        ("array float64", array.array("d", [1.5, -2.25, 1e300])),
        ("array uint16", array.array("H", range(100))),
        ("ctypes array", (ctypes.c_uint32 * 4)(1, 2, 3, 0xDEADBEEF)),
        ("memoryview cast", memoryview(array.array("q", [7, -8])).cast("B")),
    ]
    return cases


@pytest.mark.parametrize("name,data", _bytes_like_cases(), ids=[c[0] for c in _bytes_like_cases()])
def test_bytes_like_inputs(ring_path, name, data):
    raw = memoryview(data).tobytes()
    with Ring.create(ring_path, 4096) as ring:
        ring.put(data)
        assert ring.try_put(data) is True
        assert ring.put_many([data, data]) == 2
        got = ring.get_many(10)
        assert got == [raw] * 4, f"{name}: read back {got!r}, want the raw bytes {raw!r}"
        assert all(type(m) is bytes for m in got)


@pytest.mark.parametrize("size", [0, 1, 2047, 2048, 2049, 65536, 200_000])
def test_messages_of_every_size_come_back_whole(ring_path, size):
    # get, try_get and get_many copy once from the mapping into a bytes object of the
    # message's own size, whatever the size (no staging buffer to outgrow).
    messages = [bytes([i]) * size + b"%d" % i for i in range(4)]
    with Ring.create(ring_path, 1 << 20) as ring:
        for m in messages:
            ring.put(m)
        assert ring.get() == messages[0]
        assert ring.try_get() == messages[1]
        got = ring.get_many(10)
        assert got == messages[2:]
        assert ring.try_get() is None
        assert ring.get_many(10) == []


def test_get_many_keeps_order_over_many_batches(ring_path):
    with Ring.create(ring_path, 1 << 16) as ring:
        sent = received = 0
        while received < 20_000:
            while sent < 20_000 and ring.try_put(sent.to_bytes(4, "little") * (1 + sent % 50)):
                sent += 1
            for m in ring.get_many(777):
                value = int.from_bytes(m[:4], "little")
                assert value == received and len(m) == 4 * (1 + value % 50)
                received += 1
        assert ring.get_many(5) == []


def test_numpy_arrays(ring_path, numpy_or_none):
    np = numpy_or_none
    if np is None:
        pytest.skip("numpy is not importable")
    arrays = [
        np.arange(10, dtype=np.int64),
        np.linspace(0, 1, 33, dtype=np.float64),
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([], dtype=np.uint8),
        np.frombuffer(b"numpy bytes", dtype=np.uint8),
        np.arange(20, dtype=np.int16)[5:15],  # a contiguous slice
    ]
    with Ring.create(ring_path, 1 << 16) as ring:
        for a in arrays:
            ring.put(a)
        assert ring.put_many(arrays) == len(arrays)
        for a in arrays + arrays:
            got = ring.get(timeout=0)
            assert got == a.tobytes(), f"numpy {a.dtype} {a.shape}: {got!r} != {a.tobytes()!r}"
        back = np.frombuffer(ring.put(arrays[1]) or ring.get(timeout=0), dtype=np.float64)
        assert np.array_equal(back, arrays[1])


@pytest.mark.parametrize(
    "bad",
    [None, 123, 1.5, "str is not a buffer", ["list"], object()],
    ids=["None", "int", "float", "str", "list", "object"],
)
def test_put_non_buffer_is_a_type_error(ring_path, bad):
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(TypeError):
            ring.put(bad)
        with pytest.raises(TypeError):
            ring.try_put(bad)
        with pytest.raises(TypeError):
            ring.put(bad, timeout=0)
        assert len(ring) == 0


def test_put_many_with_a_non_buffer_is_a_type_error_and_writes_nothing(ring_path):
    # .pyi: "Every item is checked first: if one is not bytes-like (TypeError) ... nothing is written."
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(TypeError):
            ring.put_many([b"a", 5])
        with pytest.raises(TypeError):
            ring.put_many([b"a", "text"])
        with pytest.raises(TypeError):
            ring.put_many([b"a", b"b", None])
        with pytest.raises(TypeError):
            ring.put_many(5)
        with pytest.raises(TypeError):
            ring.put_many(None)
        assert ring.peek_all() == [] and ring.stats()["producer_position"] == 0, "nothing was written"
        assert ring.put_many([b"a", b"b"]) == 2


def test_put_many_with_many_items_and_one_bad_at_the_end_writes_nothing(ring_path):
    items = [b"%04d" % i for i in range(300)]
    with Ring.create(ring_path, 1 << 16) as ring:
        with pytest.raises(TypeError):
            ring.put_many(items + [object()])
        with pytest.raises(InvalidSizeError):
            ring.put_many(items + [bytes(ring.max_message_size + 1)])
        assert len(ring) == 0 and ring.stats()["producer_position"] == 0, "nothing was written"


@pytest.mark.parametrize("call,message", [
    (lambda r: r.put(), "missing required argument 'data'"),
    (lambda r: r.put(b"x", True, 1.0, 2), "takes at most 3 arguments"),
    (lambda r: r.put(b"x", 1.0), r"block must be True or False, not float .* put\(timeout=1.0\)"),
    (lambda r: r.put(b"x", colour=1), "unexpected keyword argument 'colour'"),
    (lambda r: r.put(b"x", data=b"y"), "multiple values for argument 'data'"),
    (lambda r: r.put_many(), "missing required argument 'items'"),
    (lambda r: r.put_many([b"x"], tmeout=1), "unexpected keyword argument 'tmeout'"),
    (lambda r: r.get(True, 2.0, 3), "takes at most 2 arguments"),
    (lambda r: r.get(1.0), r"block must be True or False, not float .* get\(timeout=1.0\)"),
    (lambda r: r.get(1), r"block must be True or False, not int"),
    (lambda r: r.get(time_out=1.0), "unexpected keyword argument 'time_out'"),
    (lambda r: r.get_many(), "missing required argument 'max_items'"),
    (lambda r: r.get_many(1, 0.0, 3), "takes at most 2 arguments"),
    (lambda r: r.get_view(0.0, 1), "takes at most 1 argument"),
    (lambda r: r.get(timeout="soon"), "must be real number"),
])
def test_argument_errors_are_type_errors_and_change_nothing(ring_path, call, message):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"kept")
        with pytest.raises(TypeError, match=message):
            call(ring)
        assert ring.get_many(5) == [b"kept"], "the failed call wrote or consumed nothing"


def test_get_many_type_errors(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"a")
        with pytest.raises(TypeError):
            ring.get_many("x")
        with pytest.raises(TypeError):
            ring.get_many(None)
        with pytest.raises(TypeError):
            ring.get_many(2.0)
        assert ring.get_many(5) == [b"a"], "the failed calls consumed nothing"


def test_timeout_of_wrong_type(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(TypeError):
            ring.get(timeout="1")
        with pytest.raises(TypeError):
            ring.put(b"x", timeout="1")


# --- closed rings --------------------------------------------------------------------


def _closed_calls():
    return {
        "put": lambda r: r.put(b"x"),
        "put timeout": lambda r: r.put(b"x", timeout=0),
        "try_put": lambda r: r.try_put(b"x"),
        "put_many": lambda r: r.put_many([b"x"]),
        "close_writer": lambda r: r.close_writer(),
        "get": lambda r: r.get(timeout=0),
        "get no timeout": lambda r: r.get(),
        "try_get": lambda r: r.try_get(),
        "get_many": lambda r: r.get_many(3),
        "peek_all": lambda r: r.peek_all(),
        "get_view": lambda r: r.get_view(timeout=0),
        "iter": lambda r: next(iter(r)),
        "get_async": lambda r: asyncio.run(r.get_async(timeout=0)),
        "put_async": lambda r: asyncio.run(r.put_async(b"x")),
        "aiter": lambda r: asyncio.run(r.__aiter__().__anext__()),
        "flush": lambda r: r.flush(),
        "stats": lambda r: r.stats(),
        "len": lambda r: len(r),
    }


@pytest.mark.parametrize("name", list(_closed_calls()))
def test_every_method_after_close_raises_closed_error(ring_path, name):
    call = _closed_calls()[name]
    ring = Ring.create(ring_path, 4096)
    ring.put(b"pending")  # so that a read would not just be EMPTY
    ring.close()
    assert ring.closed
    with pytest.raises(ClosedError):
        run_with_deadline(lambda: call(ring), 5, f"{name} on a closed ring")


def test_close_is_idempotent_and_with_closes(ring_path):
    ring = Ring.create(ring_path, 4096)
    ring.close()
    ring.close()
    assert ring.closed
    with Ring.open(ring_path) as r2:
        assert not r2.closed
        assert r2.__enter__() is r2
    assert r2.closed


def test_with_returns_the_ring_and_closes_on_exception(ring_path):
    with pytest.raises(KeyError):
        with Ring.create(ring_path, 4096) as ring:
            assert isinstance(ring, Ring)
            raise KeyError("boom")
    assert ring.closed, "leaving a with-block by an exception closes the ring"


def test_create_and_open_return_ring_subclass_instances(ring_path):
    class MyRing(Ring):
        pass

    with MyRing.create(ring_path, 4096) as a:
        assert type(a) is MyRing
    with MyRing.open(ring_path) as b:
        assert type(b) is MyRing


# --- roles -----------------------------------------------------------------------------


def test_second_producer_is_busy(ring_path):
    first = Ring.create(ring_path, 4096)
    second = Ring.open(ring_path)
    first.put(b"from first")
    with pytest.raises(BusyError):
        second.put(b"from second")
    with pytest.raises(BusyError):
        second.try_put(b"from second")
    with pytest.raises(BusyError):
        second.put_many([b"from second"])
    assert first.peek_all() == [b"from first"]
    first.close()
    second.put(b"now second")  # the role was released by close()
    assert second.get_many(5) == [b"from first", b"now second"]
    second.close()


def test_second_consumer_is_busy(ring_path):
    first = Ring.create(ring_path, 4096)
    second = Ring.open(ring_path)
    first.put_many([b"1", b"2", b"3"])
    assert first.get() == b"1"
    with pytest.raises(BusyError):
        second.get(timeout=0)
    with pytest.raises(BusyError):
        second.try_get()
    with pytest.raises(BusyError):
        second.get_many(2)
    with pytest.raises(BusyError):
        second.get_view(timeout=0)
    first.close()
    assert second.get(timeout=0) == b"2"
    second.close()


def test_producer_and_consumer_roles_are_independent(ring_path):
    with Ring.create(ring_path, 4096) as producer, Ring.open(ring_path) as consumer:
        producer.put(b"a")
        assert consumer.get(timeout=0) == b"a"
        producer.put(b"b")  # no BusyError: different roles
        assert consumer.get(timeout=0) == b"b"


def test_close_writer_releases_the_producer_role(ring_path):
    with Ring.create(ring_path, 4096) as first, Ring.open(ring_path) as second:
        first.put(b"a")
        first.close_writer()
        second.put(b"b")  # would be BusyError if the role were still held
        assert second.stats()["writer_closed"] is False, "a new producer reopens the stream"


def test_role_held_by_another_process_is_busy(ring_path):
    code = (
        "import sys, ringpy\n"
        f"r = ringpy.Ring.open({str(ring_path)!r})\n"
        "r.put(b'child'); r.get(timeout=0)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    Ring.create(ring_path, 4096).close()
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "ready", f"child did not start: {line!r} {child.stderr.read() if child.poll() is not None else ''}"
        with Ring.open(ring_path) as ring:
            with pytest.raises(BusyError):
                ring.put(b"parent")
            with pytest.raises(BusyError):
                ring.get(timeout=0)
            child.stdin.write("\n")
            child.stdin.flush()
            assert child.wait(10) == 0
            ring.put(b"parent")  # the child's exit released both roles
            assert ring.get(timeout=0) == b"parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# --- end of stream ---------------------------------------------------------------------


def test_end_of_stream_after_close_writer_once_drained(ring_path):
    with Ring.create(ring_path, 4096) as producer, Ring.open(ring_path) as consumer:
        producer.put(b"a")
        producer.put(b"b")
        producer.close_writer()
        assert consumer.stats()["writer_closed"] is True
        assert consumer.get() == b"a", "messages before the close are still delivered"
        assert consumer.get_many(10) == [b"b"]
        for _ in range(3):  # reported again on every later read
            with pytest.raises(EndOfStreamError):
                consumer.get(timeout=0)
        with pytest.raises(EndOfStreamError):
            run_with_deadline(consumer.get, 3, "get() at the end of the stream")
        with pytest.raises(EndOfStreamError):
            consumer.get(timeout=5)
        with pytest.raises(EndOfStreamError):
            consumer.get_many(4)
        with pytest.raises(EndOfStreamError):
            consumer.get_view(timeout=0)
        with pytest.raises(EOFError):
            consumer.get(timeout=0)
        assert consumer.peek_all() == []


def test_try_get_at_end_of_stream_raises_end_of_stream(ring_path):
    # try_get returns None for an EMPTY ring; at the end of the stream the condition is
    # END_OF_STREAM (SPEC.md §8.3: "the read fails with END_OF_STREAM").
    with Ring.create(ring_path, 4096) as ring:
        ring.close_writer()
        with pytest.raises(EndOfStreamError):
            ring.try_get()


def test_close_writer_on_a_fresh_handle_ends_the_stream(ring_path):
    with Ring.create(ring_path, 4096) as ring, Ring.open(ring_path) as other:
        ring.close_writer()
        assert other.stats()["writer_closed"] is True
        with pytest.raises(EndOfStreamError):
            other.get(timeout=1)


def test_new_producer_reopens_the_stream(ring_path):
    with Ring.create(ring_path, 4096) as ring, Ring.open(ring_path) as producer:
        ring.put(b"first segment")
        ring.close_writer()
        assert ring.get() == b"first segment"
        with pytest.raises(EndOfStreamError):
            ring.get(timeout=0)
        with pytest.raises(ClosedError):  # the Ring that ended the stream writes no more
            ring.put(b"second segment")
        producer.put(b"second segment")  # another Ring takes the role and reopens the stream
        assert ring.stats()["writer_closed"] is False
        assert ring.get(timeout=0) == b"second segment"
        with pytest.raises(EmptyError):
            ring.get(timeout=0)


def test_close_writer_wakes_a_blocked_get(ring_path):
    import threading

    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        producer.put(b"m")
        assert consumer.get() == b"m"
        timer = threading.Timer(0.2, producer.close_writer)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(EndOfStreamError):
            consumer.get(timeout=10)
        assert time.monotonic() - t0 < 3.0, "close_writer must wake a sleeping consumer"
        timer.join()


def test_iteration_until_end_of_stream(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put_many([b"x", b"y", b""])
        ring.close_writer()
        assert run_with_deadline(lambda: list(ring), 5, "list(ring)") == [b"x", b"y", b""]
        assert run_with_deadline(lambda: list(ring), 5, "list(ring) again") == []


def test_producer_that_only_closes_leaves_the_stream_open(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        with Ring.open(ring_path) as producer:
            producer.put(b"a")
        assert ring.stats()["writer_closed"] is False
        assert ring.get() == b"a"
        with pytest.raises(EmptyError):
            ring.get(timeout=0.01)


# --- flush and persistence -------------------------------------------------------------


def test_flush_makes_the_bytes_visible_in_the_file(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"durable")
        assert ring.flush() is None
        record = read_bytes(ring_path, HEADER_SIZE, 16)
        assert record == b"\x07\x00\x00\x00\x01\x00\x00\x00durable\x00"
        assert read_bytes(ring_path, 128, 8) == (16).to_bytes(8, "little")


def test_reopen_keeps_unread_messages_and_consumer_position(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put_many([b"a", b"bb", b"ccc", b"dddd"])
        assert ring.get() == b"a"
        assert ring.get() == b"bb"
        position = ring.stats()["consumer_position"]
    assert position == 2 * align8(8 + 2)
    with Ring.open(ring_path) as ring:
        s = ring.stats()
        assert s["consumer_position"] == position, "the consumer position persists in the file"
        assert s["producer_position"] == 4 * 16 and len(ring) == 2
        assert ring.peek_all() == [b"ccc", b"dddd"]
        assert ring.get() == b"ccc"
    with Ring.open(ring_path) as ring:
        assert ring.get_many(10) == [b"dddd"]


def test_second_consumer_resumes_where_the_first_stopped(ring_path):
    with Ring.create(ring_path, 4096) as producer:
        producer.put_many([b"%d" % i for i in range(10)])
        first = Ring.open(ring_path)
        assert [first.get() for _ in range(4)] == [b"0", b"1", b"2", b"3"]
        first.close()
        second = Ring.open(ring_path)
        assert second.get() == b"4"
        assert second.get_many(100) == [b"%d" % i for i in range(5, 10)]
        second.close()
