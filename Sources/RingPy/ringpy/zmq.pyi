"""Type stubs of ringpy.zmq: rings over ZeroMQ (SPEC.md §23)."""

import enum
from dataclasses import dataclass
from typing import Iterable, Iterator, List, NamedTuple, Optional, Union

Buffer = Union[bytes, bytearray, memoryview]

#: Why ``import ringpy.zmq`` fails in a ringpy built without libzmq.
MISSING_LIBZMQ: str

class Topology(enum.IntEnum):
    """How many producers and consumers share an endpoint (SPEC.md §23.6); no MPMC."""
    SPSC = 0
    MPSC = 1
    SPMC = 2

class ZmqCounters(NamedTuple):
    """What a producer sent or a consumer received and dropped."""
    frames_sent: int
    messages_sent: int
    bytes_sent: int
    frames_received: int
    messages_received: int
    bytes_received: int
    frames_dropped: int
    frames_ignored: int
    end_frames_received: int
    sequence_breaks: int

def should_producer_bind(topology: Union[str, int, Topology, "IPCRingBufferConfig"]) -> bool:
    """True if the producer binds (SPSC, SPMC), False if the consumer does (MPSC)."""

def version() -> str:
    """The version of libringformat_zmq."""

class ZmqProducer:
    """Sends messages to the consumers of one endpoint over a ZeroMQ PUSH socket."""
    topology: Topology
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
        """Open the producer: bind (SPSC, SPMC) or connect (MPSC), unless bind says otherwise."""
    @property
    def endpoint(self) -> str:
        """The endpoint as given."""
    @property
    def closed(self) -> bool:
        """True once close() was called."""
    @property
    def counters(self) -> ZmqCounters:
        """Frames, messages and payload bytes sent (after close(): at close)."""
    def put(self, data: Buffer, timeout: Optional[float] = None) -> None:
        """Send one message in a frame of its own, waiting up to timeout seconds for room
        (None: no limit). FullError when the time is up (nothing sent), InvalidSizeError, ClosedError."""
    def put_packed(self, messages: Iterable[Buffer], timeout: Optional[float] = None) -> int:
        """Send the messages packed into frames, waiting up to timeout in all; returns how many
        were sent (all). FullError with .written if the time ran out after some frames went."""
    def close_writer(self, end_frames: int = 1, timeout: Optional[float] = None) -> None:
        """End the stream: end_frames END frames (SPMC: one per consumer). Later puts: ClosedError."""
    def close(self) -> None:
        """Close the socket, waiting up to linger for queued frames. Idempotent."""
    def __enter__(self) -> "ZmqProducer":
        """The producer itself."""
    def __exit__(self, *exc_info: object) -> None:
        """close()."""

class ZmqConsumer:
    """Receives the messages of one endpoint over a ZeroMQ PULL socket."""
    topology: Topology
    def __init__(
        self,
        endpoint: str,
        topology: Union[str, int, Topology] = "spsc",
        *,
        receive_hwm: int = 1000,
        bind: Optional[bool] = None,
        producers: int = 1,
    ) -> None:
        """Open the consumer: bind (MPSC) or connect (SPSC, SPMC), unless bind says otherwise;
        its stream ends after `producers` streams sent END."""
    @property
    def endpoint(self) -> str:
        """The endpoint as given."""
    @property
    def closed(self) -> bool:
        """True once close() was called."""
    @property
    def pending(self) -> int:
        """Messages received and not yet taken."""
    @property
    def counters(self) -> ZmqCounters:
        """Frames, messages and bytes received, dropped and ignored."""
    @property
    def last_drop(self) -> Optional[str]:
        """Why the last malformed frame was dropped, or None."""
    def get(self, timeout: Optional[float] = None) -> bytes:
        """The next message, waiting up to timeout seconds (None: no limit). EmptyError when the
        time is up, EndOfStreamError once the stream ended and every message was taken."""
    def get_many(self, max_count: int, timeout: Optional[float] = None) -> List[bytes]:
        """Up to max_count messages: waits up to timeout for the first, then takes what has
        arrived; [] if none came in time; EndOfStreamError at the end of the stream."""
    def close(self) -> None:
        """Close the socket; received messages not taken are dropped. Idempotent."""
    def __iter__(self) -> Iterator[bytes]:
        """Yield messages until the end of the stream."""
    def __enter__(self) -> "ZmqConsumer":
        """The consumer itself."""
    def __exit__(self, *exc_info: object) -> None:
        """close()."""

@dataclass(frozen=True)
class IPCRingBufferConfig:
    """mm_toolbox's IPC ring buffer settings; MPMC is refused (ValueError)."""
    path: str
    backlog: int = 1000
    num_producers: int = 1
    num_consumers: int = 1
    linger: Optional[float] = 1.0
    max_messages_per_frame: int = 1024
    max_frame_bytes: int = 65536
    @classmethod
    def default(cls) -> "IPCRingBufferConfig":
        """SPSC over an ipc:// socket file in the temporary directory."""
    @property
    def topology(self) -> Topology:
        """SPSC, MPSC (several producers) or SPMC (several consumers)."""
    def should_producer_bind(self) -> bool:
        """True if the producer binds (SPSC, SPMC)."""

class IPCRingBufferProducer:
    """mm_toolbox's IPC ring buffer producer: insert, insert_packed, stop."""
    config: IPCRingBufferConfig
    producer: ZmqProducer
    def __init__(self, config: IPCRingBufferConfig) -> None:
        """Open a producer on config.path."""
    def insert(self, item: Buffer, timeout: Optional[float] = None) -> None:
        """Send one message (ZmqProducer.put)."""
    def insert_packed(self, items: Iterable[Buffer], timeout: Optional[float] = None) -> int:
        """Send messages packed into frames (ZmqProducer.put_packed)."""
    def stop(self, timeout: Optional[float] = 5.0) -> None:
        """End the stream (one END per consumer) and close. Idempotent."""
    @property
    def counters(self) -> ZmqCounters:
        """The producer's counters."""
    def __enter__(self) -> "IPCRingBufferProducer":
        """The producer itself."""
    def __exit__(self, *exc_info: object) -> None:
        """stop()."""

class IPCRingBufferConsumer:
    """mm_toolbox's IPC ring buffer consumer: consume, consume_packed, consume_all, stop."""
    config: IPCRingBufferConfig
    consumer: ZmqConsumer
    def __init__(self, config: IPCRingBufferConfig) -> None:
        """Open a consumer on config.path."""
    def consume(self, timeout: Optional[float] = None) -> bytes:
        """The next message, waiting for it."""
    def consume_packed(self, timeout: Optional[float] = None) -> List[bytes]:
        """The next batch of messages that arrived together ([] on timeout)."""
    def consume_all(self) -> List[bytes]:
        """Every message there is now ([] if none); never waits."""
    def stop(self) -> None:
        """Close the consumer. Idempotent."""
    @property
    def counters(self) -> ZmqCounters:
        """The consumer's counters."""
    def __iter__(self) -> Iterator[bytes]:
        """Yield messages until the end of the stream."""
    def __enter__(self) -> "IPCRingBufferConsumer":
        """The consumer itself."""
    def __exit__(self, *exc_info: object) -> None:
        """stop()."""
