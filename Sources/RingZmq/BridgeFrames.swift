// BridgeFrames.swift - the bodies of the bridge's HELLO and ACK frames and its empty
// HEARTBEAT (SPEC.md §24.4): encoding each in one function, parsing each in one function.
//
//   HELLO body (16 bytes)                      ACK body (24 bytes)
//   0      4                8                  0          8        12         16
//   +------+----------------+--------------+   +----------+--------+----------+-------------+
//   | role | recordHeader   | capacity     |   | credit   | status | reserved | destDropped |
//   | u32  | u32            | u64          |   | u64      | u32    | u32      | u64         |
//   +------+----------------+--------------+   +----------+--------+----------+-------------+

import RingFormat

/// Why a well-formed frame (SPEC.md §23.5) of a bridge kind was still dropped (§24.4).
public enum BridgeFrameError: Error, Sendable, Equatable {
    /// HELLO, ACK or HEARTBEAT with a count, or a body of the wrong size.
    case badBody(kind: UInt16, count: UInt32, bodyLength: UInt32)
    /// A HELLO whose role is not SENDER (1) or RECEIVER (2), or whose record header size
    /// does not fit the role.
    case badHello(role: UInt32, recordHeader: UInt32)
    /// An ACK whose status is unknown or whose reserved word is not zero.
    case badAck(status: UInt32)
    /// A frame of stream 0.
    case zeroStream
}

/// A HELLO: a sender introduces its stream and says where it stands; a receiver asks the
/// sender to introduce itself again (SPEC.md §24.5).
public struct BridgeHello: Sendable, Equatable {
    /// HELLO_SENDER (1) or HELLO_RECEIVER (2).
    public enum Role: UInt32, Sendable {
        /// HELLO_SENDER: introduces the stream and asks where to resume.
        case sender = 1
        /// HELLO_RECEIVER: asks the sender for a HELLO.
        case receiver = 2
    }
    /// Who sends it.
    public var role: Role
    /// The stream (nonzero).
    public var streamId: UInt64
    /// Sender: 0. Receiver: its applied index.
    public var index: UInt64
    /// Sender: its position in the source (consumerPosition or its reader's cursor).
    /// Receiver: its applied source position.
    public var position: UInt64
    /// Sender: the source's message record header size, 8 or 16 (SPEC.md §17.2). Receiver: 0.
    public var recordHeader: UInt32
    /// Sender: the source's capacity (informational). Receiver: 0.
    public var capacity: UInt64

    /// Body bytes of a HELLO.
    public static let bodySize = 16

    /// The whole HELLO frame.
    public func encode() -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: WireLayout.headerSize + Self.bodySize)
        frame.withUnsafeMutableBytes { out in
            Frame.writeHeader(FrameHeader(kind: .hello, count: 0, bodyLength: UInt32(Self.bodySize), streamId: streamId,
                                          firstIndex: index, firstPosition: position), to: out.baseAddress!)
            let body = out.baseAddress! + WireLayout.headerSize
            body.storeBytes(of: role.rawValue.littleEndian, toByteOffset: 0, as: UInt32.self)
            body.storeBytes(of: recordHeader.littleEndian, toByteOffset: 4, as: UInt32.self)
            body.storeBytes(of: capacity.littleEndian, toByteOffset: 8, as: UInt64.self)
        }
        return frame
    }

    /// The HELLO in `frame`, which `Frame.parse` accepted as `header`.
    public static func parse(_ header: FrameHeader, _ frame: UnsafeRawBufferPointer) throws(BridgeFrameError) -> BridgeHello {
        try checkShape(header, bodySize: bodySize)
        let rawRole: UInt32 = load(frame, 0)
        let recordHeader: UInt32 = load(frame, 4)
        guard let role = Role(rawValue: rawRole),
              role == .sender ? (recordHeader == 8 || recordHeader == 16) : recordHeader == 0 else {
            throw .badHello(role: rawRole, recordHeader: recordHeader)
        }
        return BridgeHello(role: role, streamId: header.streamId, index: header.firstIndex, position: header.firstPosition,
                           recordHeader: recordHeader, capacity: load(frame, 8))
    }
}

/// An ACK: what the receiver applied, and how much more the sender may send (SPEC.md §24.6).
public struct BridgeAck: Sendable, Equatable {
    /// ACK_OK: the stream goes on.
    public static let ok: UInt32 = 0
    /// ACK_ENDED: the receiver applied END and closed the destination's stream.
    public static let ended: UInt32 = 1
    /// ACK_STREAM_MISMATCH: refused, the receiver holds another stream.
    public static let streamMismatch: UInt32 = 2
    /// ACK_SOURCE_AHEAD: refused, the sender's position is past what was applied.
    public static let sourceAhead: UInt32 = 3

    /// The stream (nonzero).
    public var streamId: UInt64
    /// The index of the next message the receiver will apply: every one before it is in
    /// the destination.
    public var appliedIndex: UInt64
    /// The source position after the last message applied.
    public var appliedPosition: UInt64
    /// Bytes of DATA bodies the sender may have in flight past `appliedIndex`.
    public var credit: UInt64
    /// ACK_OK, ACK_ENDED, ACK_STREAM_MISMATCH or ACK_SOURCE_AHEAD.
    public var status: UInt32
    /// The destination's droppedCount.
    public var destinationDropped: UInt64

    /// Body bytes of an ACK.
    public static let bodySize = 24

    /// A status's SPEC name.
    public static func statusName(_ status: UInt32) -> String {
        switch status {
        case ok: return "ACK_OK"
        case ended: return "ACK_ENDED"
        case streamMismatch: return "ACK_STREAM_MISMATCH"
        case sourceAhead: return "ACK_SOURCE_AHEAD"
        default: return "unknown"
        }
    }

    /// The whole ACK frame.
    public func encode() -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: WireLayout.headerSize + Self.bodySize)
        frame.withUnsafeMutableBytes { out in
            Frame.writeHeader(FrameHeader(kind: .ack, count: 0, bodyLength: UInt32(Self.bodySize), streamId: streamId,
                                          firstIndex: appliedIndex, firstPosition: appliedPosition), to: out.baseAddress!)
            let body = out.baseAddress! + WireLayout.headerSize
            body.storeBytes(of: credit.littleEndian, toByteOffset: 0, as: UInt64.self)
            body.storeBytes(of: status.littleEndian, toByteOffset: 8, as: UInt32.self)
            body.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
            body.storeBytes(of: destinationDropped.littleEndian, toByteOffset: 16, as: UInt64.self)
        }
        return frame
    }

    /// The ACK in `frame`, which `Frame.parse` accepted as `header`.
    public static func parse(_ header: FrameHeader, _ frame: UnsafeRawBufferPointer) throws(BridgeFrameError) -> BridgeAck {
        try checkShape(header, bodySize: bodySize)
        let status: UInt32 = load(frame, 8)
        let reserved: UInt32 = load(frame, 12)
        guard status <= sourceAhead, reserved == 0 else { throw .badAck(status: status) }
        return BridgeAck(streamId: header.streamId, appliedIndex: header.firstIndex, appliedPosition: header.firstPosition,
                         credit: load(frame, 0), status: status, destinationDropped: load(frame, 16))
    }
}

/// The HEARTBEAT frame: no body; firstIndex and firstPosition say where the side stands
/// (informational).
public enum BridgeHeartbeat {
    /// The whole HEARTBEAT frame.
    public static func encode(streamId: UInt64, index: UInt64, position: UInt64) -> [UInt8] {
        Frame.encode(kind: .heartbeat, streamId: streamId, firstIndex: index, firstPosition: position)
    }

    /// Checks a HEARTBEAT that `Frame.parse` accepted as `header`.
    public static func parse(_ header: FrameHeader) throws(BridgeFrameError) {
        try checkShape(header, bodySize: 0)
    }
}

/// count 0, the body's size, a nonzero stream.
private func checkShape(_ header: FrameHeader, bodySize: Int) throws(BridgeFrameError) {
    guard header.count == 0, Int(header.bodyLength) == bodySize else {
        throw .badBody(kind: header.kind.rawValue, count: header.count, bodyLength: header.bodyLength)
    }
    guard header.streamId != 0 else { throw .zeroStream }
}

/// A little-endian integer at `offset` of the body (the caller checked the body's size).
@inline(__always)
private func load<T: FixedWidthInteger>(_ frame: UnsafeRawBufferPointer, _ offset: Int) -> T {
    T(littleEndian: frame.loadUnaligned(fromByteOffset: WireLayout.headerSize + offset, as: T.self))
}
