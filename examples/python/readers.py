"""readers.py - one producer and several readers of one ring (format 1.1): each reader reads
every message, on a cursor of its own. Two gating readers, in threads, receive the whole
stream (the producer waits for the slower); a lapping reader that reads only at the end was
lapped by the producer, and counts exactly what it missed. Checks every message.

    python readers.py PATH [COUNT]        (a ring file it creates or replaces; COUNT: 1000 by default)
"""
import sys
import threading

import ringpy

path, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
sent = [b"message %d" % i for i in range(count)]
received, missed = {}, {}


def read_all(name: str, reader: ringpy.Reader) -> None:
    with reader:                                 # leaving it frees its slot
        received[name] = list(reader)            # every message until close_writer()
        missed[name] = reader.missed_count       # messages reclaimed before it read them


with ringpy.Ring.create(path, 4096, readers=4, replace=True) as ring:
    gating = [ring.reader(), ring.reader()]      # the producer never laps these
    lapping = ring.reader(gating=False)          # this one never holds the producer back
    threads = [threading.Thread(target=read_all, args=(f"gating {i}", r)) for i, r in enumerate(gating)]
    for t in threads:
        t.start()
    for message in sent:
        ring.put(message)                        # waits while a gating reader is behind
    ring.close_writer()                          # each reader drains, then its iteration ends
    for t in threads:
        t.join()
    read_all("lapping", lapping)                 # only now: the producer lapped it long ago

assert received["gating 0"] == received["gating 1"] == sent, "a gating reader lost messages"
assert missed["gating 0"] == missed["gating 1"] == 0
kept, lost = received["lapping"], missed["lapping"]
assert 0 < lost < count and kept == sent[lost:], (len(kept), lost)
print(f"readers: {count} messages; 2 gating readers received them all, the lapping one the newest "
      f"and counted the rest as missed")
