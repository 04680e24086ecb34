// WireLayout.swift - SPEC.md §23's constants and frame header, as named offsets.
//
//   0        4      6      8       12      16           20         24         32           40              48
//   +--------+------+------+-------+-------+------------+----------+----------+------------+---------------+------...
//   | magic  | wire | kind | flags | count | bodyLength | reserved | streamId | firstIndex | firstPosition | body
//   | "RNGW" | ver  |      |       |       |            |          |          |            |               |
//   +--------+------+------+-------+-------+------------+----------+----------+------------+---------------+------...

import RingFormat

/// The wire format of SPEC.md §23: one ZeroMQ message is one frame.
public enum WireLayout {
    /// WIRE_MAGIC: bytes 0..3 of every frame, "RNGW" read as a little-endian u32
    /// (a ring file starts "RING", so one is never taken for the other).
    public static let magic: UInt32 = 0x5747_4E52
    /// WIRE_VERSION: the wire version this specification defines.
    public static let version: UInt16 = 1
    /// FRAME_HEADER_SIZE: bytes before a frame's body.
    public static let headerSize = 48

    /// The frame header's fields (SPEC.md §23.2).
    public enum Header {
        /// WIRE_MAGIC.
        public static let magic = FieldLayout(offset: 0, size: 4)
        /// WIRE_VERSION.
        public static let wireVersion = FieldLayout(offset: 4, size: 2)
        /// The frame kind (FrameKind).
        public static let kind = FieldLayout(offset: 6, size: 2)
        /// Flag bits; none are defined in wire version 1 (a receiver drops a frame with any).
        public static let flags = FieldLayout(offset: 8, size: 4)
        /// DATA: how many message records the body holds (at least 1).
        public static let count = FieldLayout(offset: 12, size: 4)
        /// Bytes after the header: exactly the frame's size minus FRAME_HEADER_SIZE.
        public static let bodyLength = FieldLayout(offset: 16, size: 4)
        /// Written zero, ignored by receivers.
        public static let reserved = FieldLayout(offset: 20, size: 4)
        /// The sender's stream: a nonzero identity chosen once per stream.
        public static let streamId = FieldLayout(offset: 24, size: 8)
        /// DATA: the index of the first message (the stream's messages are numbered from 0);
        /// END: the index the next message would have had, that is how many were sent.
        public static let firstIndex = FieldLayout(offset: 32, size: 8)
        /// DATA: the stream position of the first message's record; END: the position after
        /// the last record.
        public static let firstPosition = FieldLayout(offset: 40, size: 8)

        /// Every header field with its SPEC.md name.
        public static let allFields: [(name: String, layout: FieldLayout)] = [
            ("magic", magic), ("wireVersion", wireVersion), ("kind", kind), ("flags", flags),
            ("count", count), ("bodyLength", bodyLength), ("reserved", reserved),
            ("streamId", streamId), ("firstIndex", firstIndex), ("firstPosition", firstPosition),
        ]
    }

    /// The largest payload a frame can carry (MAX_MESSAGE_SIZE_LIMIT, as in a ring).
    public static let maxMessageSize = RingLayout.maxMessageSizeLimit
    /// The largest body a frame can declare (bodyLength is a u32).
    public static let maxBodyLength = Int(UInt32.max)
}

/// What a frame is (the header's `kind`, SPEC.md §23.3).
public enum FrameKind: UInt16, Sendable, CaseIterable {
    /// Messages of the stream, in record encoding (this transport; the bridge too).
    case data = 1
    /// The sender ended its stream: no DATA follows from this streamId (this transport).
    case end = 2
    /// A bridge side introduces its stream and asks where to resume (the bridge, a later part).
    case hello = 3
    /// A bridge receiver acknowledges messages and grants credit (the bridge, a later part).
    case ack = 4
    /// A bridge side is alive (the bridge, a later part).
    case heartbeat = 5
}
