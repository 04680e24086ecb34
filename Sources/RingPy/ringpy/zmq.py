"""ringpy.zmq: a ring's messages between processes and hosts over ZeroMQ (SPEC.md §23).

A producer sends messages in frames (one per frame with ``put``, many with ``put_packed``)
over a PUSH socket; a consumer receives them over a PULL socket, one by one (``get``) or in
batches (``get_many``), until every producer ended its stream (``close_writer``)::

    from ringpy.zmq import ZmqConsumer, ZmqProducer
    with ZmqProducer("ipc:///tmp/events.sock") as producer, ZmqConsumer("ipc:///tmp/events.sock") as consumer:
        producer.put(b"hello")
        producer.close_writer()
        assert list(consumer) == [b"hello"]

Three topologies, as mm_toolbox's IPC ring buffer: SPSC, MPSC (many producers connect to
the one consumer, which binds) and SPMC (the producer binds, the consumers connect and each
frame reaches one of them); MPMC is refused. The mm_toolbox names are here too:
``IPCRingBufferConfig``, ``IPCRingBufferProducer``, ``IPCRingBufferConsumer`` and
``should_producer_bind``.

The errors are ringpy's: FullError (no room in time), EmptyError (no message in time),
EndOfStreamError, ClosedError, InvalidSizeError, ForkedError, ValueError for bad arguments,
OSError for what libzmq refused (an endpoint in use or malformed).

The native core (``ringpy._zmq``) is a C extension over libringformat_zmq.so, which ships
inside this package when libzmq's development files were there at build time.
"""

from __future__ import annotations

import enum
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from typing import Iterable, Iterator, List, NamedTuple, Optional, Union

from ._ringpy import EndOfStreamError

#: Why ``import ringpy.zmq`` fails in a ringpy built without libzmq.
MISSING_LIBZMQ = (
    "ringpy.zmq is not available: this ringpy was built without its ZeroMQ transport, because "
    "libzmq's development files (Debian: libzmq3-dev; `pkg-config --exists libzmq` failed) were "
    "missing at build time, or RINGPY_WITHOUT_ZMQ was set. Install them and reinstall ringpy "
    "(pip install --force-reinstall ringpy, from source)."
)

if importlib.util.find_spec("ringpy._zmq") is None:
    raise ImportError(MISSING_LIBZMQ, name="ringpy.zmq")
try:
    from . import _zmq
except ImportError as error:  # built with it, but a library does not load here
    raise ImportError(
        "ringpy.zmq could not load its native core ringpy._zmq (%s): libzmq's shared library "
        "(Debian: libzmq5) or libringformat_zmq.so beside it may be missing" % error,
        name="ringpy.zmq",
    ) from error

__all__ = [
    "IPCRingBufferConfig", "IPCRingBufferConsumer", "IPCRingBufferProducer", "MISSING_LIBZMQ", "Topology",
    "ZmqConsumer", "ZmqCounters", "ZmqProducer", "should_producer_bind", "version",
]


class Topology(enum.IntEnum):
    """How many producers and consumers share an endpoint (SPEC.md §23.6); no MPMC."""

    #: One producer (binds), one consumer (connects): every message, in order.
    SPSC = _zmq.SPSC
    #: Several producers (connect), one consumer (binds): every message, each producer's in order.
    MPSC = _zmq.MPSC
    #: One producer (binds), several consumers (connect): each frame reaches one consumer.
    SPMC = _zmq.SPMC


_MPMC_REFUSED = (
    "MPMC is not offered: with many producers and many consumers no side is the single, stable "
    "one that binds (SPEC.md §23.6). Use MPSC into one consumer, or SPMC from one producer, or one "
    "endpoint per pair"
)


def _topology(value: Union[str, int, Topology]) -> Topology:
    """A topology given as a Topology, its value or its name ("spsc", "mpsc", "spmc", any case)."""
    if isinstance(value, str):
        name = value.strip().upper()
        if name == "MPMC":
            raise ValueError(_MPMC_REFUSED)
        try:
            return Topology[name]
        except KeyError:
            raise ValueError("topology %r: 'spsc', 'mpsc' or 'spmc'" % value) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("topology must be 'spsc', 'mpsc', 'spmc' or a Topology, not %s" % type(value).__name__)
    try:
        return Topology(value)
    except ValueError:
        raise ValueError("topology %r: 0 (SPSC), 1 (MPSC) or 2 (SPMC)" % value) from None


def _bind(value: Optional[bool]) -> int:
    """bind=None (the topology's rule), True or False as the C ABI's -1, 1, 0."""
    if value is None:
        return _zmq.BIND_AUTO
    if not isinstance(value, bool):
        raise TypeError("bind must be None, True or False")
    return 1 if value else 0


def _count(name: str, value: int, low: int, high: int = (1 << 32) - 1) -> int:
    """An integer option within low..high, else ValueError (TypeError for a non-integer)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if not low <= value <= high:
        raise ValueError("%s must be %d ... %d, not %d" % (name, low, high, value))
    return value


class ZmqCounters(NamedTuple):
    """What a producer sent or a consumer received and dropped (SPEC.md §23.5, §23.7)."""

    frames_sent: int
    messages_sent: int
    bytes_sent: int
    frames_received: int
    messages_received: int
    bytes_received: int
    #: Malformed frames dropped whole (see ZmqConsumer.last_drop).
    frames_dropped: int
    #: Well-formed frames of the bridge's kinds (HELLO, ACK, HEARTBEAT), ignored.
    frames_ignored: int
    end_frames_received: int
    #: Frames whose first index broke their stream's sequence (something lost or repeated).
    sequence_breaks: int


def should_producer_bind(topology: Union[str, int, Topology, "IPCRingBufferConfig"]) -> bool:
    """mm_toolbox's rule (SPEC.md §23.6): True if the producer binds and the consumers connect
    (SPSC, SPMC), False if the consumer binds (MPSC). Takes a topology or an IPCRingBufferConfig."""
    if isinstance(topology, IPCRingBufferConfig):
        topology = topology.topology
    return _zmq.should_producer_bind(int(_topology(topology)))


def version() -> str:
    """The version of libringformat_zmq that this module runs on."""
    return _zmq.version()


class _Handle:
    """What ZmqProducer and ZmqConsumer share: a context manager that closes, and the repr."""

    def __enter__(self):
        """The handle itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """close()."""
        self.close()

    def __repr__(self) -> str:
        """The class, the endpoint, the topology and whether it is closed."""
        return "<%s %s %s%s>" % (type(self).__name__, self.endpoint, self.topology.name,
                                 " closed" if self.closed else "")


class ZmqProducer(_Handle, _zmq.ProducerBase):
    """Sends messages to the consumers of one endpoint over a ZeroMQ PUSH socket.

    ``ZmqProducer(endpoint, topology="spsc", *, send_hwm=1000, bind=None, linger=1.0,
    max_messages_per_frame=1024, max_frame_bytes=65536, stream_id=None)``

    endpoint: ``ipc://PATH`` (PATH under 107 bytes), ``tcp://HOST:PORT`` or ``inproc://NAME``.
    topology: "spsc", "mpsc" or "spmc" (or a Topology); it decides whether this side binds
    (SPSC, SPMC) or connects (MPSC), unless bind is True or False. send_hwm: frames queued per
    consumer before a put waits (0: no limit). linger: seconds close() waits at most for
    queued frames to leave (None: no limit). put_packed packs up to max_messages_per_frame
    messages and max_frame_bytes body bytes per frame. stream_id: this stream's nonzero
    identity in every frame (None: a random one).

    A bound producer with no consumer connected has no room: a put waits, then FullError.
    Use it as a context manager, or call close().
    """

    __slots__ = ("topology",)

    def __init__(
        self,
        endpoint: str,
        topology: Union[str, int, Topology] = "spsc",
        *,
        send_hwm: int = 1000,
        bind: Optional[bool] = None,
        linger: Optional[float] = 1.0,
        max_messages_per_frame: int = 1024,
        max_frame_bytes: int = 65536,
        stream_id: Optional[int] = None,
    ) -> None:
        """Open the producer (binding or connecting at once; libzmq connects in the background)."""
        self.topology = _topology(topology)
        if linger is None:
            linger_ns = -1
        else:
            if not linger >= 0:
                raise ValueError("linger must be a non-negative number of seconds or None")
            linger_ns = min(int(linger * 1e9), (1 << 62))
        if stream_id is not None:
            _count("stream_id", stream_id, 1, (1 << 64) - 1)
        self._open(
            endpoint, int(self.topology), _count("send_hwm", send_hwm, 0, (1 << 31) - 1), _bind(bind), linger_ns,
            _count("max_messages_per_frame", max_messages_per_frame, 1),
            _count("max_frame_bytes", max_frame_bytes, 8), stream_id or 0,
        )

    @property
    def counters(self) -> ZmqCounters:
        """Frames, messages and payload bytes sent so far (after close(): at close)."""
        return ZmqCounters(*self._counters())



class ZmqConsumer(_Handle, _zmq.ConsumerBase):
    """Receives the messages of one endpoint over a ZeroMQ PULL socket.

    ``ZmqConsumer(endpoint, topology="spsc", *, receive_hwm=1000, bind=None, producers=1)``

    topology decides whether this side binds (MPSC) or connects (SPSC, SPMC), unless bind is
    True or False. receive_hwm: frames queued per producer before the producer waits.
    producers: how many streams' END end this consumer's stream (MPSC: the number of
    producers; SPSC and SPMC: 1).

    Malformed frames (SPEC.md §23.5) are dropped whole and counted (counters.frames_dropped,
    last_drop), never raised. Iterating yields messages until the end of the stream.
    """

    __slots__ = ("topology",)

    def __init__(
        self,
        endpoint: str,
        topology: Union[str, int, Topology] = "spsc",
        *,
        receive_hwm: int = 1000,
        bind: Optional[bool] = None,
        producers: int = 1,
    ) -> None:
        """Open the consumer (binding or connecting at once)."""
        self.topology = _topology(topology)
        self._open(endpoint, int(self.topology), _count("receive_hwm", receive_hwm, 0, (1 << 31) - 1), _bind(bind),
                   0, 1, 8, _count("producers", producers, 1))

    @property
    def pending(self) -> int:
        """Messages received and not yet taken."""
        return self._pending()

    @property
    def counters(self) -> ZmqCounters:
        """Frames, messages and bytes received, dropped and ignored (after close(): at close)."""
        return ZmqCounters(*self._counters())

    @property
    def last_drop(self) -> Optional[str]:
        """Why the last malformed frame was dropped (SPEC.md §23.5), or None if none was."""
        return self._last_drop()

    def __iter__(self) -> Iterator[bytes]:
        """Yield messages as they arrive until the end of the stream (every producer's END)."""
        try:
            while True:
                yield self.get()
        except EndOfStreamError:
            return



# --- mm_toolbox's names -------------------------------------------------------------------


@dataclass(frozen=True)
class IPCRingBufferConfig:
    """mm_toolbox's IPC ring buffer settings: the endpoint (path), the backlog (the high-water
    mark of both sides, in frames), how many producers and consumers share it (which picks the
    topology: MPMC is refused), and the producer's linger (seconds; None: no limit) and packing
    limits."""

    path: str
    backlog: int = 1000
    num_producers: int = 1
    num_consumers: int = 1
    linger: Optional[float] = 1.0
    max_messages_per_frame: int = 1024
    max_frame_bytes: int = 65536

    def __post_init__(self) -> None:
        """Checks the counts; ValueError for MPMC."""
        _count("backlog", self.backlog, 0, (1 << 31) - 1)
        _count("num_producers", self.num_producers, 1)
        _count("num_consumers", self.num_consumers, 1)
        if self.num_producers > 1 and self.num_consumers > 1:
            raise ValueError("%d producers and %d consumers: %s" % (self.num_producers, self.num_consumers, _MPMC_REFUSED))

    @classmethod
    def default(cls) -> "IPCRingBufferConfig":
        """SPSC over an ipc:// socket file in the temporary directory, backlog 1000, linger 1 s."""
        return cls(path="ipc://" + os.path.join(tempfile.gettempdir(), "ringpy-ipc-ringbuffer.sock"))

    @property
    def topology(self) -> Topology:
        """SPSC, MPSC (several producers) or SPMC (several consumers)."""
        if self.num_producers > 1:
            return Topology.MPSC
        if self.num_consumers > 1:
            return Topology.SPMC
        return Topology.SPSC

    def should_producer_bind(self) -> bool:
        """True if the producer binds (SPSC, SPMC), False if the consumer does (MPSC)."""
        return should_producer_bind(self.topology)


class IPCRingBufferProducer:
    """mm_toolbox's IPC ring buffer producer over a ZmqProducer: insert, insert_packed, stop."""

    __slots__ = ("config", "producer")

    def __init__(self, config: IPCRingBufferConfig) -> None:
        """Open a producer on config.path with config's topology, backlog, linger and packing."""
        self.config = config
        #: The ZmqProducer underneath.
        self.producer = ZmqProducer(
            config.path, config.topology, send_hwm=config.backlog, linger=config.linger,
            max_messages_per_frame=config.max_messages_per_frame, max_frame_bytes=config.max_frame_bytes,
        )

    def insert(self, item: Union[bytes, bytearray, memoryview], timeout: Optional[float] = None) -> None:
        """Send one message in a frame of its own (ZmqProducer.put)."""
        self.producer.put(item, timeout)

    def insert_packed(self, items: Iterable[Union[bytes, bytearray, memoryview]], timeout: Optional[float] = None) -> int:
        """Send messages packed into frames (ZmqProducer.put_packed); returns how many."""
        return self.producer.put_packed(items, timeout)

    def stop(self, timeout: Optional[float] = 5.0) -> None:
        """End the stream (one END per consumer, within timeout seconds) and close. Idempotent;
        the producer is closed even if the END could not be queued in time (FullError then)."""
        if self.producer.closed:
            return
        try:
            self.producer.close_writer(self.config.num_consumers, timeout)
        finally:
            self.producer.close()

    @property
    def counters(self) -> ZmqCounters:
        """The producer's counters."""
        return self.producer.counters

    def __enter__(self) -> "IPCRingBufferProducer":
        """The producer itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """stop()."""
        self.stop()


class IPCRingBufferConsumer:
    """mm_toolbox's IPC ring buffer consumer over a ZmqConsumer: consume, consume_packed,
    consume_all, stop."""

    __slots__ = ("config", "consumer")

    def __init__(self, config: IPCRingBufferConfig) -> None:
        """Open a consumer on config.path with config's topology and backlog; its stream ends
        after config.num_producers ENDs (MPSC) or one (SPSC, SPMC)."""
        self.config = config
        #: The ZmqConsumer underneath.
        self.consumer = ZmqConsumer(config.path, config.topology, receive_hwm=config.backlog,
                                    producers=config.num_producers)

    def consume(self, timeout: Optional[float] = None) -> bytes:
        """The next message, waiting for it (up to timeout seconds: EmptyError after).
        EndOfStreamError once the stream ended and everything was taken."""
        return self.consumer.get(timeout)

    def consume_packed(self, timeout: Optional[float] = None) -> List[bytes]:
        """The next batch: waits for a message (up to timeout: [] after), then takes up to
        config.max_messages_per_frame that have arrived with it (a packed frame's messages
        arrive together). EndOfStreamError once the stream ended and everything was taken."""
        return self.consumer.get_many(self.config.max_messages_per_frame, timeout)

    def consume_all(self) -> List[bytes]:
        """Every message there is now ([] if none, also at the end of the stream); never waits."""
        out: List[bytes] = []
        while True:
            try:
                batch = self.consumer.get_many(65536, 0)
            except EndOfStreamError:
                return out
            if not batch:
                return out
            out.extend(batch)

    def stop(self) -> None:
        """Close the consumer (messages received and not taken are dropped). Idempotent."""
        self.consumer.close()

    @property
    def counters(self) -> ZmqCounters:
        """The consumer's counters."""
        return self.consumer.counters

    def __iter__(self) -> Iterator[bytes]:
        """Yield messages until the end of the stream."""
        return iter(self.consumer)

    def __enter__(self) -> "IPCRingBufferConsumer":
        """The consumer itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """stop()."""
        self.stop()
