"""producer.py - writes COUNT messages (b"message 0", b"message 1", ...) to the ring file at
PATH, then ends the stream. Creates the ring if the consumer has not yet.

    python producer.py PATH [COUNT]        (COUNT: 1000 by default)
"""
import sys

import ringpy

path = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000

# The same capacity and policy as the consumer: whichever starts first creates the ring.
with ringpy.Ring.create(path, 1 << 16, exist_ok=True) as ring:
    for i in range(count):
        ring.put(b"message %d" % i, timeout=10.0)   # waits while the ring is full; FullError after 10 s
    ring.close_writer()                              # end of stream: the consumer stops after the last message
print(f"producer: sent {count} messages")
