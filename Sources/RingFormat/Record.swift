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
}
