"""MemMapRingBuffer: the mmringbuffer 0.0.2 API (a persisted deque(maxlen) of str or
bytes items, overwrite-oldest)."""

from __future__ import annotations

import pathlib

import pytest

from ringpy import MemMapRingBuffer, Policy, Ring


def test_put_and_get_keep_the_item_type(ring_path):
    buf = MemMapRingBuffer(str(ring_path), 4096)
    try:
        buf.put("text")
        buf.put(b"bytes")
        buf.put("")
        buf.put(b"")
        buf.put("h\u00e9llo \u2713 \U0001f600")
        assert len(buf) == 5
        got = [buf.get() for _ in range(5)]
        assert got == ["text", b"bytes", "", b"", "h\u00e9llo \u2713 \U0001f600"]
        assert [type(x) for x in got] == [str, bytes, str, bytes, str]
    finally:
        buf.close()


def test_fifo_and_index_error_when_empty(ring_path):
    buf = MemMapRingBuffer(ring_path, 4096)
    try:
        assert buf.empty() is True and len(buf) == 0
        with pytest.raises(IndexError):
            buf.get()
        for i in range(10):
            buf.put("item %d" % i)
        assert buf.empty() is False and len(buf) == 10
        assert [buf.get() for _ in range(10)] == ["item %d" % i for i in range(10)]
        assert buf.empty() is True
        with pytest.raises(IndexError):
            buf.get()
    finally:
        buf.close()


def test_flush_and_clear(ring_path):
    buf = MemMapRingBuffer(ring_path, 4096)
    try:
        for i in range(5):
            buf.put(b"%d" % i)
        assert buf.flush() is None
        buf.clear()
        assert buf.empty() and len(buf) == 0
        with pytest.raises(IndexError):
            buf.get()
        buf.put("after clear")
        assert buf.get() == "after clear"
    finally:
        buf.close()


def test_reopening_keeps_unread_items(tmp_path):
    path = tmp_path / "persisted"
    buf = MemMapRingBuffer(path, 4096)
    for item in ["a", b"b", "c", b"d"]:
        buf.put(item)
    assert buf.get() == "a"
    buf.flush()
    buf.close()
    again = MemMapRingBuffer(str(path), 4096)
    try:
        assert len(again) == 3
        assert [again.get(), again.get(), again.get()] == [b"b", "c", b"d"]
        assert again.empty()
    finally:
        again.close()


def test_reopening_keeps_the_existing_capacity(tmp_path):
    path = tmp_path / "sized"
    MemMapRingBuffer(path, 8192).close()
    with Ring.open(path) as ring:
        assert ring.capacity == 8192
        assert ring.policy is Policy.OVERWRITE_OLDEST, "MemMapRingBuffer is a deque(maxlen): overwrite-oldest"
    b = MemMapRingBuffer(path, 4096)
    b.close()
    with Ring.open(path) as ring:
        assert ring.capacity == 8192


@pytest.mark.parametrize("kind", [str, bytes])
def test_overwrites_the_oldest_when_full(ring_path, kind):
    buf = MemMapRingBuffer(ring_path, 4096)
    items = ["item-%04d" % i for i in range(1000)]
    if kind is bytes:
        items = [s.encode() for s in items]
    try:
        for item in items:
            buf.put(item)  # never raises, never blocks
        n = len(buf)
        assert 0 < n < 1000
        got = []
        while not buf.empty():
            got.append(buf.get())
        assert got == items[-n:], "the newest items, in order"
        assert all(type(x) is kind for x in got)
    finally:
        buf.close()


def test_pathlib_path(tmp_path):
    buf = MemMapRingBuffer(pathlib.Path(tmp_path) / "p", 4096)
    try:
        buf.put("x")
        assert buf.get() == "x"
    finally:
        buf.close()
