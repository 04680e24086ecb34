// BridgeCounters.swift - what each side of a bridge did (SPEC.md §24.9).

/// Counts of a `BridgeSender` since it was made.
public struct BridgeSenderCounters: Sendable, Equatable {
    /// Messages sent in DATA frames (a resend counts again).
    public var recordsSent: UInt64 = 0
    /// Payload bytes of them.
    public var bytesSent: UInt64 = 0
    /// DATA frames sent.
    public var framesSent: UInt64 = 0
    /// Messages the receiver acknowledged (consumed from the source).
    public var recordsAcked: UInt64 = 0
    /// Payload bytes of them.
    public var bytesAcked: UInt64 = 0
    /// Source bytes from the sender's position to the source's end, at the last look.
    public var lagBytes: UInt64 = 0
    /// Messages sent and not yet acknowledged.
    public var lagRecords: UInt64 = 0
    /// Handshakes after the first (a reconnect, a restarted receiver, a peer timeout).
    public var reconnects: UInt64 = 0
    /// Times the peer was silent for `peerTimeout`.
    public var peerTimeouts: UInt64 = 0
    /// Frames received and dropped: malformed (SPEC.md §23.5) or out of place (§24.6).
    public var framesDropped: UInt64 = 0
    /// Times the sender had to stop at the receiver's credit.
    public var creditStalls: UInt64 = 0
    /// The destination's droppedCount, as the last ACK said.
    public var destinationDropped: UInt64 = 0

    /// All zero.
    public init() {}
}

/// Counts of a `BridgeReceiver` since it was made.
public struct BridgeReceiverCounters: Sendable, Equatable {
    /// Messages written to the destination.
    public var recordsApplied: UInt64 = 0
    /// Payload bytes of them.
    public var bytesApplied: UInt64 = 0
    /// Messages received again and skipped (already applied).
    public var duplicateRecords: UInt64 = 0
    /// DATA frames that started after the applied index (a frame was lost): dropped, and
    /// the sender asked to resume.
    public var gaps: UInt64 = 0
    /// Handshakes answered.
    public var handshakes: UInt64 = 0
    /// HELLOs refused (another stream, or a source ahead of what was applied).
    public var refusals: UInt64 = 0
    /// Frames dropped: malformed (SPEC.md §23.5), of an unexpected kind, or from a peer
    /// without a handshake.
    public var framesDropped: UInt64 = 0
    /// Connections refused by the CURVE allow-list (SPEC.md §24.11).
    public var unknownKeys: UInt64 = 0
    /// ACK frames sent.
    public var acksSent: UInt64 = 0
    /// Times a write waited for room in a reject-when-full destination.
    public var destinationFullWaits: UInt64 = 0
    /// The destination's droppedCount (overwrite-oldest: messages it reclaimed unread).
    public var destinationDropped: UInt64 = 0
    /// Times the peer was silent for `peerTimeout`.
    public var peerTimeouts: UInt64 = 0

    /// All zero.
    public init() {}
}
