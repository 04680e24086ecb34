// BridgeError.swift - why a bridge side stops (SPEC.md §24.10).

import RingFormat

/// Why a bridge side refused to go on.
public enum BridgeError: Error, Sendable, Equatable {
    /// The source or destination ring cannot be bridged (overwrite-oldest source, producer
    /// slots, a typed ring, ...).
    case unsupportedRing(path: String, reason: String)
    /// The receiver holds another stream than the sender's (its sidecar names `held`).
    case streamMismatch(held: UInt64, offered: UInt64)
    /// The sender's source position is past what the receiver applied: messages left the
    /// source without reaching the destination (another consumer, or a reset receiver).
    case sourceAhead(applied: UInt64, source: UInt64)
    /// The receiver acknowledged a position the source cannot reach from the sender's.
    case badAcknowledgement(position: UInt64, index: UInt64)
    /// The destination's producerPosition matches no state of the sidecar: another producer
    /// wrote it, or the sidecar belongs to another ring.
    case destinationMoved(expected: UInt64, found: UInt64)
    /// The sidecar file is damaged (both slots fail their checks).
    case sidecarCorrupt(path: String)
    /// The peer refused the handshake with this ACK status (SPEC.md §24.4).
    case refused(status: UInt32)
    /// A ring or libzmq call failed.
    case ring(RingError)
    /// The receiver was asked to stop while it waited for room in a full destination, in the
    /// middle of a frame: it closed itself; the sidecar's plan completes that frame when the
    /// destination is opened again (SPEC.md §24.6). `BridgeReceiver.run` returns normally.
    case stoppedWhileFull(path: String)
}

extension BridgeError: CustomStringConvertible {
    /// One line.
    public var description: String {
        switch self {
        case let .unsupportedRing(path, reason): return "\(path): cannot be bridged: \(reason)"
        case let .streamMismatch(held, offered):
            return "the receiver holds stream \(hex(held)), not \(hex(offered)) (reset the receiver to take the new one)"
        case let .sourceAhead(applied, source):
            return "the source position \(source) is past the \(applied) the receiver applied: messages were lost before the bridge"
        case let .badAcknowledgement(position, index): return "acknowledged position \(position) (index \(index)) is not a record end of the source"
        case let .destinationMoved(expected, found):
            return "the destination's producerPosition is \(found), not \(expected): another producer wrote it"
        case let .sidecarCorrupt(path): return "\(path): both state slots are damaged"
        case let .refused(status): return "the receiver refused the stream (status \(status): \(BridgeAck.statusName(status)))"
        case let .ring(error): return error.zmqDescription
        case let .stoppedWhileFull(path): return "\(path): stopped while waiting for room in the full destination"
        }
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// Runs `body`, wrapping a RingError as `BridgeError.ring`.
@inline(__always)
func ringCall<T>(_ body: () throws(RingError) -> T) throws(BridgeError) -> T {
    do { return try body() } catch { throw .ring(error) }
}
