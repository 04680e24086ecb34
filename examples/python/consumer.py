"""consumer.py - reads the messages of the ring file at PATH until the producer ends the
stream, checks that they are b"message 0", b"message 1", ... in order, and prints how many
it got. Creates the ring if the producer has not yet. Fails (exit 1) if a message is wrong,
if none comes for 10 seconds, or if EXPECTED is given and a different number arrived.

    python consumer.py PATH [EXPECTED]
"""
import sys

import ringpy

path = sys.argv[1]
expected = int(sys.argv[2]) if len(sys.argv) > 2 else None

with ringpy.Ring.create(path, 1 << 16, exist_ok=True) as ring:
    received = 0
    while True:
        try:
            message = ring.get(timeout=10.0)    # sleeps until one comes; EmptyError after 10 s
        except ringpy.EndOfStreamError:         # the producer called close_writer(), all is read
            break
        assert message == b"message %d" % received, (received, message)
        received += 1
print(f"consumer: received {received} messages")
assert expected is None or received == expected, f"expected {expected} messages"
