// ReaderExports.swift - the several-readers functions of ringformat.h (format
// 1.1, SPEC.md §17; version node RINGFORMAT_1.1). A reader is a ring_consumer_t:
// every consumer function reads on its own cursor.

import CRingFormatHeader
import RingFormat

/// ring_reader_open
@_cdecl("ring_reader_open")
public func abiReaderOpen(_ ring: OpaquePointer?, _ options: UnsafePointer<ring_reader_options_t>?,
                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, static: "out is NULL") }
    out.pointee = nil
    var o = ReaderOptions()
    if let options {
        let given = options.pointee
        let knownSize = MemoryLayout<ring_reader_options_t>.size
        guard Int(given.size) >= knownSize, given.size <= 4096 else {
            return fail(Code.invalidArgument, static: "options.size is not sizeof(ring_reader_options_t): initialize with RING_READER_OPTIONS_INIT")
        }
        // A later caller's larger struct: what this library does not know must be zero.
        let extra = UnsafeRawBufferPointer(start: UnsafeRawPointer(options) + knownSize, count: Int(given.size) - knownSize)
        guard extra.allSatisfy({ $0 == 0 }) else {
            return fail(Code.invalidArgument, static: "options has non-zero fields this library does not know")
        }
        let known = UInt32(RING_READER_LAPPING | RING_READER_NEWEST)
        guard given.flags & ~known == 0 else { return fail(Code.invalidArgument, "unknown reader flags \(given.flags)") }
        o.gating = given.flags & UInt32(RING_READER_LAPPING) == 0
        o.start = given.flags & UInt32(RING_READER_NEWEST) != 0 ? .newest : .oldest
        o.gateTimeout = .milliseconds(Int64(given.gate_timeout_ms))
        if let name = given.name {
            // The bytes as given; a name that is not UTF-8 is refused rather than altered.
            guard let text = String(validatingCString: name) else {
                return fail(Code.invalidArgument, static: "the reader name is not UTF-8")
            }
            o.name = text
        }
    }
    let chosen = o
    return withRing(ring) { (ring) throws(RingError) in
        out.pointee = ConsumerHandle(try ring.makeReader(chosen)).retainedPointer()
    }
}

/// ring_reader_missed
@_cdecl("ring_reader_missed")
public func abiReaderMissed(_ pointer: OpaquePointer?, _ missed: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guard let missed else { return fail(Code.invalidArgument, static: "missed is NULL") }
    return withConsumer(pointer) { (c) throws(RingError) in missed.pointee = c.missedCount }
}

/// ring_reader_leave
@_cdecl("ring_reader_leave")
public func abiReaderLeave(_ pointer: OpaquePointer?) -> Int32 {
    withConsumer(pointer) { (c) throws(RingError) in
        guard c.readerSlot != nil else { throw .invalidArgument("ring_reader_leave: a consumer, not a reader") }
        c.leave()
    }
}

/// ring_readers
@_cdecl("ring_readers")
public func abiReaders(_ pointer: OpaquePointer?, _ infos: UnsafeMutablePointer<ring_reader_info_t>?,
                       _ capacity: Int, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let count else { return fail(Code.invalidArgument, static: "count is NULL") }
    guard capacity >= 0, capacity == 0 || infos != nil else { return fail(Code.invalidArgument, static: "infos is NULL") }
    count.pointee = 0
    return withRing(pointer) { (ring) throws(RingError) in
        let all = try ring.readers()
        count.pointee = all.count
        for (i, r) in all.prefix(capacity).enumerated() {
            var info = ring_reader_info_t()
            info.slot = UInt32(r.slot)
            info.flags = (r.isGating ? UInt32(RING_READER_INFO_GATING) : 0)
                | (r.isDurable ? UInt32(RING_READER_INFO_DURABLE) : 0) | (r.isLive ? UInt32(RING_READER_INFO_LIVE) : 0)
            info.cursor = r.cursor
            info.lag_bytes = r.lagBytes
            info.missed_count = r.missedCount
            withUnsafeMutableBytes(of: &info.name) { raw in
                let bytes = Array((r.name ?? "").utf8.prefix(raw.count - 1))
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            infos![i] = info
        }
    }
}
