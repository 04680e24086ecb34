"""A reader cannot hold a ring's roles hostage (SPEC.md §11.4).

Anyone who may read the file can take a read lock on the role bytes with a read-only
descriptor; that used to make every put and get fail with BusyError. The owner words
decide then, and they still keep the roles exclusive, including across a kill -9.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import textwrap

import pytest

from ringpy import BusyError, Ring

F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)


def read_lock(path, offsets=(128, 256)):
    """A read-only descriptor holding OFD read locks on `offsets` (keep it to keep them)."""
    fd = os.open(path, os.O_RDONLY)
    for offset in offsets:
        # struct flock on Linux x86-64/arm64: short l_type, short l_whence, off_t l_start,
        # off_t l_len, pid_t l_pid (0 for OFD locks), padding.
        fcntl.fcntl(fd, F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, offset, 1, 0))
    return fd


def test_read_locks_on_the_role_bytes_do_not_stop_the_writer_or_the_reader(ring_path):
    Ring.create(ring_path, 4096, mode=0o644).close()
    hostage = read_lock(ring_path)
    try:
        with Ring.open(ring_path) as ring:
            ring.put(b"still writing")
            assert ring.get() == b"still writing"
            # The roles stay exclusive without the kernel lock: the owner words decide.
            with Ring.open(ring_path) as other:
                with pytest.raises(BusyError):
                    other.put(b"second producer")
                with pytest.raises(BusyError):
                    other.get(timeout=0)
        # Given back: the next taker gets them.
        with Ring.open(ring_path) as ring:
            ring.put(b"next")
            assert ring.get() == b"next"
    finally:
        os.close(hostage)


def test_a_killed_owner_does_not_keep_the_role_while_a_read_lock_stands(ring_path):
    Ring.create(ring_path, 4096, mode=0o644).close()
    hostage = read_lock(ring_path)
    try:
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
            import sys, time, ringpy
            ring = ringpy.Ring.open(sys.argv[1])
            ring.put(b"from the child")
            print("holding", flush=True)
            time.sleep(60)
        """), str(ring_path)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "holding"
        with Ring.open(ring_path) as ring:
            with pytest.raises(BusyError):
                ring.put(b"too early")
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            ring.put(b"after the kill")
            assert ring.get() == b"from the child"
            assert ring.get() == b"after the kill"
    finally:
        os.close(hostage)
