"""asyncio_pair.py - a producer task and a consumer task on one event loop, sharing a small
ring file at PATH (4 KiB, so each waits for the other): put_async and `async for` never
block the loop. Checks every message.

    python asyncio_pair.py PATH [COUNT]        (COUNT: 1000 by default)
"""
import asyncio
import sys

import ringpy


async def produce(ring: ringpy.Ring, count: int) -> None:
    for i in range(count):
        await ring.put_async(b"message %d" % i, timeout=10.0)
    ring.close_writer()


async def consume(ring: ringpy.Ring) -> list:
    return [message async for message in ring]   # until close_writer()


async def main(path: str, count: int) -> None:
    with ringpy.Ring.create(path, 4096, exist_ok=True) as ring:
        _, received = await asyncio.gather(produce(ring, count), consume(ring))
    assert received == [b"message %d" % i for i in range(count)], "messages lost or out of order"
    print(f"asyncio: received {len(received)} messages")


asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000))
