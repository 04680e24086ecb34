"""Creating and opening rings where others can plant names (SPEC.md §7.1), from Python."""

from __future__ import annotations

import os
import time

import pytest

import ringpy
from ringpy import MemMapRingBuffer, Ring


@pytest.mark.parametrize("mode", [0o4777, 0o2700, 0o1600, 0o10000])
def test_modes_beyond_permission_bits_are_refused(ring_path, mode):
    with pytest.raises(ValueError, match="permission bits"):
        Ring.create(ring_path, 4096, mode=mode)
    assert not ring_path.exists()


def test_exist_ok_refuses_a_ring_others_may_write_unless_allowed(ring_path):
    Ring.create(ring_path, 4096).close()
    os.chmod(ring_path, 0o666)
    with pytest.raises(PermissionError) as caught:
        Ring.create(ring_path, 4096, exist_ok=True)
    assert str(ring_path) in str(caught.value) and "writable" in str(caught.value)
    with pytest.raises(PermissionError):
        MemMapRingBuffer(ring_path, 4096)
    Ring.create(ring_path, 4096, exist_ok=True, allow_shared=True).close()
    MemMapRingBuffer(ring_path, 4096, allow_shared=True).close()
    os.chmod(ring_path, 0o600)
    Ring.create(ring_path, 4096, exist_ok=True).close()


def test_exist_ok_on_a_dangling_symbolic_link_fails_at_once(ring_path, tmp_path):
    os.symlink(tmp_path / "nowhere", ring_path)
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match="symbolic link"):
        Ring.create(ring_path, 4096, exist_ok=True)
    assert time.monotonic() - start < 1


def test_replace_leaves_nothing_else_in_the_directory(ring_path, tmp_path):
    Ring.create(ring_path, 4096).close()
    for _ in range(3):
        Ring.create(ring_path, 8192, replace=True).close()
    assert sorted(os.listdir(tmp_path)) == [ring_path.name]


def test_memmap_get_leaves_a_foreign_message_in_the_ring(ring_path):
    MemMapRingBuffer(ring_path, 4096).close()
    for foreign, reason in ((b"\xffforeign", "not a MemMapRingBuffer item"), (b"s\xff\xfe", "not UTF-8")):
        with Ring.open(ring_path) as other:
            other.put(foreign)                  # written by another API
        buffer = MemMapRingBuffer(ring_path, 4096)
        buffer.put("text")
        with pytest.raises(ValueError, match=reason):
            buffer.get()
        buffer.close()
        with Ring.open(ring_path) as other:
            assert other.get() == foreign       # still there: nothing was consumed
        buffer = MemMapRingBuffer(ring_path, 4096)
        assert buffer.get() == "text"
        buffer.close()


def test_system_errors_keep_the_systems_words_and_the_detail(ring_path):
    with pytest.raises(FileNotFoundError) as caught:
        Ring.open(ring_path)
    assert caught.value.filename == str(ring_path)
    assert "No such file or directory" in str(caught.value)


def test_paths_are_bytes_and_reach_the_system_unchanged(tmp_path):
    # Non-UTF-8 names were rewritten to U+FFFD: b"\xff\xfe" and b"\xfe\xff" opened one file.
    directory = os.fsencode(tmp_path)
    first, second = directory + b"/\xff\xfe", directory + b"/\xfe\xff"
    with Ring.create(first, 4096) as a, Ring.create(second, 4096) as b:
        assert a.path == first and b.path == second
        a.put(b"in the first")
        assert b.try_get() is None
    assert sorted(os.listdir(directory)) == sorted([b"\xff\xfe", b"\xfe\xff"])
    with Ring.open(os.fsdecode(first)) as again:   # the same file through a str path
        assert again.get() == b"in the first"

    class BytesPath:
        def __fspath__(self):
            return second

    with Ring.open(BytesPath()) as third:
        assert third.try_get() is None


def test_exist_ok_with_another_capacity_or_policy_says_so(ring_path):
    Ring.create(ring_path, 4096).close()
    with pytest.raises(ValueError, match="capacity 4096"):
        Ring.create(ring_path, 1 << 20, exist_ok=True)
    with pytest.raises(ValueError, match="policy"):
        Ring.create(ring_path, 4096, ringpy.Policy.OVERWRITE_OLDEST, exist_ok=True)
    with Ring.create(ring_path, 1 << 20, exist_ok=True, any_geometry=True) as ring:
        assert ring.capacity == 4096
    MemMapRingBuffer(ring_path, 1 << 20).close()   # a persisted deque keeps its own capacity
