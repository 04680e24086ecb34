"""producers.py - several producer processes into one ring (format 1.1): a ring with four
producer slots, four processes (multiprocessing, 'spawn') each putting its own messages, and
the consumer here reading every one of them once, each producer's in its own order. The
stream ends when the last producer calls close_writer().

    python producers.py PATH [COUNT]      (a ring file it creates or replaces; COUNT per producer: 1000 by default)
"""
import multiprocessing
import sys

import ringpy


def produce(path: str, k: int, count: int, joined) -> None:
    with ringpy.Ring.open(path) as ring:
        ring.put(b"%d 0" % k)                    # the first put takes a producer slot
        joined.wait()                            # all four hold one: none ends the stream early
        for i in range(1, count):
            ring.put(b"%d %d" % (k, i))
        ring.close_writer()                      # the last producer to do this ends the stream


if __name__ == "__main__":
    path, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with ringpy.Ring.create(path, 1 << 16, producers=4, replace=True) as ring:
        context = multiprocessing.get_context("spawn")
        joined = context.Barrier(4)
        workers = [context.Process(target=produce, args=(path, k, count, joined)) for k in range(4)]
        for w in workers:
            w.start()
        got = [[] for _ in range(4)]
        for message in ring:                     # every message until the stream ends
            k, i = map(int, message.split())
            got[k].append(i)
        for w in workers:
            w.join()
    assert all(g == list(range(count)) for g in got), [len(g) for g in got]
    print(f"producers: 4 processes put {count} messages each; the consumer got all {4 * count}, "
          f"each producer's in order")
