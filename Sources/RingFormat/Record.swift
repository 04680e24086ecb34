// Record.swift - reading and writing record headers (SPEC.md §6). A record
// header read from the mapping is untrusted: it is loaded once into locals,
// checked against what was committed, and only then used.

/// A record located in the data region and checked.
struct LocatedRecord {
    /// Offset of the payload within the data region.
    let payloadOffset: Int
    /// Payload length in bytes.
    let length: Int
    /// Position just past this record (and any padding before it).
    let end: UInt64
}

enum RecordIO {
    @inline(__always)
    static func writeHeader(_ data: UnsafeMutableRawPointer, at offset: Int, length: UInt32, kind: UInt32) {
        data.storeBytes(of: length.littleEndian, toByteOffset: offset + RingLayout.Record.length.offset, as: UInt32.self)
        data.storeBytes(of: kind.littleEndian, toByteOffset: offset + RingLayout.Record.kind.offset, as: UInt32.self)
    }

    @inline(__always)
    static func readHeader(_ data: UnsafeMutableRawPointer, at offset: Int) -> (length: UInt32, kind: UInt32) {
        let length = UInt32(littleEndian: data.load(fromByteOffset: offset + RingLayout.Record.length.offset, as: UInt32.self))
        let kind = UInt32(littleEndian: data.load(fromByteOffset: offset + RingLayout.Record.kind.offset, as: UInt32.self))
        return (length, kind)
    }

    /// Locates the message record at `position`, skipping one padding record
    /// before it, given that everything below `committed` is committed.
    /// Requires position != committed. Throws `corrupt` for any header that
    /// no valid producer writes (SPEC.md §13).
    @inline(__always)
    static func locate(_ data: UnsafeMutableRawPointer, at position: UInt64, committed: UInt64,
                       geometry: RingGeometry) throws(RingError) -> LocatedRecord {
        var pos = position
        var offset = Int(truncatingIfNeeded: pos & geometry.mask)
        var (length, kind) = readHeader(data, at: offset)
        if kind == RingLayout.recordKindPadding {
            let toEnd = geometry.capacity - offset
            guard Int(length) == toEnd - RingLayout.recordHeaderSize else {
                throw .corrupt(.misplacedPadding(position: pos))
            }
            // SPEC.md §6.3: padding is committed together with the record after it.
            guard UInt64(toEnd) < committed &- pos else {
                throw .corrupt(.misplacedPadding(position: pos))
            }
            pos &+= UInt64(toEnd)
            offset = 0
            (length, kind) = readHeader(data, at: 0)
        }
        guard kind == RingLayout.recordKindMessage else {
            throw .corrupt(.badRecordKind(position: pos, kind: kind))
        }
        let len = Int(length)
        let size = RingLayout.recordSize(payloadLength: len)
        guard len <= geometry.maxMessageSize,
              UInt64(size) <= committed &- pos,
              offset + size <= geometry.capacity else {
            throw .corrupt(.badRecordLength(position: pos, length: length))
        }
        return LocatedRecord(payloadOffset: offset + RingLayout.recordHeaderSize, length: len,
                             end: pos &+ UInt64(size))
    }

    /// Size of the record (message or padding) at `position`, for the
    /// producer reclaiming it under overwrite-oldest. Returns (size, isMessage).
    static func reclaimable(_ data: UnsafeMutableRawPointer, at position: UInt64, committed: UInt64,
                            geometry: RingGeometry) throws(RingError) -> (size: Int, isMessage: Bool) {
        let offset = Int(truncatingIfNeeded: position & geometry.mask)
        let (length, kind) = readHeader(data, at: offset)
        if kind == RingLayout.recordKindPadding {
            let toEnd = geometry.capacity - offset
            guard Int(length) == toEnd - RingLayout.recordHeaderSize, UInt64(toEnd) < committed &- position else {
                throw .corrupt(.misplacedPadding(position: position))
            }
            return (toEnd, false)
        }
        guard kind == RingLayout.recordKindMessage else {
            throw .corrupt(.badRecordKind(position: position, kind: kind))
        }
        let size = RingLayout.recordSize(payloadLength: Int(length))
        guard Int(length) <= geometry.maxMessageSize, UInt64(size) <= committed &- position,
              offset + size <= geometry.capacity else {
            throw .corrupt(.badRecordLength(position: position, length: length))
        }
        return (size, true)
    }
}
