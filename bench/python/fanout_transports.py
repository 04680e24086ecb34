"""The transports of bench_fanout.py: one publisher and N subscribers of each, behind one
small interface, so the timed loops of bench_fanout.py are the same for all of them.

  ringpy     a ring with N reader slots (Ring.create(readers=N)), gating readers
             (ring.reader()), put / Reader.get; 0 readers: a 1.0 ring and its one
             consumer (Ring.get), the single-consumer baseline. Lossless: the producer
             waits for the slowest reader. Readers block: a 2 us hot spin, then the
             library's wait (spin up to 50 us, then sleep on the futex).
  iceoryx2   publish-subscribe over shared memory, payload Slice[c_uint8]; safe overflow
             off and BackpressureStrategy.RetryUntilDelivered, so it is lossless like a
             gating ring. Subscribers poll receive() (its Python API has no blocking
             receive without an event service), with os.sched_yield() when empty.
  zenoh      a peer session listening on unixsock-stream (no multicast scouting), the
             subscribers' sessions connect to it; CongestionControl.BLOCK; subscribers
             block in recv() on the default FIFO channel. Lossless in practice, but
             delivered messages are counted, not assumed.
  pyzmq      PUB/SUB over ipc://, SNDHWM = RCVHWM = as many messages as the ring holds;
             PUB drops a subscriber's messages at its HWM: delivered messages are counted.
             Subscribers block in recv().

A publisher has send(buf) (buf: the bytearray the benchmark stamps before each message;
every transport copies it before send returns), probe() and end() (the markers, for
transports with `markers`), close(); a subscriber has recv() -> bytes and close(). For
transports with markers, a message shorter than 16 bytes is a marker: PROBE (slow-joiner
handshake) or END.
"""

from __future__ import annotations

import ctypes
import os

import benchlib
from benchlib import TMP_PREFIX

PROBE = b"P"
END = b"E"
KEY = "ringbench/fanout"


def capacity(size: int) -> int:
    """Bytes of the ring (as ring-bench fanout and ring_bench.c fanout): 4 MiB, or 64 messages."""
    return max(1 << 22, size * 64)


def ring_messages(size: int) -> int:
    """How many messages of size the ring holds (records of 8 bytes of header, 8-aligned)."""
    return capacity(size) // ((size + 8 + 7) & ~7)


# ---------------------------------------------------------------------------------------
# ringpy


class RingpyPublisher:
    markers = False

    def __init__(self, cfg):
        import ringpy

        self.ring = ringpy.Ring.open(cfg["endpoint"])
        self.send = self.ring.put

    def end(self):
        self.ring.close_writer()

    def close(self):
        self.ring.close()


class RingpySubscriber:
    def __init__(self, cfg):
        import ringpy

        self.ring = ringpy.Ring.open(cfg["endpoint"])
        # Readers join here, before the producer starts (they read from the oldest message);
        # a 1.0 ring's consumer takes its role on the first get.
        self.reader = self.ring.reader(gating=True) if cfg["readers"] else self.ring
        self.recv = self.reader.get
        self.end_error = ringpy.EndOfStreamError

    def close(self):
        self.reader.close()
        self.ring.close()


def ringpy_prepare(cfg):
    import ringpy

    path = f"/dev/shm/{TMP_PREFIX}-{cfg['run_id']}-fanout.ring"
    ringpy.Ring.create(path, capacity(cfg["size"]), replace=True, readers=cfg["readers"]).close()
    return path


# ---------------------------------------------------------------------------------------
# iceoryx2


def _iox2_service(cfg):
    import iceoryx2 as iox2

    iox2.set_log_level(iox2.LogLevel.Error)  # not its "no config file" notice on stdout
    node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
    buffer = min(1024, ring_messages(cfg["size"]))
    service = (
        node.service_builder(iox2.ServiceName.new(cfg["endpoint"]))
        .publish_subscribe(iox2.Slice[ctypes.c_uint8])
        .enable_safe_overflow(False)
        .history_size(0)
        .subscriber_max_buffer_size(buffer)
        .max_subscribers(max(1, cfg["readers"]))
        .max_publishers(1)
        .open_or_create()
    )
    return iox2, node, service, buffer


class Iceoryx2Publisher:
    markers = True

    def __init__(self, cfg):
        iox2, self.node, self.service, _ = _iox2_service(cfg)
        self.pub = (
            self.service.publisher_builder()
            .initial_max_slice_len(cfg["size"])
            .backpressure_strategy(iox2.BackpressureStrategy.RetryUntilDelivered)
            .create()
        )
        self._view = None
        loan, memmove = self.pub.loan_slice_uninit, ctypes.memmove

        def send(buf):
            view = self._view
            if view is None:  # a ctypes view of the benchmark's bytearray, made once
                view = self._view = (ctypes.c_char * len(buf)).from_buffer(buf)
            sample = loan(len(buf))
            memmove(sample.payload_ptr, view, len(buf))
            sample.assume_init().send()

        def marker(m):
            sample = loan(len(m))
            memmove(sample.payload_ptr, m, len(m))
            sample.assume_init().send()

        self.send = send
        self.probe = lambda: marker(PROBE)
        self.end = lambda: marker(END)

    def close(self):
        self._view = None
        self.pub.delete()


class Iceoryx2Subscriber:
    def __init__(self, cfg):
        _, self.node, self.service, buffer = _iox2_service(cfg)
        self.sub = self.service.subscriber_builder().buffer_size(buffer).create()
        receive, string_at, yield_ = self.sub.receive, ctypes.string_at, os.sched_yield

        def recv():
            while True:
                sample = receive()
                if sample is not None:
                    data = string_at(sample.payload_ptr, sample.header.number_of_elements)
                    sample.delete()
                    return data
                yield_()

        self.recv = recv

    def close(self):
        self.sub.delete()


def iceoryx2_prepare(cfg):
    return f"{TMP_PREFIX}/{cfg['run_id']}/fanout"


# ---------------------------------------------------------------------------------------
# zenoh


def _zenoh_session(listen=None, connect=None):
    import zenoh

    conf = zenoh.Config()
    conf.insert_json5("scouting/multicast/enabled", "false")
    if listen:
        conf.insert_json5("listen/endpoints", f'["unixsock-stream/{listen}"]')
    if connect:
        conf.insert_json5("connect/endpoints", f'["unixsock-stream/{connect}"]')
    return zenoh, zenoh.open(conf)


class ZenohPublisher:
    markers = True

    def __init__(self, cfg):
        zenoh, self.session = _zenoh_session(listen=cfg["endpoint"])
        self.pub = self.session.declare_publisher(KEY, congestion_control=zenoh.CongestionControl.BLOCK)
        put = self.pub.put

        def send(buf):
            put(bytes(buf))  # zenoh may keep a reference to what it is given: give it a copy

        self.send = send
        self.probe = lambda: put(PROBE)
        self.end = lambda: put(END)

    def close(self):
        self.pub.undeclare()
        self.session.close()


class ZenohSubscriber:
    def __init__(self, cfg):
        benchlib.wait_for_path(cfg["endpoint"], 30.0)
        _, self.session = _zenoh_session(connect=cfg["endpoint"])
        self.sub = self.session.declare_subscriber(KEY)
        next_sample = self.sub.recv

        def recv():
            return next_sample().payload.to_bytes()

        self.recv = recv

    def close(self):
        self.sub.undeclare()
        self.session.close()


# ---------------------------------------------------------------------------------------
# pyzmq PUB/SUB


class ZmqPublisher:
    markers = True

    def __init__(self, cfg):
        import zmq

        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.SNDHWM, ring_messages(cfg["size"]))
        # send() copies every message (above copy_threshold pyzmq would send the bytearray
        # itself, zero-copy, while the benchmark stamps the next message into it).
        self.sock.copy_threshold = 1 << 30
        self.sock.bind(f"ipc://{cfg['endpoint']}")
        send = self.sock.send
        self.send = send
        self.probe = lambda: send(PROBE)
        self.end = lambda: send(END)

    def close(self):
        self.sock.close(linger=0)
        self.ctx.term()


class ZmqSubscriber:
    def __init__(self, cfg):
        import zmq

        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, ring_messages(cfg["size"]))
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(f"ipc://{cfg['endpoint']}")
        self.recv = self.sock.recv

    def close(self):
        self.sock.close(linger=0)
        self.ctx.term()


def socket_prepare(cfg):
    """A path in /tmp for the run's Unix socket (zenoh's unixsock-stream, zmq's ipc://)."""
    return benchlib.tmp_path(cfg, ".sock")


# impl: (peer package or None, prepare, cleanup, publisher class, subscriber class, lossless,
#        how the readers wait)
TRANSPORTS = {
    "ringpy": ("ringpy", ringpy_prepare, benchlib.remove_quietly, RingpyPublisher, RingpySubscriber, True,
               "spin <= 50 us, then futex sleep"),
    "iceoryx2": ("iceoryx2", iceoryx2_prepare, None, Iceoryx2Publisher, Iceoryx2Subscriber, True,
                 "spin: poll receive(), sched_yield"),
    "zenoh": ("eclipse-zenoh", socket_prepare, benchlib.remove_quietly, ZenohPublisher, ZenohSubscriber, False,
              "sleep in recv()"),
    "pyzmq": ("pyzmq", socket_prepare, benchlib.remove_quietly, ZmqPublisher, ZmqSubscriber, False,
              "sleep in recv()"),
}
