"""numpy_zero_copy.py - NumPy arrays through a ring without a copy on the reading side: each
message is read as an array that points into the shared mapping.

The rule: an array made from a RecordView borrows the ring's memory, so it must be gone
(`del`) before the view is released; keep results that do not point into the view (a float,
a copy). A thread writes the arrays meanwhile (one Ring may be used from several threads).
Then checks that releasing a view still in use is refused and that the ring works after it.

    python numpy_zero_copy.py PATH [COUNT]        (COUNT: 100 by default)
"""
import sys
import threading

import numpy
import ringpy

path = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 100


def produce(ring: ringpy.Ring) -> None:
    for i in range(count):
        ring.put(numpy.full(1000, i, dtype=numpy.float64), timeout=10.0)   # any buffer: one copy in


with ringpy.Ring.create(path, 1 << 16, exist_ok=True) as ring:
    writer = threading.Thread(target=produce, args=(ring,))
    writer.start()
    # example-begin read
    totals = []
    for _ in range(count):
        with ring.get_view(timeout=10.0) as view:            # the oldest message, in the mapping
            samples = numpy.frombuffer(view, dtype=numpy.float64)   # no copy (8-byte aligned, read-only)
            totals.append(float(samples.sum()))              # a Python float: nothing points into the view
            del samples                                      # the array must be gone before the block ends
        # here the message is consumed and its room is free for the producer
    # example-end read
    writer.join()
    assert totals == [1000.0 * i for i in range(count)], totals

    # An array still alive when the view is released: BufferError, and the message stays unread.
    ring.put(numpy.arange(4, dtype=numpy.float64))
    view = ring.get_view(timeout=1.0)
    kept = numpy.frombuffer(view, dtype=numpy.float64)
    try:
        view.release()
    except BufferError:
        pass
    else:
        raise AssertionError("release() with a live array did not raise BufferError")
    assert len(ring) == 1, "the message was consumed under a live array"
    del kept
    view.release()                                           # now it is consumed
    assert len(ring) == 0

    # The ring is usable afterwards, both ways.
    ring.put(b"after")
    assert ring.get(timeout=1.0) == b"after"
print(f"numpy: {count} arrays read in place, sums checked; ring usable after a refused release")
