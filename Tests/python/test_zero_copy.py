"""RecordView: zero-copy reads of the oldest message (get_view), the buffer protocol,
alignment, release/cancel, BufferError while exported, OverwrittenError."""

from __future__ import annotations

import ctypes
import struct

import pytest

from ringpy import (
    ClosedError,
    EmptyError,
    EndOfStreamError,
    OverwrittenError,
    Policy,
    RecordView,
    Ring,
)
from ringtools import HEADER_SIZE, write_bytes


class _PyBuffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.py_object),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.POINTER(ctypes.c_ssize_t)),
        ("strides", ctypes.POINTER(ctypes.c_ssize_t)),
        ("suboffsets", ctypes.POINTER(ctypes.c_ssize_t)),
        ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


def buffer_address(obj) -> int:
    """The address of obj's buffer (through the C buffer protocol)."""
    view = _PyBuffer()
    if _get_buffer(obj, ctypes.byref(view), 0) != 0:
        raise BufferError("PyObject_GetBuffer failed")
    try:
        return view.buf
    finally:
        _release_buffer(ctypes.byref(view))


def test_view_basics(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"zero-copy message")
        ring.put(b"next")
        v = ring.get_view()
        assert isinstance(v, RecordView)
        assert len(v) == len(b"zero-copy message")
        assert bytes(v) == b"zero-copy message"
        m = memoryview(v)
        assert m.tobytes() == b"zero-copy message" and m.nbytes == len(v)
        assert m.format == "B" and m.ndim == 1
        m.release()
        assert v.released is False
        assert len(ring) == 2, "holding a view consumes nothing"
        v.release()
        assert v.released is True
        assert len(ring) == 1
        assert ring.get() == b"next"


def test_with_block_consumes(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put_many([b"a", b"b"])
        with ring.get_view() as v:
            assert isinstance(v, RecordView)
            assert bytes(v) == b"a"
        assert v.released
        assert ring.get(timeout=0) == b"b"
        assert ring.stats()["consumer_position"] == 32


def test_empty_message_view(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"")
        with ring.get_view() as v:
            assert len(v) == 0 and bytes(v) == b""
        assert len(ring) == 0


def test_cancel_leaves_the_message_unread(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put_many([b"first", b"second"])
        v = ring.get_view()
        assert bytes(v) == b"first"
        v.cancel()
        assert len(ring) == 2
        assert ring.get() == b"first"
        with ring.get_view() as v2:
            assert bytes(v2) == b"second"
        assert ring.try_get() is None


def test_exception_in_the_with_block_leaves_the_message_unread(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"keep me")
        with pytest.raises(ZeroDivisionError):
            with ring.get_view() as v:
                assert bytes(v) == b"keep me"
                1 / 0
        assert ring.peek_all() == [b"keep me"], "the exception propagates and the message stays"
        assert ring.get() == b"keep me"


def test_view_is_zero_copy(ring_path):
    # The view's memory is the shared mapping: a change made through the file shows in it.
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"original")
        with ring.get_view() as v:
            m = memoryview(v)
            assert m.tobytes() == b"original"
            write_bytes(ring_path, HEADER_SIZE + 8, b"O")
            assert m.tobytes() == b"Original", "the view must point into the mapping, not at a copy"
            m.release()


def test_views_are_8_byte_aligned(ring_path, numpy_or_none):
    sizes = [1, 3, 13, 8, 0, 77, 255, 16, 1001, 5]
    with Ring.create(ring_path, 8192) as ring:
        for round_ in range(3):
            for n in sizes:
                ring.put(bytes([n & 0xFF]) * n)
            for n in sizes:
                with ring.get_view() as v:
                    assert len(v) == n
                    if n:
                        address = buffer_address(v)
                        assert address % 8 == 0, f"payload of {n} bytes at {address:#x} is not 8-byte aligned"
                    if numpy_or_none is not None and n:
                        a = numpy_or_none.frombuffer(v, dtype=numpy_or_none.uint8)
                        assert a.ctypes.data % 8 == 0
                        del a


def test_numpy_frombuffer_sees_the_values(ring_path, numpy_or_none):
    np = numpy_or_none
    if np is None:
        pytest.skip("numpy is not importable")
    values = np.arange(100, dtype=np.float64) * 1.5 - 7.0
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"odd")  # 3 bytes: the next payload still starts 8-aligned
        ring.put(values)
        ring.get()
        with ring.get_view() as v:
            arr = np.frombuffer(v, dtype=np.float64)
            assert arr.ctypes.data % 8 == 0
            assert np.array_equal(arr, values)
            total = float(arr.sum())
            with pytest.raises(BufferError):
                v.release()  # arr still exports the view's memory
            del arr
        assert total == float(values.sum())
        assert len(ring) == 0


def test_buffer_error_while_a_memoryview_is_alive(ring_path):
    ring = Ring.create(ring_path, 4096)
    ring.put(b"held")
    v = ring.get_view()
    m = memoryview(v)
    with pytest.raises(BufferError):
        v.release()
    with pytest.raises(BufferError):
        v.cancel()
    with pytest.raises(BufferError):
        ring.close()
    assert not ring.closed, "a refused close leaves the ring open"
    assert m.tobytes() == b"held", "the memory is still valid"
    del m
    v.release()
    assert len(ring) == 0
    ring.close()
    assert ring.closed


def test_buffer_error_on_cancel_then_memoryview_release(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"x")
        v = ring.get_view()
        m = memoryview(v)
        m2 = memoryview(v)
        m.release()
        with pytest.raises(BufferError):
            v.cancel()  # m2 is still alive
        m2.release()
        v.cancel()
        assert ring.get() == b"x"


def test_get_view_on_empty_ring(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        with pytest.raises(EmptyError):
            ring.get_view(timeout=0)
        with pytest.raises(EmptyError):
            ring.get_view(timeout=0.05)


def test_get_view_waits_for_a_message(ring_path):
    import threading

    with Ring.create(ring_path, 4096) as consumer, Ring.open(ring_path) as producer:
        timer = threading.Timer(0.1, producer.put, args=(b"arrives later",))
        timer.start()
        with consumer.get_view(timeout=5) as v:
            assert bytes(v) == b"arrives later"
        timer.join()


def test_get_view_at_end_of_stream(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"last")
        ring.close_writer()
        with ring.get_view(timeout=0) as v:
            assert bytes(v) == b"last"
        with pytest.raises(EndOfStreamError):
            ring.get_view(timeout=1)


def test_view_skips_a_padding_record(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        for _ in range(36):
            ring.put(b"p" * 100)
        ring.get_many(36)
        values = tuple(float(i) for i in range(10))
        ring.put(struct.pack("<10d", *values))  # an 88-byte record after a 64-byte padding record
        assert ring.stats()["producer_position"] == 4096 + 88
        with ring.get_view() as v:
            assert struct.unpack("<10d", bytes(v)) == values
            assert buffer_address(v) % 8 == 0
        assert ring.stats()["consumer_position"] == 4096 + 88


def test_overwritten_view_release_raises(ring_path):
    with Ring.create(ring_path, 4096, Policy.OVERWRITE_OLDEST) as consumer, Ring.open(ring_path) as producer:
        producer.put(b"old" * 100)
        v = consumer.get_view()
        assert bytes(v) == b"old" * 100
        for i in range(40):  # reclaims the viewed record
            producer.put(b"%03d" % i * 100)
        assert consumer.stats()["dropped_count"] >= 1
        with pytest.raises(OverwrittenError):
            v.release()
        newest = consumer.get_many(100)
        assert newest and newest[-1] == b"039" * 100, "after the overwrite the consumer reads on from the oldest kept"


def test_view_after_close_is_closed_error(ring_path):
    ring = Ring.create(ring_path, 4096)
    ring.put(b"x")
    ring.close()
    with pytest.raises(ClosedError):
        ring.get_view(timeout=0)
