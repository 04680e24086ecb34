// ZmqOptions.swift - the settings of a ZeroMQ producer or consumer: queue limits, packing
// limits, linger, and which side binds.

import RingFormat

/// Settings of a `ZmqProducer` or `ZmqConsumer`; each side reads the ones that concern it.
public struct ZmqOptions: Sendable {
    /// ZMQ_SNDHWM of a producer: frames libzmq queues per peer before a put waits (FULL on
    /// timeout). Counted in frames, whatever they hold. 0 means no limit. libzmq's default: 1000.
    public var sendHighWaterMark: Int32 = 1000
    /// ZMQ_RCVHWM of a consumer: frames libzmq queues per peer before it stops reading the
    /// connection (the producer then waits). 0 means no limit.
    public var receiveHighWaterMark: Int32 = 1000
    /// ZMQ_SNDBUF / ZMQ_RCVBUF: the kernel socket buffer in bytes (nil: the system's).
    /// Over ipc:// and tcp:// these bytes queue beyond the high-water marks.
    public var kernelBufferBytes: Int32? = nil
    /// ZMQ_LINGER of a producer: how long closing waits for queued frames to leave (nil:
    /// no limit, which can hang close while no consumer reads). A consumer lingers 0.
    public var linger: Duration? = .seconds(1)
    /// Most messages `put(batch:)` packs in one frame.
    public var maxMessagesPerFrame = 1024
    /// Most body bytes `put(batch:)` packs in one frame; a message larger than this goes
    /// alone in a frame of its own.
    public var maxFrameBytes = 65536
    /// Largest payload a producer sends (INVALID_SIZE above); at most MAX_MESSAGE_SIZE_LIMIT.
    public var maxMessageSize = WireLayout.maxMessageSize
    /// ZMQ_MAXMSGSIZE of a consumer: libzmq disconnects a peer that sends a larger frame
    /// (nil: no limit).
    public var maxReceiveFrameBytes: Int? = nil
    /// Bind (true) or connect (false) instead of what the topology says (`ZmqTopology.binds`).
    public var bind: Bool? = nil
    /// A consumer: how many streams' END frames end its stream (SPEC.md §23.7). SPSC and
    /// SPMC: 1; MPSC: the number of producers.
    public var producers = 1
    /// A producer: its stream's identity in every frame (nil: a random nonzero one).
    public var streamId: UInt64? = nil
    /// The context to make the socket in (nil: the handle makes and owns its own).
    public var context: ZmqContext? = nil

    /// libzmq's queue limits, a 1 s linger, frames of up to 1024 messages and 64 KiB.
    public init() {}

    /// INVALID_ARGUMENT for values no handle can use.
    func validate() throws(RingError) {
        guard sendHighWaterMark >= 0, receiveHighWaterMark >= 0 else { throw .invalidArgument("a high-water mark is negative") }
        guard maxMessagesPerFrame >= 1, maxMessagesPerFrame <= Int(UInt32.max) else { throw .invalidArgument("maxMessagesPerFrame must be 1...2^32-1") }
        guard maxFrameBytes >= 8, maxFrameBytes <= WireLayout.maxBodyLength else { throw .invalidArgument("maxFrameBytes must be 8...2^32-1") }
        guard maxMessageSize >= 0, maxMessageSize <= WireLayout.maxMessageSize else {
            throw .invalidArgument("maxMessageSize must be 0...\(WireLayout.maxMessageSize)")
        }
        guard producers >= 1 else { throw .invalidArgument("producers must be at least 1") }
        guard streamId != 0 else { throw .invalidArgument("streamId 0 is reserved") }
        if let k = kernelBufferBytes, k <= 0 { throw .invalidArgument("kernelBufferBytes must be positive") }
        if let m = maxReceiveFrameBytes, m < WireLayout.headerSize { throw .invalidArgument("maxReceiveFrameBytes is below a frame header") }
    }

    /// ZMQ_LINGER's value: milliseconds, -1 for no limit.
    var lingerMilliseconds: Int32 {
        guard let linger else { return -1 }
        let (s, atto) = linger.components
        if s < 0 { return 0 }
        return Int32(clamping: s * 1000 + atto / 1_000_000_000_000_000)
    }
}
