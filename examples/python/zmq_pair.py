"""A ring's messages between two processes over ZeroMQ (SPEC.md §23), with mm_toolbox's
names: a producer that sends COUNT messages, 100 packed per frame, then stops (END), and a
consumer that takes them in batches until the end of the stream and checks the order. SPSC:
the producer binds, the consumer connects, whichever starts first.

    python zmq_pair.py produce ENDPOINT COUNT
    python zmq_pair.py consume ENDPOINT COUNT
"""

import sys

from ringpy.zmq import IPCRingBufferConfig, IPCRingBufferConsumer, IPCRingBufferProducer


def produce(endpoint: str, count: int) -> None:
    # example-begin zmq-producer
    config = IPCRingBufferConfig(path=endpoint)          # one producer, one consumer: SPSC
    assert config.should_producer_bind()
    with IPCRingBufferProducer(config) as producer:      # leaving the block stops it: END, close
        for first in range(0, count, 100):
            batch = [b"message %d" % i for i in range(first, min(first + 100, count))]
            producer.insert_packed(batch, timeout=30)     # 100 messages per frame
    # example-end zmq-producer
    print("zmq producer: sent %d messages" % count)


def consume(endpoint: str, count: int) -> None:
    # example-begin zmq-consumer
    config = IPCRingBufferConfig(path=endpoint)
    received = 0
    with IPCRingBufferConsumer(config) as consumer:      # connects
        for message in consumer:                         # until the producer's END, all taken
            assert message == b"message %d" % received, "out of order"
            received += 1
    # example-end zmq-consumer
    print("zmq consumer: received %d messages" % received)
    sys.exit(0 if received == count else 1)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("produce", "consume"):
        sys.exit("usage: zmq_pair.py produce|consume ENDPOINT COUNT")
    (produce if sys.argv[1] == "produce" else consume)(sys.argv[2], int(sys.argv[3]))
