// Record.swift - record framing (SPEC.md §6) and the one parser of records.
// A record header read from the mapping is untrusted: it is loaded once, with
// a single 64-bit load, into locals, checked against what was committed, and
// only then used.
//
//     0        4        8                          8 + length   next multiple of 8
//     +--------+--------+---------------------------+-----------+
//     | length |  kind  | payload (length bytes)    | zeros     |
//     +--------+--------+---------------------------+-----------+
//       u32 LE   u32 LE
//
// A padding record (kind 2) fills the data region up to its end; it is
// committed together with the message record after it, at offset 0.
//
// In a ring with readers (1.1, SPEC.md §17.2) a message record's header is 16
// bytes: length, kind, then the message's index (u64); padding keeps 8 bytes.

import Atomics

/// A message record located in the data region and checked.
struct LocatedRecord {
    /// Position of the message record (after the padding record before it, if any).
    let start: UInt64
    /// Offset of the payload within the data region.
    let payloadOffset: Int
    /// Payload length in bytes.
    let length: Int
    /// Position just past this record (and any padding before it).
    let end: UInt64
    /// The message's index (rings with readers; 0 in a 1.0 ring), as loaded once.
    let index: UInt64
    /// Whether `index` is known: in a ring with producers only a claim's first message
    /// carries it (SPEC.md §18.3); the others have the index after the previous one.
    var indexKnown: Bool = true
    /// Whether the record ends its claim (rings with producers: kind 1, SPEC.md §18.3);
    /// always true elsewhere.
    var endsClaim: Bool = true

    /// A run of cancelled claims (or a filler) up to what was committed and no message
    /// after it (rings with producers, SPEC.md §18.6): consume up to `end`, deliver nothing.
    var isSkipOnly: Bool { length < 0 }

    /// A skip-only result ending at `end`.
    static func skipOnly(to end: UInt64) -> LocatedRecord {
        LocatedRecord(start: end, payloadOffset: 0, length: -1, end: end, index: 0, indexKnown: false)
    }
}

enum RecordIO {
    /// Writes a record header (length, then kind) at `offset` of the data region.
    @inline(__always)
    static func writeHeader(_ data: UnsafeMutableRawPointer, at offset: Int, length: UInt32, kind: UInt32) {
        data.storeBytes(of: length.littleEndian, toByteOffset: offset + RingLayout.Record.length.offset, as: UInt32.self)
        data.storeBytes(of: kind.littleEndian, toByteOffset: offset + RingLayout.Record.kind.offset, as: UInt32.self)
    }

    /// Writes a message's index after its length and kind (rings with readers).
    @inline(__always)
    static func writeIndex(_ data: UnsafeMutableRawPointer, at offset: Int, _ index: UInt64) {
        data.storeBytes(of: index.littleEndian, toByteOffset: offset + RingLayout.Record.index.offset, as: UInt64.self)
    }

    /// The index of the message record at `offset`, read with one relaxed 64-bit load.
    @inline(__always)
    static func readIndex(_ data: UnsafeMutableRawPointer, at offset: Int) -> UInt64 {
        UInt64(littleEndian: UInt64.AtomicRepresentation.atomicLoad(
            at: (data + offset + RingLayout.Record.index.offset).assumingMemoryBound(to: UInt64.AtomicRepresentation.self),
            ordering: .relaxed))
    }

    /// The record header at `offset` (a multiple of 8 inside the data region), read
    /// with one relaxed 64-bit load so that no compiler can read it twice (SPEC.md §6.1).
    @inline(__always)
    static func readHeader(_ data: UnsafeMutableRawPointer, at offset: Int) -> (length: UInt32, kind: UInt32) {
        let word = UInt64.AtomicRepresentation.atomicLoad(
            at: (data + offset).assumingMemoryBound(to: UInt64.AtomicRepresentation.self), ordering: .relaxed)
        let value = UInt64(littleEndian: word)
        return (UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32))
    }

    /// Parses the message record at `position`, skipping the one padding record
    /// that may stand before it, given that everything below `committed` is
    /// committed. Requires position != committed. Throws `corrupt` for any header
    /// that no valid producer writes (SPEC.md §13). The only record parser: the
    /// consumer, the reclaiming producer and stats all use it.
    @inline(__always)
    static func parse(_ data: UnsafeMutableRawPointer, at position: UInt64, committed: UInt64,
                      geometry: RingGeometry) throws(RingError) -> LocatedRecord {
        // Checked here as well as by callers: an unaligned offset would read past the region.
        guard position & UInt64(RingLayout.recordAlignment - 1) == 0 else {
            throw .corrupt(.misalignedPosition(position))
        }
        if geometry.hasProducers { return try parseShared(data, at: position, committed: committed, geometry: geometry) }
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
            // A padding record at offset 0 would cover the whole region: never valid.
            guard kind != RingLayout.recordKindPadding else {
                throw .corrupt(.misplacedPadding(position: pos))
            }
        }
        guard kind == RingLayout.recordKindMessage else {
            throw .corrupt(.badRecordKind(position: pos, kind: kind))
        }
        let len = Int(length)
        guard len <= geometry.maxMessageSize else {
            throw .corrupt(.badRecordLength(position: pos, length: length))
        }
        let size = geometry.recordSize(payloadLength: len)
        guard UInt64(size) <= committed &- pos, offset + size <= geometry.capacity else {
            throw .corrupt(.badRecordLength(position: pos, length: length))
        }
        // The index word is inside the checked record (size >= 16 with readers).
        let index = geometry.hasReaders ? readIndex(data, at: offset) : 0
        return LocatedRecord(start: pos, payloadOffset: offset + geometry.messageHeaderSize, length: len,
                             end: pos &+ UInt64(size), index: index)
    }

    /// `parse` in a ring with several producers (SPEC.md §18.6): first the control word as
    /// if a claim started at the position — a current CANCELLED skips the claim — then
    /// padding, fillers and messages of kind 1 or 4. The index is known only at a claim's
    /// start, from a PUBLISHED control word.
    @inline(never)
    static func parseShared(_ data: UnsafeMutableRawPointer, at position: UInt64, committed: UInt64,
                            geometry g: RingGeometry) throws(RingError) -> LocatedRecord {
        var pos = position
        // Each turn passes at least 8 bytes of what was committed.
        while true {
            if pos == committed { return .skipOnly(to: pos) }
            let w = Stamp.position(ofClaimAt: pos, g)
            let v = UInt64(littleEndian: UInt64.AtomicRepresentation.atomicLoad(
                at: (data + Int(truncatingIfNeeded: w & g.mask)).assumingMemoryBound(to: UInt64.AtomicRepresentation.self),
                ordering: .relaxed))
            var low: UInt64? = nil
            switch Stamp.read(v, at: w, claim: pos, g) {
            case .cancelled(let size):
                guard size >= UInt64(RingLayout.indexedRecordHeaderSize), size <= committed &- pos else {
                    throw .corrupt(.badClaim(position: pos))
                }
                pos &+= size
                continue
            case .published(let l):
                low = l
            default:
                break
            }
            var offset = Int(truncatingIfNeeded: pos & g.mask)
            var (length, kind) = readHeader(data, at: offset)
            if kind == RingLayout.recordKindFiller {
                // A filler ends a claim: pass over it; a new claim starts after it.
                let size = RingLayout.recordHeaderSize + Int(length)
                guard Int(length) & 7 == 0, UInt64(size) <= committed &- pos, offset + size <= g.capacity else {
                    throw .corrupt(.badRecordLength(position: pos, length: length))
                }
                pos &+= UInt64(size)
                continue
            }
            if kind == RingLayout.recordKindPadding {
                let toEnd = g.capacity - offset
                guard Int(length) == toEnd - RingLayout.recordHeaderSize, UInt64(toEnd) < committed &- pos else {
                    throw .corrupt(.misplacedPadding(position: pos))
                }
                pos &+= UInt64(toEnd)
                offset = 0
                (length, kind) = readHeader(data, at: 0)
            }
            guard kind == RingLayout.recordKindMessage || kind == RingLayout.recordKindMessageMore else {
                throw .corrupt(.badRecordKind(position: pos, kind: kind))
            }
            let len = Int(length)
            guard len <= g.maxMessageSize else { throw .corrupt(.badRecordLength(position: pos, length: length)) }
            let size = g.recordSize(payloadLength: len)
            guard UInt64(size) <= committed &- pos, offset + size <= g.capacity else {
                throw .corrupt(.badRecordLength(position: pos, length: length))
            }
            var index: UInt64 = 0
            if let low {
                // relaxed: loaded after the acquire load of producerPosition that covers this
                // claim; the publisher stored nextIndex before moving producerPosition.
                let next = UInt64.AtomicRepresentation.atomicLoad(
                    at: (data - g.headerSize + RingLayout.Header.nextIndex.offset)
                        .assumingMemoryBound(to: UInt64.AtomicRepresentation.self), ordering: .relaxed)
                index = Stamp.fullIndex(low: low, next: UInt64(littleEndian: next))
            }
            return LocatedRecord(start: pos, payloadOffset: offset + g.messageHeaderSize, length: len,
                                 end: pos &+ UInt64(size), index: index, indexKnown: low != nil,
                                 endsClaim: kind == RingLayout.recordKindMessage)
        }
    }
}
