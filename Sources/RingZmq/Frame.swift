// Frame.swift - encoding frames, and the one function that parses one (SPEC.md §23).
//
// A received frame is untrusted input: `Frame.parse` reads each field once, checks every
// bound before it reads past it, and either accepts the whole frame or throws why not.

import RingFormat

/// A frame's header, as SPEC.md §23.2 defines it.
public struct FrameHeader: Sendable, Equatable {
    /// What the frame is.
    public var kind: FrameKind
    /// Flag bits (none in wire version 1).
    public var flags: UInt32
    /// DATA: how many messages the body holds.
    public var count: UInt32
    /// Bytes of body after the header.
    public var bodyLength: UInt32
    /// The sender's stream.
    public var streamId: UInt64
    /// DATA: index of the first message; END: how many messages the stream sent.
    public var firstIndex: UInt64
    /// DATA: stream position of the first record; END: the position after the last one.
    public var firstPosition: UInt64

    /// A header with every field given; flags default to none.
    public init(kind: FrameKind, flags: UInt32 = 0, count: UInt32, bodyLength: UInt32,
                streamId: UInt64, firstIndex: UInt64, firstPosition: UInt64) {
        self.kind = kind; self.flags = flags; self.count = count; self.bodyLength = bodyLength
        self.streamId = streamId; self.firstIndex = firstIndex; self.firstPosition = firstPosition
    }
}

/// A frame that passed every check of SPEC.md §23.5.
public struct ParsedFrame: Sendable, Equatable {
    /// Its header.
    public let header: FrameHeader
    /// DATA: where each message's payload lies in the frame, in order (empty for other kinds).
    public let payloads: [Range<Int>]
}

/// Frames of SPEC.md §23: writing them, and parsing them.
public enum Frame {
    typealias H = WireLayout.Header

    /// Bytes a message of `payload` bytes takes in a frame's body: align8(8 + payload), as in a ring.
    @inlinable public static func recordSize(payload: Int) -> Int {
        RingLayout.recordSize(payloadLength: payload)
    }

    /// Parses `frame`: the header, then for DATA the records that fill the body.
    ///
    /// - Returns: the header and, for DATA, each payload's range in `frame`.
    /// - Throws: the first rule of SPEC.md §23.5 the frame breaks.
    public static func parse(_ frame: UnsafeRawBufferPointer) throws(FrameError) -> ParsedFrame {
        guard frame.count >= WireLayout.headerSize else { throw .truncated(size: frame.count) }
        let magic: UInt32 = load(frame, H.magic.offset)
        guard magic == WireLayout.magic else { throw .badMagic(magic) }
        let version: UInt16 = load(frame, H.wireVersion.offset)
        guard version == WireLayout.version else { throw .badVersion(version) }
        let rawKind: UInt16 = load(frame, H.kind.offset)
        guard let kind = FrameKind(rawValue: rawKind) else { throw .unknownKind(rawKind) }
        let flags: UInt32 = load(frame, H.flags.offset)
        guard flags == 0 else { throw .unknownFlags(flags) }
        let count: UInt32 = load(frame, H.count.offset)
        let bodyLength: UInt32 = load(frame, H.bodyLength.offset)
        let body = frame.count - WireLayout.headerSize
        guard Int(bodyLength) == body else { throw .lengthMismatch(declared: bodyLength, actual: body) }
        let header = FrameHeader(kind: kind, flags: flags, count: count, bodyLength: bodyLength,
                                 streamId: load(frame, H.streamId.offset),
                                 firstIndex: load(frame, H.firstIndex.offset),
                                 firstPosition: load(frame, H.firstPosition.offset))
        switch kind {
        case .data:
            return ParsedFrame(header: header, payloads: try records(frame, count: count))
        case .end:
            guard count == 0, body == 0 else { throw .unexpectedBody(kind: rawKind) }
            return ParsedFrame(header: header, payloads: [])
        case .hello, .ack, .heartbeat:
            // Their bodies belong to the bridge (a later part of SPEC.md §23); a transport
            // consumer ignores them after the header's checks.
            return ParsedFrame(header: header, payloads: [])
        }
    }

    /// The payload ranges of the records that fill a DATA frame's body, which must be
    /// exactly `count` (at least one) records of RECORD_KIND_MESSAGE.
    private static func records(_ frame: UnsafeRawBufferPointer, count: UInt32) throws(FrameError) -> [Range<Int>] {
        let end = frame.count
        var payloads: [Range<Int>] = []
        // A lying count must not size the array: a record takes at least 8 bytes.
        payloads.reserveCapacity(min(Int(count), (end - WireLayout.headerSize) / RingLayout.recordHeaderSize))
        var offset = WireLayout.headerSize
        while offset < end {
            let record = payloads.count
            guard end - offset >= RingLayout.recordHeaderSize else { throw .recordPastEnd(record: record, offset: offset) }
            let length: UInt32 = load(frame, offset)
            let recordKind: UInt32 = load(frame, offset + 4)
            guard recordKind == RingLayout.recordKindMessage else { throw .badRecordKind(record: record, kind: recordKind) }
            guard Int(length) <= WireLayout.maxMessageSize, recordSize(payload: Int(length)) <= end - offset else {
                throw .recordPastEnd(record: record, offset: offset)
            }
            let start = offset + RingLayout.recordHeaderSize
            payloads.append(start..<(start + Int(length)))
            offset += recordSize(payload: Int(length))
        }
        guard count > 0, payloads.count == Int(count) else { throw .countMismatch(declared: count, found: payloads.count) }
        return payloads
    }

    /// A little-endian integer at `offset` (the caller checked the bound).
    @inline(__always)
    private static func load<T: FixedWidthInteger>(_ frame: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: frame.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Writes `header` into the FRAME_HEADER_SIZE bytes at `to` (reserved as zero).
    public static func writeHeader(_ header: FrameHeader, to: UnsafeMutableRawPointer) {
        func put<T: FixedWidthInteger>(_ value: T, _ field: FieldLayout) {
            to.storeBytes(of: value.littleEndian, toByteOffset: field.offset, as: T.self)
        }
        put(WireLayout.magic, H.magic)
        put(WireLayout.version, H.wireVersion)
        put(header.kind.rawValue, H.kind)
        put(header.flags, H.flags)
        put(header.count, H.count)
        put(header.bodyLength, H.bodyLength)
        put(UInt32(0), H.reserved)
        put(header.streamId, H.streamId)
        put(header.firstIndex, H.firstIndex)
        put(header.firstPosition, H.firstPosition)
    }

    /// Writes one message record (length, RECORD_KIND_MESSAGE, payload, zero alignment
    /// bytes) at `to`, which has `recordSize(payload:)` bytes; returns that size.
    @discardableResult
    public static func writeRecord(_ payload: UnsafeRawBufferPointer, to: UnsafeMutableRawPointer) -> Int {
        let size = recordSize(payload: payload.count)
        to.storeBytes(of: UInt32(payload.count).littleEndian, as: UInt32.self)
        to.storeBytes(of: RingLayout.recordKindMessage.littleEndian, toByteOffset: 4, as: UInt32.self)
        if let base = payload.baseAddress, payload.count > 0 {
            (to + RingLayout.recordHeaderSize).copyMemory(from: base, byteCount: payload.count)
        }
        let padding = size - RingLayout.recordHeaderSize - payload.count
        if padding > 0 { (to + RingLayout.recordHeaderSize + payload.count).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
        return size
    }

    /// One whole frame as bytes: a DATA frame of `messages` (count = messages.count), or
    /// an END (or other kind) frame without a body when `messages` is empty. For tests,
    /// tools and other languages' golden frames; the producer writes into libzmq's buffer.
    public static func encode(kind: FrameKind, streamId: UInt64, firstIndex: UInt64, firstPosition: UInt64,
                              messages: [[UInt8]] = []) -> [UInt8] {
        let body = messages.reduce(0) { $0 + recordSize(payload: $1.count) }
        var bytes = [UInt8](repeating: 0, count: WireLayout.headerSize + body)
        bytes.withUnsafeMutableBytes { out in
            writeHeader(FrameHeader(kind: kind, count: UInt32(messages.count), bodyLength: UInt32(body),
                                    streamId: streamId, firstIndex: firstIndex, firstPosition: firstPosition),
                        to: out.baseAddress!)
            var offset = WireLayout.headerSize
            for m in messages {
                offset += m.withUnsafeBytes { writeRecord($0, to: out.baseAddress! + offset) }
            }
        }
        return bytes
    }
}
