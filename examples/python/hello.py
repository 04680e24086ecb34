"""hello.py - the smallest ringpy program: one process writes a message into a ring file and
reads it back.

    python hello.py PATH        (a new or existing ring file, e.g. /dev/shm/hello.ring)
"""
import sys

import ringpy

with ringpy.Ring.create(sys.argv[1], 1 << 20, exist_ok=True) as ring:   # or ringpy.Ring.open(path)
    ring.put(b"hello")                 # any bytes-like object; waits while the ring is full
    message = ring.get(timeout=1.0)    # EmptyError after the timeout
assert message == b"hello", message
print(message.decode())
