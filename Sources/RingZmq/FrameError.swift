// FrameError.swift - why a received frame was dropped (SPEC.md §23.5). A frame is
// untrusted input: a bad one is dropped and counted, never delivered in part.

/// Why a frame breaks SPEC.md §23 and was dropped. Offsets are within the frame.
public enum FrameError: Error, Sendable, Equatable {
    /// The frame is shorter than FRAME_HEADER_SIZE.
    case truncated(size: Int)
    /// Bytes 0..3 are not WIRE_MAGIC.
    case badMagic(UInt32)
    /// wireVersion is not 1.
    case badVersion(UInt16)
    /// kind is none of FrameKind.
    case unknownKind(UInt16)
    /// flags has bits wire version 1 does not define.
    case unknownFlags(UInt32)
    /// bodyLength is not the frame's size minus the header (a lying or truncated frame).
    case lengthMismatch(declared: UInt32, actual: Int)
    /// A record's header, or its payload and alignment, runs past the end of the body
    /// (or its length is above MAX_MESSAGE_SIZE_LIMIT).
    case recordPastEnd(record: Int, offset: Int)
    /// A record's kind is not RECORD_KIND_MESSAGE.
    case badRecordKind(record: Int, kind: UInt32)
    /// The records that fill the body are not `count` of them (or a DATA frame has count 0).
    case countMismatch(declared: UInt32, found: Int)
    /// A frame of a kind that carries no body in wire version 1 (END) has a count or a body.
    case unexpectedBody(kind: UInt16)
    /// The ZeroMQ message had more than one part; every part of it was dropped.
    case multipart
}

extension FrameError: CustomStringConvertible {
    /// A one-line, human-readable description.
    public var description: String {
        switch self {
        case let .truncated(size): return "frame of \(size) bytes is shorter than its \(WireLayout.headerSize)-byte header"
        case let .badMagic(value): return "frame magic 0x\(String(value, radix: 16)) is not \"RNGW\""
        case let .badVersion(v): return "wire version \(v) (this implementation reads \(WireLayout.version))"
        case let .unknownKind(k): return "unknown frame kind \(k)"
        case let .unknownFlags(f): return "unknown frame flags 0x\(String(f, radix: 16))"
        case let .lengthMismatch(declared, actual): return "bodyLength \(declared) but \(actual) body bytes"
        case let .recordPastEnd(record, offset):
            return "record \(record) at offset \(offset) runs past the end of the frame"
        case let .badRecordKind(record, kind): return "record \(record) has kind \(kind), not a message"
        case let .countMismatch(declared, found): return "count \(declared) but \(found) records"
        case let .unexpectedBody(kind): return "frame kind \(kind) carries a count or body"
        case .multipart: return "multi-part ZeroMQ message (a frame is one part)"
        }
    }
}
