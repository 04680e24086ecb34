"""typed.py - a typed ring of NumPy items (format 1.1, SPEC.md §19): a structured dtype of
quotes, written by a child process with insert_many and read by this one in place, through
views into the ring's double mapping; then NumericRingBuffer's habits on a ring without a
file (overwrite the oldest, unwrapped, latest).

    python typed.py PATH [COUNT]        (COUNT: 100000 by default)
"""
import os
import sys

import numpy as np
import ringpy

path = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000

# example-begin typed
quote = np.dtype([("sequence", "<u8"), ("price", "<f8"), ("size", "<u4")], align=True)   # 24 bytes
ring = ringpy.ItemRing.create(path, quote, 4096, policy=ringpy.Policy.REJECT_WHEN_FULL, replace=True)
print(ring.type_description)    # {sequence:<u8@0,price:<f8@8,size:<u4@16}24: any language reads it
if os.fork() == 0:              # a producer in another process, on the same file
    writer = ringpy.ItemRing.open(path)
    for start in range(0, count, 1000):
        batch = np.zeros(min(1000, count - start), dtype=quote)
        batch["sequence"] = np.arange(start, start + len(batch))
        batch["price"] = batch["sequence"] / 4
        writer.insert_many(batch, timeout=10)   # one copy, one commit
    writer.close_writer()
    os._exit(0)
seen = 0
while True:
    try:
        with ring.consume_view(timeout=10) as quotes:    # in place: no copy out of the ring
            assert (quotes["sequence"] == np.arange(seen, seen + len(quotes))).all()
            assert (quotes["price"] == quotes["sequence"] / 4).all()
            seen += len(quotes)
    except ringpy.EndOfStreamError:
        break
os.wait()
print(f"typed: {seen} quotes read in place")
# example-end typed

# example-begin numeric
prices = ringpy.ItemRing.anonymous(np.float64, 512)   # no file; overwrite-oldest, as NumericRingBuffer
prices.insert_many(np.arange(600.0))                  # more than it holds: the oldest 88 go
prices.insert(600.0)
window = prices.unwrapped()                           # oldest to newest: a view, not a copy
print(len(prices), window[0], window[-1], prices.latest(2), prices.consume(), prices.dropped_count)
# example-end numeric
