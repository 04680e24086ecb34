// ZmqCounters.swift - what a producer sent and a consumer received or dropped.

/// Counts of one handle since it was made. A producer fills the sent counts, a consumer
/// the received ones.
public struct ZmqCounters: Sendable, Equatable {
    /// Frames a producer handed to libzmq (DATA and END).
    public var framesSent: UInt64 = 0
    /// Messages in them.
    public var messagesSent: UInt64 = 0
    /// Payload bytes in them.
    public var bytesSent: UInt64 = 0
    /// Frames a consumer accepted (DATA and END).
    public var framesReceived: UInt64 = 0
    /// Messages in them.
    public var messagesReceived: UInt64 = 0
    /// Payload bytes in them.
    public var bytesReceived: UInt64 = 0
    /// Frames a consumer dropped as malformed (SPEC.md §23.5); `ZmqConsumer.lastDrop` says why.
    public var framesDropped: UInt64 = 0
    /// Well-formed frames of kinds the transport does not use (HELLO, ACK, HEARTBEAT), ignored.
    public var framesIgnored: UInt64 = 0
    /// END frames received, one per stream (repeats are not counted again).
    public var endFramesReceived: UInt64 = 0
    /// Frames whose firstIndex was not the one their stream's previous frame led a
    /// consumer to expect: messages were lost or repeated between them (SPEC.md §23.7).
    public var sequenceBreaks: UInt64 = 0

    /// All zero.
    public init() {}
}
